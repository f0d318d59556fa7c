"""The reference S4D layer formulation, kept only as a benchmark baseline.

This re-states the published minimal S4D layer (state-spaces/s4, ``models/s4/s4d.py``):
the kernel from an einsum over an explicit ``(H, N/2, L)`` complex Vandermonde tensor, FFT
convolution at ``2L``, the ``D`` skip, GELU, and a ``Conv1d(H, 2H) + GLU`` output mixing, in the
reference's native ``(B, H, L)`` layout. The package's own layer never uses it.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ReferenceS4DKernel(nn.Module):
    def __init__(self, H: int, N: int = 64, dt_min: float = 1e-3, dt_max: float = 1e-1):
        super().__init__()
        log_dt = torch.rand(H) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)
        self.C = nn.Parameter(torch.view_as_real(torch.randn(H, N // 2, dtype=torch.cfloat)))
        self.log_A_real = nn.Parameter(torch.log(0.5 * torch.ones(H, N // 2)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(N // 2).repeat(H, 1).float())

    def forward(self, L: int) -> torch.Tensor:
        dt = torch.exp(self.log_dt)
        C = torch.view_as_complex(self.C)
        A = -torch.exp(self.log_A_real) + 1j * self.A_imag
        dtA = A * dt.unsqueeze(-1)
        K = dtA.unsqueeze(-1) * torch.arange(L, device=A.device)  # (H, N/2, L)
        C = C * (torch.exp(dtA) - 1.0) / A
        return 2 * torch.einsum("hn, hnl -> hl", C, torch.exp(K)).real


class ReferenceS4D(nn.Module):
    """Input and output ``(B, H, L)``."""

    def __init__(self, H: int, N: int = 64):
        super().__init__()
        self.D = nn.Parameter(torch.randn(H))
        self.kernel = ReferenceS4DKernel(H, N)
        self.activation = nn.GELU()
        self.output_linear = nn.Sequential(nn.Conv1d(H, 2 * H, kernel_size=1), nn.GLU(dim=-2))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        L = u.size(-1)
        k = self.kernel(L)
        k_f = torch.fft.rfft(k, n=2 * L)
        u_f = torch.fft.rfft(u, n=2 * L)
        y = torch.fft.irfft(u_f * k_f, n=2 * L)[..., :L]
        y = y + u * self.D.unsqueeze(-1)
        return self.output_linear(self.activation(y))
