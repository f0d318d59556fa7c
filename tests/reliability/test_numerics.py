"""Numerical robustness of the SSM core: mixed precision, extreme dt, very long sequences."""

import numpy as np
import pytest
import torch
from data_sources import shared_path
from torch.utils._python_dispatch import TorchDispatchMode

from s4d_forecast.ssm import INITS, S4D, S4DEncoder, S4DKernel, ssm_param_groups


def _windows(series: np.ndarray, L: int, n: int, rng: np.random.Generator) -> torch.Tensor:
    starts = rng.integers(0, len(series) - L - 1, size=n)
    return torch.tensor(np.stack([series[s:s + L + 1] for s in starts]), dtype=torch.float32)


def _real_series() -> np.ndarray:
    path = shared_path("series", "heart_rate.csv")
    import pandas as pd

    values = pd.read_csv(path).select_dtypes("number").iloc[:, -1].to_numpy(np.float64)
    return ((values - values.mean()) / values.std()).astype(np.float32)


# 300 steps: the loss falls 4-5x (the same finite run as at 1000 steps, which took 3x longer;
# GradScaler's growth interval is 2000 steps, so neither length reaches a scale increase)
STEPS = 300


def _train(dtype: torch.dtype, data: np.ndarray | None, steps: int = STEPS) -> list[float]:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    enc = S4DEncoder(1, 8, n_layers=2, d_state=16, dropout=0.1)
    head = torch.nn.Linear(8, 1)
    params = torch.nn.ModuleList([enc, head])
    opt = torch.optim.AdamW(ssm_param_groups(params, lr=3e-3, weight_decay=0.01, ssm_lr=1e-3))
    scaler = torch.amp.GradScaler("cpu", enabled=dtype == torch.float16)
    losses = []
    for _ in range(steps):
        if data is None:
            x = torch.randn(4, 65).cumsum(-1) * 0.1  # random walks
        else:
            x = _windows(data, 64, 4, rng)
        inp, target = x[:, :-1, None], x[:, 1:, None]
        with torch.autocast("cpu", dtype=dtype):
            pred = head(enc(inp))
            loss = torch.nn.functional.mse_loss(pred.float(), target)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
        assert np.isfinite(losses[-1]), f"loss became {losses[-1]} at step {len(losses)}"
    for p in params.parameters():
        assert torch.isfinite(p).all()
    return losses


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("source", ["random", "real"])
def test_mixed_precision_training_stays_finite(dtype, source):
    data = _real_series() if source == "real" else None
    losses = _train(dtype, data)
    assert np.mean(losses[-100:]) < np.mean(losses[:100])  # and it learns something


@pytest.mark.parametrize("init", [i for i in INITS if i != "dfout"])
@pytest.mark.parametrize("dt", [1e-4, 1.0])
def test_extreme_dt(init, dt):
    import copy

    torch.manual_seed(1)
    k = S4DKernel(8, 32, init=init, dt_min=dt, dt_max=dt)
    K = k.kernel(4096)
    K.sum().backward()
    assert torch.isfinite(K).all()
    assert all(torch.isfinite(p.grad).all() for p in k.parameters())
    ref = copy.deepcopy(k).double().kernel(4096).detach()
    assert ((K.double() - ref).norm() / ref.norm()).item() < 1e-5


class _LargestTensor(TorchDispatchMode):
    """Records the largest tensor any op produces."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def test_length_65536_without_the_vandermonde_tensor():
    torch.manual_seed(2)
    B, H, N, L = 1, 8, 64, 65536
    layer = S4D(H, N)
    x = torch.randn(B, L, H)
    with _LargestTensor() as mode:
        y = layer(x)
        y.pow(2).mean().backward()
    assert torch.isfinite(y).all()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())
    # the reference materialises H·N/2·L complex numbers; the largest tensor here is an FFT
    # buffer of the input, B·H·n complex values (n = fft_len(2L)), 4x smaller at this shape
    from s4d_forecast.ssm.layer import fft_len

    assert mode.largest <= 2 * B * H * fft_len(2 * L), mode.largest
    assert mode.largest < H * (N // 2) * L, mode.largest
