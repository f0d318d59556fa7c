"""Memory-lean FFT convolution and chunked recomputation for the S4D layer.

Plain autograd through ``irfft(rfft(u)·rfft(k))`` keeps the input's spectrum (about twice the
activation) and allocates full-size buffers at once. :func:`fft_conv` processes the batch in
chunks, writes straight into the ``(B, L, H)`` layout, saves its input and the kernel's
spectrum and recomputes the input's spectrum in the backward pass (``keep_spectrum=True``, the
layer's choice on CPU, keeps it instead: one real FFT fewer per step). Its gradients are the
exact adjoints, circular correlations: ``irfft(G·conj(K))`` for the input and
``Σ_b irfft(G·conj(U))`` for the kernel. :func:`chunked_recompute` runs a batch-wise function
chunk by chunk and re-runs each chunk under autograd in the backward pass (activation
checkpointing: one extra forward for a smaller peak).
"""

from __future__ import annotations

import math

import torch
from torch.autograd.function import once_differentiable

# Chunk size in activation elements per device type (others get CUDA's): a chunk's temporaries
# (~10 activations) set the training peak, the number of chunks the launches (~40 each). CPU:
# 2^18, the fastest and leanest of 2^16..2^20 (docs/decisions/cpu_training_step.md); CUDA:
# 2^22, 4 chunks at B·L·H = 2^24 (2^20 peaks lower at 4x the launches).
CHUNK_ELEMENTS = {"cpu": 1 << 18, "cuda": 1 << 22}
# Whether S4D recomputes its output mixing in the backward pass: not on CPU (a layer's step at
# (B, L, H) = (256, 96, 64) took 47 instead of 39 ms), on CUDA for the training peak.
RECOMPUTE = {"cpu": False, "cuda": True}


