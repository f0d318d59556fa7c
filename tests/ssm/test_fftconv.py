"""fft_conv and chunked_recompute: exact values and gradients, whatever the chunking."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from s4d_forecast.ssm import S4D
from s4d_forecast.ssm.fftconv import batch_chunk, chunked_recompute, fft_conv


def _direct(x: np.ndarray, k: np.ndarray, n: int) -> np.ndarray:
    """y[b, l, h] = Σ_j k[h, j] x[b, (l - j) mod n, h], x zero-padded to n."""
    B, L, H = x.shape
    xp = np.zeros((B, n, H))
    xp[:, :L] = x
    y = np.zeros((B, L, H))
    for j in range(k.shape[1]):
        y += k[:, j] * np.roll(xp, j, axis=1)[:, :L]
    return y


@pytest.mark.parametrize("k_len", ["causal", "full"])
@pytest.mark.parametrize("chunk", [None, 1, 40])
def test_values_match_the_direct_sum(k_len, chunk):
    torch.manual_seed(0)
    B, L, H, n = 5, 20, 3, 48
    x = torch.randn(B, L, H, dtype=torch.float64)
    k = torch.randn(H, L if k_len == "causal" else n, dtype=torch.float64)
    got = fft_conv(x, k, n, chunk).numpy()
    np.testing.assert_allclose(got, _direct(x.numpy(), k.numpy(), n), atol=1e-12)


@pytest.mark.parametrize("keep_spectrum", [False, True])
@pytest.mark.parametrize("k_len", [7, 24])
@pytest.mark.parametrize("chunk", [None, 24])
def test_gradients_pass_gradcheck(k_len, chunk, keep_spectrum):
    torch.manual_seed(1)
    x = torch.randn(3, 8, 2, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, k_len, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: fft_conv(a, b, 24, chunk, keep_spectrum), (x, k))


@pytest.mark.parametrize("wants", [(True, False), (False, True)])
def test_keeping_the_spectrum_changes_no_gradient(wants):
    torch.manual_seed(5)
    x0, k0 = torch.randn(4, 10, 3), torch.randn(3, 10)
    g = torch.randn(4, 10, 3)
    grads = []
    for keep in (False, True):
        x, k = x0.clone().requires_grad_(wants[0]), k0.clone().requires_grad_(wants[1])
        fft_conv(x, k, 20, 2 * 10 * 3, keep).backward(g)
        grads.append(x.grad if wants[0] else k.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-6, atol=1e-6)


def test_only_requested_gradients_are_computed():
    x = torch.randn(2, 6, 3)
    k = torch.randn(3, 6, requires_grad=True)
    fft_conv(x, k, 12).sum().backward()
    assert x.grad is None and k.grad is not None


def test_low_precision_input_gets_a_gradient_of_its_dtype():
    x = torch.randn(2, 16, 4, dtype=torch.bfloat16, requires_grad=True)
    k = torch.randn(4, 16, requires_grad=True)
    y = fft_conv(x, k, 32)
    assert y.dtype == torch.float32
    y.sum().backward()
    assert x.grad.dtype == torch.bfloat16 and k.grad.dtype == torch.float32


def test_batch_chunk_fits_the_budget():
    cpu = torch.device("cpu")
    assert batch_chunk((64, 1000, 256), cpu, 1 << 20) == 4
    assert batch_chunk((8, 16384, 256), cpu, 1 << 20) == 1  # one row is over: still one row
    assert batch_chunk((2, 10, 4), cpu, 1 << 20) == (1 << 20) // 40  # ≥ B: one piece
    assert batch_chunk((64, 1000, 256), cpu, None) == 1  # CPU default 2^18 < one row


def _mix(lin, mask):
    def fn(z, rows):
        h = F.gelu(z) * mask[rows]
        return F.glu(lin(h), dim=-1)
    return fn


@pytest.mark.parametrize("chunk", [None, 4, 8 * 5])
def test_chunked_recompute_equals_plain_autograd(chunk):
    torch.manual_seed(2)
    lin = torch.nn.Linear(4, 8).double()
    mask = (torch.rand(6, 1, 4) > 0.3).double() / 0.7
    x = torch.randn(6, 5, 4, dtype=torch.float64, requires_grad=True)
    g = torch.randn(6, 5, 4, dtype=torch.float64)
    plain = _mix(lin, mask)(x, slice(None))
    want = torch.autograd.grad(plain, [x, *lin.parameters()], g)
    got_y = chunked_recompute(_mix(lin, mask), x, list(lin.parameters()), chunk)
    got = torch.autograd.grad(got_y, [x, *lin.parameters()], g)
    torch.testing.assert_close(got_y, plain, rtol=0, atol=1e-14)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_chunked_recompute_replays_autocast():
    lin = torch.nn.Linear(4, 8)
    x = torch.randn(3, 5, 4, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = chunked_recompute(lambda z, rows: lin(z), x, list(lin.parameters()), 5 * 4)
    assert y.dtype == torch.bfloat16
    y.float().sum().backward()
    assert x.grad.dtype == torch.float32 and lin.weight.grad.dtype == torch.float32
    # the same gradients as autocast with plain autograd, up to bf16 rounding (each chunk's
    # weight gradient is a bf16 matmul output, ulp 1/64 at these magnitudes; the chunks are
    # summed in float32)
    w_grad = lin.weight.grad.clone()
    lin.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y2 = lin(x)
    y2.float().sum().backward()
    torch.testing.assert_close(w_grad, lin.weight.grad, rtol=0, atol=2 ** -5)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_outputs_and_gradients_do_not_depend_on_the_chunking(bidirectional):
    """Chunk size and recomputing the mixing (or keeping its intermediates) change nothing."""
    x = torch.randn(6, 40, 8, dtype=torch.float64)
    results = []
    for chunk, recompute in ((None, None), (40 * 8, True), (2 * 40 * 8 + 1, True),
                             (40 * 8, False)):
        torch.manual_seed(3)
        layer = S4D(8, 16, bidirectional=bidirectional, dropout=0.2,
                    chunk_elements=chunk, recompute=recompute).double().train()
        torch.manual_seed(4)  # the same dropout masks
        xi = x.clone().requires_grad_(True)
        y = layer(xi)
        y.pow(2).sum().backward()
        results.append([y, xi.grad] + [p.grad for p in layer.parameters()])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("recompute", [True, False])
def test_double_backward_is_refused_not_silently_wrong(recompute):
    layer = S4D(4, 8, recompute=recompute, chunk_elements=16 * 4)
    x = torch.randn(2, 16, 4, requires_grad=True)
    # the FFT convolution's and the chunk-wise recomputation's gradients are not themselves
    # differentiable: asking for a second derivative raises instead of returning a wrong
    # (zero) one
    (g,) = torch.autograd.grad(layer(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="does not require grad|once_differentiable"):
        g.sum().backward()
    weight = torch.ones(2, 16, 4, requires_grad=True)  # a differentiable incoming gradient
    (g,) = torch.autograd.grad(layer(x), x, weight, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        g.sum().backward()
