"""S4D layer and encoder: convolution = recurrence, chunking, causality, gradients."""

import numpy as np
import pytest
import torch

from s4d_forecast.ssm import DISCS, INITS, S4D, S4DEncoder
from s4d_forecast.ssm.layer import fft_len

PAIRS = [(i, d) for i in INITS for d in DISCS if not (i == "dfout" and d != "zoh")]


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def _stream(module, x):
    state = module.default_state(x.shape[0])
    ys = []
    for t in range(x.shape[1]):
        y, state = module.step(x[:, t], state)
        ys.append(y)
    return torch.stack(ys, dim=1), state


@pytest.mark.parametrize("init, disc", PAIRS)
def test_layer_convolution_equals_step(init, disc):
    torch.manual_seed(0)
    L = 256
    layer = S4D(8, 16, init=init, disc=disc, l_max=L if disc == "dss" else None).eval()
    x = torch.randn(3, L, 8)
    y_conv = layer(x)
    y_step, _ = _stream(layer, x)
    assert _rel(y_step, y_conv) <= 1e-4


@pytest.mark.parametrize("init", ["legs", "dfout"])
def test_encoder_convolution_equals_step(init):
    torch.manual_seed(1)
    enc = S4DEncoder(3, 16, n_layers=3, d_state=16, init=init, dropout=0.1).eval()
    x = torch.randn(2, 300, 3)
    y_step, _ = _stream(enc, x)
    assert _rel(y_step, enc(x)) <= 1e-4


@pytest.mark.parametrize("prenorm", [True, False])
def test_chunked_forward_equals_one_pass(prenorm):
    torch.manual_seed(2)
    enc = S4DEncoder(4, 8, n_layers=2, d_state=32, prenorm=prenorm).eval()
    x = torch.randn(2, 500, 4)
    full, full_state = enc(x, return_state=True)
    state, outs = enc.default_state(2), []
    for chunk in torch.split(x, [120, 1, 250, 129], dim=1):
        y, state = enc(chunk, state=state, return_state=True)
        outs.append(y)
    assert _rel(torch.cat(outs, dim=1), full) <= 1e-4
    for s, f in zip(state, full_state):
        assert _rel(s, f) <= 1e-4
    _, streamed = _stream(enc, x)
    for s, f in zip(streamed, full_state):
        assert _rel(s, f) <= 1e-4


def test_step_continues_a_forward_pass():
    torch.manual_seed(3)
    layer = S4D(4, 8).eval()
    x = torch.randn(1, 64, 4)
    _, state = layer(x[:, :40], return_state=True)
    ys = []
    for t in range(40, 64):
        y, state = layer.step(x[:, t], state)
        ys.append(y)
    assert _rel(torch.stack(ys, 1), layer(x)[:, 40:]) <= 1e-4


@pytest.mark.parametrize("init", INITS)
def test_causality(init):
    torch.manual_seed(4)
    # float64, so that FFT round-off from large future inputs stays far below the tolerance
    enc = S4DEncoder(2, 8, n_layers=2, d_state=16, init=init).double().eval()
    x = torch.randn(1, 128, 2, dtype=torch.float64)
    x2 = x.clone()
    t = 70
    x2[:, t + 1:] = torch.randn_like(x2[:, t + 1:]) * 10
    y, y2 = enc(x), enc(x2)
    torch.testing.assert_close(y[:, : t + 1], y2[:, : t + 1], rtol=0, atol=1e-10)
    assert (y[:, t + 1:] - y2[:, t + 1:]).abs().max() > 1e-3


