"""The kernel equals the explicit recurrence and scipy's discretisations."""

import numpy as np
import pytest
import torch
from scipy.signal import cont2discrete

from s4d_forecast.ssm import DISCS, INITS, S4DKernel

PAIRS = [(i, d) for i in INITS for d in DISCS if not (i == "dfout" and d != "zoh")]


def _system(k: S4DKernel):
    """Continuous (A, B, C, dt) of a float64 kernel as numpy arrays."""
    return (k.A.detach().numpy(), k.B.detach().numpy(), k.C.detach().numpy(),
            k.dt.detach().numpy())


def _recurrence_kernel(k: S4DKernel, L: int) -> np.ndarray:
    """Impulse response of the conjugate-augmented N-dim discrete system, by repeated steps."""
    A, B, C, dt = _system(k)
    H = A.shape[0]
    K = np.zeros((H, L))
    for h in range(H):
        a, b, c, s = A[h], B[h], C[h], dt[h]
        if k.disc == "bilinear":
            dA = (1 + s * a / 2) / (1 - s * a / 2)
            dB = s / (1 - s * a / 2) * b
        else:
            dA = np.exp(s * a)
            dB = (np.exp(s * a) - 1) / a * b
            if k.disc == "dss":  # DSS-softmax: C·B/A · exp(dtA·l) / Σ_{l<L} exp(dtA·l)
                dB = b / a / sum(np.exp(s * a * j) for j in range(L))
        dA_full = np.diag(np.concatenate([dA, dA.conj()]))
        x = np.concatenate([dB, dB.conj()])
        c_full = np.concatenate([c, c.conj()])
        for l in range(L):
            val = c_full @ x
            assert abs(val.imag) < 1e-9 * max(1.0, abs(val.real))
            K[h, l] = val.real
            x = dA_full @ x
    return K


@pytest.mark.parametrize("init, disc", PAIRS)
def test_kernel_equals_recurrence_float64(init, disc):
    torch.manual_seed(0)
    k = S4DKernel(3, 16, init=init, disc=disc, dt_min=1e-2, dt_max=0.5).double()
    L = 200
    K = k.kernel(L).detach().numpy()
    ref = _recurrence_kernel(k, L)
    assert np.linalg.norm(K - ref) / np.linalg.norm(ref) <= 1e-10


@pytest.mark.parametrize("L", [1, 2, 3, 17, 100, 1000, 1025])
def test_kernel_lengths(L):
    torch.manual_seed(1)
    k = S4DKernel(2, 8, init="lin").double()
    K = k.kernel(L)
    assert K.shape == (2, L)
    np.testing.assert_allclose(K.detach().numpy(), _recurrence_kernel(k, L), rtol=1e-9,
                               atol=1e-12)


def _real_block(a, b, c):
    """A complex mode x' = a x + b u, y = 2 Re(c x) as a real 2-state system."""
    A = np.array([[a.real, -a.imag], [a.imag, a.real]])
    B = np.array([[b.real], [b.imag]])
    C = 2 * np.array([[c.real, -c.imag]])
    return A, B, C


@pytest.mark.parametrize("init", ["legs", "inv", "lin", "real"])
@pytest.mark.parametrize("disc, method", [("zoh", "zoh"), ("bilinear", "bilinear")])
def test_discretisation_matches_scipy(init, disc, method):
    torch.manual_seed(2)
    k = S4DKernel(2, 6, init=init, disc=disc, dt_min=0.05, dt_max=0.5).double()
    A, B, C, dt = _system(k)
    log_dA, CdB = (t.detach().numpy() for t in k.discretize(10))
    dA, dB = np.exp(log_dA), CdB / C
    for h in range(2):
        for n in range(3):
            Ar, Br, Cr = _real_block(A[h, n], B[h, n], C[h, n])
            Ad, Bd, *_ = cont2discrete((Ar, Br, Cr, np.zeros((1, 1))), dt[h], method=method)
            Ad_ours, _, _ = _real_block(dA[h, n], dB[h, n], 0j)
            np.testing.assert_allclose(Ad_ours, Ad, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose([dB[h, n].real, dB[h, n].imag], Bd[:, 0], rtol=1e-10,
                                       atol=1e-12)


def test_kernel_runs_in_float32_under_autocast():
    k = S4DKernel(4, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        K = k.kernel(64)
    assert K.dtype == torch.float32
    torch.testing.assert_close(K, k.kernel(64))


def test_kernel_from_bf16_parameters_is_computed_in_float32():
    k = S4DKernel(4, 8).to(torch.bfloat16)
    K = k.kernel(32)
    assert K.dtype == torch.float32 and torch.isfinite(K).all()


def test_properties_follow_zoh_formula():
    torch.manual_seed(3)
    k = S4DKernel(3, 8, init="inv").double()
    A, B, C, dt = _system(k)
    assert np.all(A.real < 0)
    l = np.arange(50)
    expected = 2 * np.real(np.einsum("hn,hnl->hl", C * B * (np.exp(dt[:, None] * A) - 1) / A,
                                     np.exp(dt[:, None, None] * A[..., None] * l)))
    np.testing.assert_allclose(k.kernel(50).detach().numpy(), expected, rtol=1e-10, atol=1e-13)


def test_dt_log_uniform_in_range():
    torch.manual_seed(4)
    k = S4DKernel(2000, 2, dt_min=1e-3, dt_max=1e-1)
    log_dt = torch.log10(k.dt.detach())
    assert log_dt.min() >= -3 - 1e-6 and log_dt.max() <= -1 + 1e-6
    # log-uniform: each decade holds about half the channels
    assert 0.4 < (log_dt < -2).float().mean() < 0.6


def test_lr_zero_freezes_ssm_parameters():
    k = S4DKernel(2, 4, lr=0.0)
    assert [n for n, _ in k.named_parameters()] == ["C_ri"]
    assert k.ssm_parameters() == []


def test_dss_needs_l_max_to_stream():
    k = S4DKernel(2, 4, disc="dss")
    with pytest.raises(ValueError, match="l_max"):
        k.discretize(None)


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("N, L", [(64, 1000), (256, 4000), (64, 16384)])
def test_float32_kernel_matches_float64_formula(init, N, L):
    """The fast float32 kernel is within 1e-5 (relative) of the float64 formula."""
    import copy

    torch.manual_seed(5)
    k = S4DKernel(16, N, init=init)
    K = k.kernel(L)
    assert K.dtype == torch.float32
    ref = copy.deepcopy(k).double()
    A, B, C, dt = (t.detach() for t in (ref.A, ref.B, ref.C, ref.dt))
    dtA = dt[:, None] * A
    coef = C * B * torch.expm1(dtA) / A
    l = torch.arange(L, dtype=torch.float64)
    expected = torch.stack([  # explicit 2·Re Σ_n coef·exp(dtA·l), one channel at a time
        2 * (coef[h, :, None] * torch.exp(dtA[h, :, None] * l)).real.sum(0) for h in range(16)])
    err = (K.double() - expected).norm() / expected.norm()
    assert err <= 1e-5
