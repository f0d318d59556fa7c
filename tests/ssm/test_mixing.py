"""glu_mix: the S4D layer's output mixing with a hand-written backward, against autograd."""

import pytest
import torch
import torch.nn.functional as F

from s4d_forecast.ssm import S4D, mixing
from s4d_forecast.ssm.mixing import glu_mix, linear


def _plain(y, weight, bias, mask):
    a = F.gelu(y) if mask is None else F.gelu(y) * mask
    return F.glu(F.linear(a, weight, bias), dim=-1)


@pytest.mark.parametrize("with_mask", [False, True])
def test_values_and_gradients_match_plain_autograd_in_float32(with_mask):
    torch.manual_seed(0)
    B, L, H = 4, 30, 6
    weight, bias = torch.randn(2 * H, H), torch.randn(2 * H)
    mask = (torch.rand(B, 1, H) > 0.3).float() / 0.7 if with_mask else None
    y0, g = torch.randn(B, L, H), torch.randn(B, L, H)
    results = []
    for fn in (_plain, glu_mix):
        y, w, b = (t.clone().requires_grad_(True) for t in (y0, weight, bias))
        out = fn(y, w, b, mask)
        results.append([out, *torch.autograd.grad(out, [y, w, b], g)])
    for want, got in zip(*results):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_gradients_pass_gradcheck_in_float64():
    torch.manual_seed(1)
    y = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, dtype=torch.float64, requires_grad=True)
    mask = (torch.rand(2, 1, 3) > 0.3).double() / 0.7
    assert torch.autograd.gradcheck(lambda *a: glu_mix(*a, mask), (y, w, b))
    assert torch.autograd.gradcheck(lambda *a: glu_mix(*a), (y, w, b))


def test_frozen_weights_get_no_gradient_and_the_input_still_does():
    y = torch.randn(2, 4, 3, requires_grad=True)
    w, b = torch.randn(6, 3), torch.randn(6)
    glu_mix(y, w, b).sum().backward()
    assert y.grad is not None and torch.isfinite(y.grad).all()


def test_linear_without_onednn_falls_back_to_f_linear(monkeypatch):
    x, w, b = torch.randn(9, 4), torch.randn(5, 4), torch.randn(5)
    want = F.linear(x, w, b)
    torch.testing.assert_close(linear(x, w, b), want, rtol=1e-6, atol=1e-6)
    monkeypatch.setattr(mixing, "onednn_linear_available", lambda: False)
    torch.testing.assert_close(linear(x, w, b), want, rtol=0, atol=0)
    # non-contiguous operands (the transposed weight of the backward pass) are accepted
    torch.testing.assert_close(linear(x, w.t().contiguous().t(), None), x @ w.t(),
                               rtol=1e-6, atol=1e-6)


def test_switching_onednn_off_is_respected(monkeypatch):
    available = mixing.onednn_linear_available()  # checked (and cached) before patching
    calls = []
    real = torch.ops.mkldnn._linear_pointwise

    class Ops:
        @staticmethod
        def _linear_pointwise(*args):
            calls.append(1)
            return real(*args)

    monkeypatch.setattr(torch.ops, "mkldnn", Ops)
    x, w = torch.randn(6, 4), torch.randn(3, 4)
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)
    linear(x, w, None)
    assert calls == []
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", True)
    if available:
        linear(x, w, None)
        assert calls == [1]


def test_a_training_layer_uses_it_and_evaluation_does_not(monkeypatch):
    calls = []
    real = mixing.glu_mix

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr("s4d_forecast.ssm.layer.glu_mix", counting)
    layer = S4D(4, 8, dropout=0.1)
    x = torch.randn(2, 12, 4)
    layer(x).sum().backward()
    assert calls == [1]
    with torch.no_grad():
        layer.eval()(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast keeps the plain operators
        layer.train()(x)
    assert calls == [1]