def test_bidirectional_matches_direct_convolution():
    torch.manual_seed(5)
    layer = S4D(3, 8, bidirectional=True).double().eval()
    L = 50
    x = torch.randn(2, L, 3, dtype=torch.float64)
    K = layer.kernel.kernel(L)
    Kf, Kb, D = K[:3].detach().numpy(), K[3:].detach().numpy(), layer.D.detach().numpy()
    u = x.transpose(1, 2).numpy()
    ref = np.zeros_like(u)
    for t in range(L):
        for s in range(L):
            if s <= t:
                ref[:, :, t] += Kf[:, t - s] * u[:, :, s]
            else:
                ref[:, :, t] += Kb[:, s - t - 1] * u[:, :, s]
    ref += D[:, None] * u
    got = layer._convolve(x, K).transpose(1, 2).detach().numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)
    # anti-causal: a change in the future moves the past
    x2 = x.clone()
    x2[:, -1] += 1.0
    assert (layer(x2)[:, 0] - layer(x)[:, 0]).abs().max() > 0


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("log_dt", [np.log(1e-3), np.log(1e-1)])
def test_gradients_reach_every_parameter_and_stay_finite(init, log_dt):
    torch.manual_seed(6)
    enc = S4DEncoder(2, 4, n_layers=1, d_state=64, init=init, bidirectional=True)
    if init != "dfout":
        for b in enc.blocks:
            b.layer.kernel.log_dt.data.fill_(float(log_dt))
    x = torch.randn(2, 16384, 2)
    y = enc(x)
    y.pow(2).mean().backward()
    assert torch.isfinite(y).all()
    for name, p in enc.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_tied_dropout_shares_mask_over_time():
    torch.manual_seed(7)
    layer = S4D(16, 8, dropout=0.5).train()
    y = layer.dropout(torch.ones(4, 30, 16))
    zero_cols = (y == 0).all(dim=1)
    assert zero_cols.any() and ((y == 0).any(dim=1) == zero_cols).all()


def test_autocast_bf16_forward_backward():
    torch.manual_seed(8)
    enc = S4DEncoder(3, 8, n_layers=2, d_state=16)
    x = torch.randn(2, 200, 3)
    ref = enc(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = enc(x)
    y.float().pow(2).mean().backward()
    assert torch.isfinite(y).all()
    assert _rel(y.float(), ref) < 0.05


def test_fft_len_is_an_even_small_odd_part_times_a_power_of_two():
    from s4d_forecast.ssm.layer import FFT_ODD_PARTS

    def allowed(c):
        if c % 2:
            return False
        while c % 2 == 0:
            c //= 2
        return c in FFT_ODD_PARTS

    for n in [2, 3, 7, 48, 208, 374, 730, 2000, 2001, 6250, 8000, 32768, 32769]:
        m = fft_len(n)
        assert m == next(c for c in range(n, 4 * n) if allowed(c)), (n, m)
    # lengths with a large odd part were up to 3x slower (benchmarks/fft_sizes.py)
    assert fft_len(374) == 384 and fft_len(730) == 768 and fft_len(6250) == 8192
    assert fft_len(1) == 1


@pytest.mark.parametrize("pool, shape", [(None, (2, 30, 8)), ("mean", (2, 8)), ("last", (2, 8))])
def test_pooling(pool, shape):
    torch.manual_seed(10)
    enc = S4DEncoder(3, 8, n_layers=2, d_state=8, pool=pool).eval()
    seq = S4DEncoder(3, 8, n_layers=2, d_state=8, pool=None).eval()
    seq.load_state_dict(enc.state_dict())  # the same weights, unpooled
    x = torch.randn(2, 30, 3)
    y, h = enc(x), seq(x)
    assert y.shape == shape
    expected = {None: h, "mean": h.mean(dim=1), "last": h[:, -1]}[pool]
    torch.testing.assert_close(y, expected)
    # "last" is what streaming step by step ends with; "mean" weighs every step alike
    streamed, _ = _stream(seq, x)
    assert _rel(streamed[:, -1], h[:, -1]) <= 1e-4
    assert not torch.allclose(h[:, 0], h[:, -1])  # a pooling that picked any step would fail


def test_step_cache_follows_parameter_updates():
    torch.manual_seed(9)
    layer = S4D(4, 8).eval()
    x = torch.randn(2, 4)
    with torch.no_grad():
        y1, _ = layer.step(x, layer.default_state(2))
        layer.kernel.log_dt.add_(0.5)  # in place, as an optimiser would
        y2, _ = layer.step(x, layer.default_state(2))
        y_conv = layer(x.unsqueeze(1))[:, 0]
    assert not torch.allclose(y1, y2)
    torch.testing.assert_close(y2, y_conv, rtol=1e-4, atol=1e-5)


def test_stream_command_reports_agreement(capsys):
    from s4d_forecast.cli import main

    assert main(["stream", "--length", "200", "--d-model", "8", "--d-state", "16"]) == 0
    out = capsys.readouterr().out
    assert "relative difference step vs convolution" in out and "samples/s" in out
