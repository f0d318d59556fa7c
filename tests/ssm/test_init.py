"""Initialisations: spot values from the papers and the S4D-LegS ↔ S4-LegS limit."""

import math

import numpy as np
import pytest
import torch

from s4d_forecast.ssm import S4DKernel
from s4d_forecast.ssm.init import dfout_frequencies, hippo_legs, init_A_B, legs_normal


def test_lin_imaginary_parts_are_pi_n():
    A, B = init_A_B("lin", 64)
    np.testing.assert_allclose(A.imag, math.pi * np.arange(32), rtol=0, atol=1e-12)
    np.testing.assert_allclose(A.real, -0.5)
    np.testing.assert_allclose(B, 1.0)


def test_inv_spot_values():
    A, _ = init_A_B("inv", 64)
    assert A.imag[0] == pytest.approx(1283.4, abs=0.05)
    assert A.imag[-1] == pytest.approx(0.323, abs=5e-4)
    assert np.all(np.diff(A.imag) < 0)
    np.testing.assert_allclose(A.real, -0.5)


def test_legs_spot_values():
    A, B = init_A_B("legs", 64)
    assert A.shape == B.shape == (32,)
    np.testing.assert_allclose(A.real, -0.5, atol=1e-12)
    im = np.sort(np.abs(A.imag))
    np.testing.assert_allclose(im[:3], [0.264, 0.906, 1.703], atol=5e-4)
    assert im[-1] == pytest.approx(1303, abs=1.0)
    assert np.all(A.imag > 0)  # one of each conjugate pair


def test_legs_normal_part_is_minus_half_identity_plus_skew():
    An, _ = legs_normal(64)
    np.testing.assert_allclose(An + An.T, -np.eye(64), atol=1e-12)


def test_real_and_dss():
    A, B = init_A_B("real", 8)
    np.testing.assert_allclose(A, -(np.arange(4) + 1.0))
    A_dss, B_dss = init_A_B("dss", 64)
    A_legs, _ = init_A_B("legs", 64)
    np.testing.assert_allclose(A_dss, A_legs)  # Λ from the skew part of LegS
    np.testing.assert_allclose(B_dss, 1.0)


@pytest.mark.parametrize("N, expected", [(16, 0.42), pytest.param(2048, 0.0024,
                                                                   marks=pytest.mark.slow)])
def test_legs_diagonal_resolvent_approaches_s4_legs(N, expected):
    """S4D paper: (A_normal, B/2) approaches HiPPO-LegS (A, B) in the frequency domain."""
    z = 5j
    A, B = hippo_legs(N)
    An, _ = legs_normal(N)
    full = np.linalg.solve(z * np.eye(N) - A, B)[:4]
    diag = np.linalg.solve(z * np.eye(N) - An, B / 2)[:4]
    err = np.linalg.norm(diag - full) / np.linalg.norm(full)
    assert err == pytest.approx(expected, rel=0.05)


def test_legs_resolvent_error_shrinks_like_one_over_n():
    errs = []
    for N in (32, 64, 128, 256):
        A, B = hippo_legs(N)
        An, _ = legs_normal(N)
        full = np.linalg.solve(5j * np.eye(N) - A, B)[:4]
        diag = np.linalg.solve(5j * np.eye(N) - An, B / 2)[:4]
        errs.append(np.linalg.norm(diag - full) / np.linalg.norm(full))
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 1.6) & (ratios < 5.0)), ratios  # about 2 per doubling of N


def test_legs_B_is_projected_hippo_B():
    from s4d_forecast.ssm.init import legs_normal_eig

    w, V = legs_normal_eig(16)
    _, B = hippo_legs(16)
    A8, B8 = init_A_B("legs", 16)
    keep = np.argsort(w.imag)[8:]
    np.testing.assert_allclose(B8, (V.conj().T @ B)[keep])
    np.testing.assert_allclose(V @ np.diag(w) @ V.conj().T, legs_normal(16)[0], atol=1e-10)


def test_dfout_poles_on_the_dft_grid():
    torch.manual_seed(0)
    k = S4DKernel(4, 16, init="dfout").double()
    log_dA, _ = k.discretize(10)
    lam = torch.exp(log_dA).detach().numpy()
    np.testing.assert_allclose(np.angle(lam) % (2 * np.pi),
                               np.broadcast_to(2 * np.pi * np.arange(8) / 16, (4, 8)), atol=1e-12)
    xi = -2 * np.log(np.abs(lam))
    assert np.all((xi >= 1e-3 - 1e-12) & (xi <= 1e-1 + 1e-12))
    np.testing.assert_allclose(k.dt.numpy(), 1.0)
    # A is the log of the discrete pole
    np.testing.assert_allclose(np.exp(k.A.detach().numpy()), lam)


def test_dfout_phase_sync_and_full_circle():
    om = dfout_frequencies(8, 3, half_plane=True, phase_sync=True)
    np.testing.assert_allclose(om[1] - om[0], 2 * np.pi / (8 * 3))
    full = dfout_frequencies(8, 1, half_plane=False)
    np.testing.assert_allclose(full[0], 2 * np.pi * np.array([0, 2, 4, 6]) / 8)
