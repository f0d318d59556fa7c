"""S4D: one diagonal state space layer (FFT convolution for training, recurrence for streaming).

``y = GLU(W · dropout(GELU(K * u + D·u)))`` per channel, with ``K`` from :class:`S4DKernel`.
The recurrent view of the same map is

    s_k = dA ⊙ s_{k-1} + u_k,       y_k = 2·Re Σ_n (C·dB)_n s_{k,n} + D·u_k

with the modal state ``s`` of shape ``(B, H, N/2)`` (complex; ``dB`` is folded into ``C``
so the state is the raw sum of input-weighted powers ``Σ_j dA^j u_{k-j}``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from s4d_forecast._checks import check_bool, check_float, check_int, fail
from s4d_forecast.ssm.fftconv import RECOMPUTE, batch_chunk, chunked_recompute, fft_conv
from s4d_forecast.ssm.kernel import S4DKernel, power_blocks, vandermonde_real
from s4d_forecast.ssm.mixing import glu_mix

FFT_ODD_PARTS = (1, 3, 5, 9)


def fft_len(n: int) -> int:
    """Smallest ``m·2^k ≥ n`` with ``m`` in :data:`FFT_ODD_PARTS` and ``k ≥ 1`` (for ``n > 1``):
    an even length the real FFT transforms quickly (``benchmarks/fft_sizes.py``: a large odd
    part, e.g. ``375 = 3·5³``, costs up to 3× a nearby ``m·2^k``)."""
    if n <= 1:
        return 1
    return min(2 * m << (-(-n // (2 * m)) - 1).bit_length() for m in FFT_ODD_PARTS)


class TiedDropout(nn.Module):
    """Dropout whose mask is shared over time: zeroes whole channels of a ``(B, L, H)`` input."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = check_float("dropout", p, 0, 1, hi_open=True)

    def mask(self, x: torch.Tensor) -> torch.Tensor | None:
        """The scaled keep-mask ``(B, 1, ..., H)`` for ``x`` (None when inactive)."""
        if not self.training or self.p == 0.0:
            return None
        shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
        keep = torch.rand(shape, device=x.device) >= self.p
        return keep.to(x.dtype) / (1 - self.p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = self.mask(x)
        return x if mask is None else x * mask


def check_input(x, H: int, dtype: torch.dtype, check_finite: bool = False, name: str = "x",
                dims: int = 3, module: str = "layer") -> None:
    """``x`` must be a floating tensor ``(B, L, H)`` (``dims=3``, ``L >= 1``) or ``(B, H)`` of
    the module's ``dtype``; with ``check_finite`` also free of NaN/inf.

    Under ``torch.autocast`` lower precisions are accepted, float64 still is not: autocast
    never casts float64 tensors, and the mismatch would end in a raw matmul dtype error.
    """
    want = "(B, L, H)" if dims == 3 else "(B, H)"
    if not isinstance(x, torch.Tensor) or x.dim() != dims or x.shape[-1] != H \
            or (dims == 3 and x.shape[1] == 0) or not x.is_floating_point():
        got = (f"shape {tuple(x.shape)}, dtype {x.dtype}" if isinstance(x, torch.Tensor)
               else type(x).__name__)
        fail(name, f"a floating-point tensor {want} with H={H}"
             + (" and L >= 1" if dims == 3 else ""), got=got)
    autocast = torch.is_autocast_enabled(x.device.type)
    if x.dtype != dtype and (not autocast or torch.float64 in (x.dtype, dtype)):
        fail(name, f"of this S4D {module}'s dtype {dtype}: convert it with "
             f"{name}.to({dtype}) or the {module} with {module}.to({x.dtype})"
             + (" (torch.autocast does not cast float64)" if autocast else ""),
             got=f"dtype {x.dtype}")
    if check_finite:
        bad = ~torch.isfinite(x)
        if bad.any():
            first = tuple(int(i) for i in bad.nonzero()[0])
            where = ", ".join(f"{k} {i}" for k, i in zip(("batch", "step", "channel")
                                                         if dims == 3 else ("batch", "channel"),
                                                         first))
            fail(name, "free of NaN/inf (one would make every output of its sequence NaN: "
                 "fill or mask them first)", got=f"{int(bad.sum())} such values, the first "
                 f"at {where} ({x[first].item()})")


class S4D(nn.Module):
    """Diagonal state space layer, batch-first.

    Parameters
    ----------
    d_model : int
        Channels ``H``; each channel has its own SSM.
    d_state : int
        State size ``N`` (counting conjugate pairs).
    init, disc : str
        Initialisation and discretisation, see :class:`S4DKernel`.
    bidirectional : bool
        Add an anti-causal kernel (its own ``H`` SSMs) running backwards in time. Not causal,
        so :meth:`step` and states are unavailable.
    dropout : float
        Dropout after the activation, its mask tied over time.
    chunk_elements : int, optional
        The convolution and the output mixing run over the batch in chunks of at most this
        many activation elements (default per device:
        :data:`~s4d_forecast.ssm.fftconv.CHUNK_ELEMENTS`). Results do not depend on it.
    recompute : bool, optional
        Recompute the output mixing (three activations' worth) and the input's spectrum (two)
        chunk by chunk in the backward pass instead of keeping them; default per device
        (:data:`~s4d_forecast.ssm.fftconv.RECOMPUTE`). Results do not depend on it.
    check_finite : bool
        Refuse an input holding NaN/inf, naming the first bad position. Without it one NaN or
        inf makes *every* output of its sequence NaN (the convolution mixes all steps).
    **kernel_kwargs
        Passed to :class:`S4DKernel` (``dt_min``, ``dt_max``, ``lr``, ``l_max``, DFouT options).

    The input must have the layer's dtype (float32 unless converted, e.g. ``layer.double()``);
    under ``torch.autocast`` lower precisions are accepted, float64 is not (autocast never
    casts it).

    Examples
    --------
    >>> layer = S4D(d_model=8, d_state=16).eval()
    >>> x = torch.randn(2, 100, 8)
    >>> y = layer(x)                                  # (2, 100, 8)
    >>> state = layer.default_state(2)
    >>> y0, state = layer.step(x[:, 0], state)        # (2, 8): first output, streamed
    """

    def __init__(self, d_model: int, d_state: int = 64, init: str = "legs", disc: str = "zoh",
                 bidirectional: bool = False, dropout: float = 0.0,
                 chunk_elements: int | None = None, check_finite: bool = False,
                 recompute: bool | None = None, **kernel_kwargs):
        super().__init__()
        self.recompute = check_bool("recompute", recompute, none_ok=True)
        self.check_finite = check_bool("check_finite", check_finite)
        self.chunk_elements = check_int("chunk_elements", chunk_elements, 1, none_ok=True)
        d_model = check_int("d_model", d_model, 1)
        self.bidirectional = check_bool("bidirectional", bidirectional)
        self.kernel = S4DKernel(d_model * (2 if self.bidirectional else 1), d_state, init=init,
                                disc=disc, **kernel_kwargs)
        self.H, self.N = d_model, self.kernel.N
        self.D = nn.Parameter(torch.randn(d_model))
        self.activation = nn.GELU()
        self.dropout = TiedDropout(dropout)
        self.output_linear = nn.Linear(d_model, 2 * d_model)

    def _mix(self, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        z = self.activation(y)
        if mask is not None:
            z = z * mask
        return F.glu(self.output_linear(z), dim=-1)

    def _fused_mix(self, y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """:meth:`_mix` as one autograd function (:func:`~s4d_forecast.ssm.mixing.glu_mix`)
        when training outside autocast; the plain operators otherwise."""
        if (torch.is_grad_enabled() and not torch.is_autocast_enabled(y.device.type)
                and y.dtype == self.output_linear.weight.dtype):
            return glu_mix(y, self.output_linear.weight, self.output_linear.bias, mask)
        return self._mix(y, mask)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None,
                return_state: bool = False):
        """Apply the layer to ``x`` of shape ``(B, L, H)``.

        Parameters
        ----------
        state : complex tensor ``(B, H, N/2)``, optional
            State left by a previous call (or :meth:`default_state`): the output continues
            the sequence that produced it.
        return_state : bool
            Also return the state after the last step.

        Returns
        -------
        y : ``(B, L, H)``, or ``(y, state)`` if ``return_state``.
        """
        check_input(x, self.H, self.D.dtype, self.check_finite)
        if self.bidirectional and (state is not None or return_state):
            fail("state", "None for a bidirectional S4D layer (no recurrent state)",
                 got="a state")
        B, L, H = x.shape
        if state is not None:
            self._check_state(state, B)
        stateful = state is not None or return_state
        recompute = (self.recompute if self.recompute is not None
                     else RECOMPUTE.get(x.device.type, True))
        # Kernel and FFTs in float32 (float64 for a float64 model) even under autocast.
        with torch.autocast(device_type=x.device.type, enabled=False):
            log_dA, CdB = self.kernel.discretize(None if stateful else L)
            K = vandermonde_real(CdB, log_dA, L, self.kernel.compute_dtype)
            y = self._convolve(x, K, keep_spectrum=not recompute)  # (B, L, H)
            if state is not None:
                # contribution of the initial state: 2·Re Σ_n C·dB·dA^{k+1}·s_n
                y = y + vandermonde_real(CdB * torch.exp(log_dA) * state, log_dA, L,
                                         K.dtype).transpose(1, 2)
            new_state = (self._final_state(x.transpose(1, 2).to(K.dtype), log_dA, state)
                         if return_state else None)
        y = y.to(x.dtype)
        # GELU → dropout → Linear → GLU, recomputed chunk-wise in the backward pass when
        # asked (it would otherwise keep 3 activations' worth: the GELU output and the
        # 2H-wide Linear output); within a single chunk there is nothing to gain.
        mask = self.dropout.mask(y)
        if (not recompute or not torch.is_grad_enabled()
                or batch_chunk(y.shape, y.device, self.chunk_elements) >= B):
            y = self._fused_mix(y, mask)
        else:
            y = chunked_recompute(lambda y_c, rows: self._mix(y_c, None if mask is None
                                                               else mask[rows]),
                                  y, list(self.output_linear.parameters()),
                                  self.chunk_elements)
        return (y, new_state) if return_state else y

    def _convolve(self, x: torch.Tensor, K: torch.Tensor,
                  keep_spectrum: bool = False) -> torch.Tensor:
        """``K * u + D·u`` via FFT; ``x`` is ``(B, L, H)``, ``K`` is ``(H or 2H, L)``."""
        H, L = self.H, x.shape[1]
        n = fft_len(2 * L)
        D = self.D.to(K.dtype).unsqueeze(-1)
        k = torch.cat([K[:H, :1] + D, K[:H, 1:]], dim=-1)  # fold D into the kernel's tap 0
        if self.bidirectional:
            # the backward kernel sits at the end of the circular buffer: taps -1, -2, ...
            k = F.pad(k, (0, n - L)) + F.pad(K[H:].flip(-1), (n - L, 0))
        return fft_conv(x, k, n, self.chunk_elements, keep_spectrum)

    def _final_state(self, u: torch.Tensor, log_dA: torch.Tensor,
                     state: torch.Tensor | None) -> torch.Tensor:
        """``s_L = dA^L s_0 + Σ_j dA^{L-1-j} u_j`` without an ``(H, N/2, L)`` tensor."""
        B, H, L = u.shape
        outer, inner, T = power_blocks(log_dA, L)  # (H, N/2, M), (H, N/2, T)
        cdtype = torch.complex128 if u.dtype == torch.float64 else torch.complex64
        outer, inner, M = outer.to(cdtype), inner.to(cdtype), outer.shape[-1]
        v = F.pad(u.flip(-1), (0, M * T - L)).reshape(B, H, M, T)
        inner_t = inner.transpose(-1, -2)  # (H, T, N/2)
        acc = torch.complex(v @ inner_t.real, v @ inner_t.imag)  # (B, H, M, N/2)
        s = (acc * outer.transpose(-1, -2)).sum(-2)  # (B, H, N/2)
        if state is not None:
            s = s + torch.exp(log_dA * L).to(cdtype) * state
        return s

    @property
    def state_dtype(self) -> torch.dtype:
        """Complex dtype of the state: complex128 for a float64 layer, else complex64."""
        return (torch.complex128 if self.kernel.compute_dtype == torch.float64
                else torch.complex64)

    def _check_state(self, state, batch_size: int) -> None:
        """``state`` must be a complex tensor ``(B, H, N/2)`` of :attr:`state_dtype` (a wrong
        shape would broadcast silently, a complex128 state drift into a float32 layer)."""
        want = (batch_size, self.H, self.N // 2)
        if not isinstance(state, torch.Tensor) or state.shape != want \
                or state.dtype != self.state_dtype:
            got = (f"shape {tuple(state.shape)}, dtype {state.dtype}"
                   if isinstance(state, torch.Tensor) else type(state).__name__)
            fail("state", f"a {self.state_dtype} tensor of shape {want} = (B, H, N/2) (see "
                 "default_state)", got=got)

    def default_state(self, batch_size: int, device=None) -> torch.Tensor:
        """Zero state ``(batch_size, H, N/2)``, complex, for :meth:`step` or ``forward``."""
        if self.bidirectional:
            raise ValueError("a bidirectional S4D layer has no recurrent state")
        batch_size = check_int("batch_size", batch_size, 0)
        ref = self.kernel.log_A_real
        return torch.zeros(batch_size, self.H, self.N // 2, dtype=self.state_dtype,
                           device=device if device is not None else ref.device)

    def step(self, x_t: torch.Tensor, state: torch.Tensor):
        """One recurrent step: ``x_t`` ``(B, H)`` and state ``(B, H, N/2)`` → ``(y_t, state)``.

        O(N·H) per step, independent of how many steps came before. ``x_t`` must have the
        layer's dtype (as in ``forward``) and ``state`` be a complex tensor of
        :attr:`state_dtype` with the batch size of ``x_t``.
        """
        if self.bidirectional:
            raise ValueError("a bidirectional S4D layer has no recurrent state")
        check_input(x_t, self.H, self.D.dtype, self.check_finite, "x_t", dims=2)
        self._check_state(state, x_t.shape[0])
        with torch.autocast(device_type=x_t.device.type, enabled=False):
            dA, CdB = self.kernel.step_params()
            u = x_t.to(dA.real.dtype)
            state = dA * state + u.unsqueeze(-1)
            y = 2 * (CdB * state).real.sum(-1) + self.D.to(u.dtype) * u
        y = y.to(x_t.dtype)
        return self._mix(y, self.dropout.mask(y)), state