def batch_chunk(shape: torch.Size | tuple[int, ...], device: torch.device,
                chunk_elements: int | None = None) -> int:
    """Batch rows per chunk: as many as fit in ``chunk_elements`` (at least one)."""
    budget = chunk_elements or CHUNK_ELEMENTS.get(device.type, CHUNK_ELEMENTS["cuda"])
    return max(1, budget // max(math.prod(shape[1:]), 1))


def _spectrum(x: torch.Tensor, dtype: torch.dtype, n: int) -> torch.Tensor:
    """``rfft`` over time of a ``(b, L, H)`` slice, as ``(b, H, n/2 + 1)`` in ``dtype``."""
    return torch.fft.rfft(x.transpose(1, 2).to(dtype), n=n)


class _FFTConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k, n, chunk_elements, keep_spectrum):
        B, L, H = x.shape
        k_f = torch.fft.rfft(k, n=n)  # (H, n/2 + 1)
        y = torch.empty(B, L, H, dtype=k.dtype, device=x.device)
        step = ctx.step = batch_chunk(x.shape, x.device, chunk_elements)
        keep = keep_spectrum and ctx.needs_input_grad[1]
        x_f = (torch.empty(B, H, n // 2 + 1, dtype=k_f.dtype, device=x.device) if keep
               else None)
        for b0 in range(0, B, step):
            u_f = _spectrum(x[b0:b0 + step], k.dtype, n)
            if keep:  # conjugated once here, as the kernel's gradient uses it
                torch.conj_physical(u_f, out=x_f[b0:b0 + step])
            y[b0:b0 + step] = torch.fft.irfft(u_f.mul_(k_f), n=n)[..., :L].transpose(1, 2)
        ctx.save_for_backward(x if x_f is None else None, x_f, k_f)
        ctx.n, ctx.k_len, ctx.x_shape, ctx.x_dtype = n, k.shape[-1], x.shape, x.dtype
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        x, x_f, k_f = ctx.saved_tensors
        n, (B, L, H) = ctx.n, ctx.x_shape
        want_x, want_k = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_x = (torch.empty(B, L, H, dtype=ctx.x_dtype, device=grad_y.device)
                  if want_x else None)
        acc_f = torch.zeros_like(k_f) if want_k else None
        step = ctx.step
        for b0 in range(0, B, step):
            sl = slice(b0, b0 + step)
            g_f = _spectrum(grad_y[sl], k_f.real.dtype, n)
            if want_k:
                if x_f is not None:
                    acc_f += (x_f[sl] * g_f).sum(0)
                else:
                    u_f = _spectrum(x[sl], k_f.real.dtype, n)
                    acc_f += u_f.conj_physical_().mul_(g_f).sum(0)
                    del u_f
            if want_x:
                gx = torch.fft.irfft(g_f.mul_(k_f.conj()), n=n)[..., :L]
                grad_x[sl] = gx.transpose(1, 2)
        grad_k = torch.fft.irfft(acc_f, n=n)[..., :ctx.k_len] if want_k else None
        return grad_x, grad_k, None, None, None


def fft_conv(x: torch.Tensor, k: torch.Tensor, n: int,
             chunk_elements: int | None = None, keep_spectrum: bool = False) -> torch.Tensor:
    """Per-channel circular convolution of zero-padded ``x`` with ``k``, first ``L`` outputs.

    Parameters
    ----------
    x : ``(B, L, H)``
        Input, any floating dtype (converted to ``k``'s dtype chunk by chunk).
    k : ``(H, L_k)``, real
        Kernel taps, ``L_k ≤ n``; taps at ``n - j`` act as anti-causal lag ``j``.
    n : int
        FFT length; ``n ≥ L + L_k - 1`` makes the convolution linear (non-circular).
    chunk_elements : int, optional
        Batch rows per chunk, counted in activation elements (see :func:`batch_chunk`).
    keep_spectrum : bool
        Keep the input's spectrum for the backward pass (about twice the input's memory)
        instead of recomputing it there: one real FFT fewer per training step.

    Returns
    -------
    ``(B, L, H)`` in ``k``'s dtype: ``y[b, l, h] = Σ_j k[h, j] · x[b, (l - j) mod n, h]``.
    """
    return _FFTConv.apply(x, k, n, chunk_elements, keep_spectrum)


class _ChunkedRecompute(torch.autograd.Function):
    @staticmethod
    def forward(ctx, fn, chunk_elements, x, *params):
        device = x.device.type
        ctx.fn, ctx.params = fn, params
        ctx.autocast = (torch.is_autocast_enabled(device), torch.get_autocast_dtype(device))
        ctx.save_for_backward(x)
        step = ctx.step = batch_chunk(x.shape, x.device, chunk_elements)
        out = None
        for b0 in range(0, x.shape[0], step):
            part = fn(x[b0:b0 + step], slice(b0, b0 + step))
            if out is None:
                out = part.new_empty((x.shape[0],) + part.shape[1:])
            out[b0:b0 + step] = part
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        (x,), params = ctx.saved_tensors, ctx.params
        want = ctx.needs_input_grad[3:]
        grad_x = torch.empty_like(x) if ctx.needs_input_grad[2] else None
        grads = [torch.zeros_like(p) if w else None for p, w in zip(params, want)]
        enabled, dtype = ctx.autocast
        step = ctx.step
        for b0 in range(0, x.shape[0], step):
            sl = slice(b0, b0 + step)
            x_c = x[sl].detach().requires_grad_(grad_x is not None)
            inputs = ([x_c] if grad_x is not None else []) + [
                p for p, w in zip(params, want) if w]
            with torch.enable_grad(), torch.autocast(x.device.type, dtype=dtype,
                                                     enabled=enabled):
                out = ctx.fn(x_c, sl)
            got = list(torch.autograd.grad(out, inputs, grad_out[sl]))
            if grad_x is not None:
                grad_x[sl] = got.pop(0)
            for i, w in enumerate(want):
                if w:
                    grads[i] += got.pop(0)
        return (None, None, grad_x, *grads)


def chunked_recompute(fn, x: torch.Tensor, params,
                      chunk_elements: int | None = None) -> torch.Tensor:
    """``fn(x)`` batch chunk by batch chunk, recomputed chunk-wise in the backward pass.

    Parameters
    ----------
    fn : callable
        ``fn(x[rows], rows)`` maps a batch slice (and the ``slice`` it came from) to an output
        whose first dimension is that slice's; it must act on each batch row independently
        and be deterministic (draw random masks outside and index them with ``rows``).
    x : tensor ``(B, ...)``
    params : sequence of tensors
        Every tensor ``fn`` uses that needs a gradient (its module's parameters).
    chunk_elements : int, optional
        As for :func:`fft_conv`.
    """
    return _ChunkedRecompute.apply(fn, chunk_elements, x, *params)
