"""The S4D layer's output mixing ``GLU(W · (GELU(y) ⊙ mask) + b)`` as one autograd function.

Plain autograd runs six operators and, on CPU, pays for what the arithmetic does not need: a
BLAS whose float32 path on some processors (AMD's) runs at under half oneDNN's rate, ``F.glu``
over strided halves (a several times slower backward), every intermediate saved.
:func:`glu_mix` computes the two halves as two matmuls with contiguous outputs, through oneDNN
where this PyTorch build has it (:func:`onednn_linear_available`), and writes its backward by
hand: for ``out = o1 · σ(o2)``,

    ∂o1 = g · σ(o2),        ∂o2 = g · o1 · σ(o2) · (1 − σ(o2)),

then the matmul's and the GELU's adjoints. Measured in ``docs/decisions/cpu_training_step.md``.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable


@functools.cache
def onednn_linear_available() -> bool:
    """Whether ``torch.ops.mkldnn._linear_pointwise`` (oneDNN's matmul) runs here and agrees
    with ``F.linear`` on a small float32 problem. Checked once per process."""
    try:
        if not torch.backends.mkldnn.is_available():
            return False
        op = torch.ops.mkldnn._linear_pointwise
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(7, 5, generator=gen)
        w = torch.randn(3, 5, generator=gen)
        b = torch.randn(3, generator=gen)
        got = op(x, w, b, "none", [], "")
        return bool(torch.allclose(got, F.linear(x, w, b), rtol=1e-5, atol=1e-5))
    except (AttributeError, RuntimeError):
        return False


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x @ weight.T + bias`` for 2-D ``x``: oneDNN for float32 CPU tensors when available
    and not switched off (``torch.backends.mkldnn.enabled = False`` or
    ``torch.backends.mkldnn.flags(enabled=False)``), ``F.linear`` otherwise. No autograd
    (callers write their own backward)."""
    if (x.device.type == "cpu" and x.dtype == torch.float32 and weight.dtype == torch.float32
            and torch.backends.mkldnn.enabled and onednn_linear_available()):
        return torch.ops.mkldnn._linear_pointwise(
            x.contiguous(), weight.contiguous(), None if bias is None else bias.contiguous(),
            "none", [], "")
    return F.linear(x, weight, bias)


class _GLUMix(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y, mask, weight, bias):
        B, L, H = y.shape
        a = F.gelu(y)
        if mask is not None:
            a.mul_(mask)
        a2 = a.view(B * L, H)
        o1 = linear(a2, weight[:H], bias[:H])
        s = linear(a2, weight[H:], bias[H:]).sigmoid_()
        ctx.save_for_backward(y, mask, a2, o1, s, weight)
        return (o1 * s).view(B, L, H)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        y, mask, a2, o1, s, weight = ctx.saved_tensors
        B, L, H = y.shape
        g = grad_out.reshape(B * L, H)
        g1 = g * s  # ∂o1
        g2 = g1 * o1
        g2.addcmul_(g2, s, value=-1.0)  # ∂o2 = g·o1·σ·(1 − σ)
        grad_y = grad_w = grad_b = None
        if ctx.needs_input_grad[2]:
            grad_w = torch.cat([g1.t() @ a2, g2.t() @ a2])
        if ctx.needs_input_grad[3]:
            grad_b = torch.cat([g1.sum(0), g2.sum(0)])
        if ctx.needs_input_grad[0]:
            grad_a = linear(g1, weight[:H].t(), None)
            grad_a += linear(g2, weight[H:].t(), None)
            grad_a = grad_a.view(B, L, H)
            if mask is not None:
                grad_a.mul_(mask)
            grad_y = torch.ops.aten.gelu_backward(grad_a, y)
        return grad_y, None, grad_w, grad_b


def glu_mix(y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
            mask: torch.Tensor | None = None) -> torch.Tensor:
    """``GLU(Linear(GELU(y) ⊙ mask))`` over the last axis, with a hand-written backward.

    Parameters
    ----------
    y : ``(B, L, H)``
        The SSM's output (float32 or float64; not under autocast).
    weight, bias : ``(2H, H)``, ``(2H,)``
        The ``nn.Linear(H, 2H)`` parameters; rows ``:H`` give GLU's value half, ``H:`` its gate.
    mask : ``(B, 1, H)``, optional
        Scaled dropout keep-mask applied after the GELU (no gradient flows to it).

    Returns
    -------
    ``(B, L, H)``: ``(a W₁ᵀ + b₁) · σ(a W₂ᵀ + b₂)`` with ``a = GELU(y) ⊙ mask``, equal to
    ``F.glu(F.linear(a, weight, bias))`` up to float rounding.
    """
    return _GLUMix.apply(y.contiguous(), mask, weight, bias)
