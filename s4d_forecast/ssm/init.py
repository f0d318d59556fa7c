"""Initialisations of the diagonal state matrix ``A`` and input matrix ``B``.

Every function returns the ``N/2`` modes kept for a state of size ``N`` (one of each
conjugate pair; the kernel is ``2·Re`` of their sum). HiPPO matrices are built in float64.

References: Gu, Goel, Ré (2022), S4; Gu, Gupta, Goel, Ré (2022), On the Parameterization and
Initialization of Diagonal State Space Models (S4D-LegS/Inv/Lin/Real); Gupta, Gu, Berant
(2022), DSS; Solozabal et al. (2025), Uncovering the Spectral Bias in Diagonal State Space
Models, NeurIPS 2025, arXiv:2508.20441 (S4D-DFouT).
"""

from __future__ import annotations

import math

import numpy as np

INITS = ("legs", "inv", "lin", "real", "dss", "dfout")


def hippo_legs(N: int) -> tuple[np.ndarray, np.ndarray]:
    """The HiPPO-LegS matrices ``(A, B)`` of size ``N``, float64.

    ``A[n, k] = -sqrt(2n+1) sqrt(2k+1)`` for ``n > k``, ``-(n+1)`` on the diagonal, 0 above;
    ``B[n] = sqrt(2n+1)``.
    """
    q = np.arange(N, dtype=np.float64)
    r = np.sqrt(2 * q + 1)
    A = -np.tril(np.outer(r, r), k=-1) - np.diag(q + 1)
    return A, r.copy()


def legs_normal(N: int) -> tuple[np.ndarray, np.ndarray]:
    """The normal part of HiPPO-LegS, ``A + P Pᵀ`` with ``P[n] = sqrt(n + 1/2)``, and ``B``.

    Its diagonal is ``-1/2`` and its off-diagonal part is skew-symmetric, so
    ``A_normal + A_normalᵀ = -I``.
    """
    A, B = hippo_legs(N)
    P = np.sqrt(np.arange(N, dtype=np.float64) + 0.5)
    return A + np.outer(P, P), B


def legs_normal_eig(N: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition ``A_normal = V diag(w) V*`` of the LegS normal part.

    Returns all ``N`` eigenvalues ``w`` (real part exactly ``-1/2``) sorted by imaginary part
    and the unitary eigenvector matrix ``V`` (columns), both complex128.
    """
    A_normal, _ = legs_normal(N)
    S = A_normal + 0.5 * np.eye(N)  # the skew-symmetric part
    # S is real skew-symmetric, so -iS is Hermitian: its eigenvectors are unitary.
    w_im, V = np.linalg.eigh(-1j * S)
    return -0.5 + 1j * w_im, V


def _legs_modes(N: int) -> tuple[np.ndarray, np.ndarray]:
    """S4D-LegS: the ``N/2`` eigenvalues with positive imaginary part and ``B = V* B_legs``."""
    w, V = legs_normal_eig(N)
    _, B = hippo_legs(N)
    keep = np.argsort(w.imag)[N // 2 :]  # one of each conjugate pair (positive imaginary part)
    B_diag = V.conj().T @ B
    return w[keep], B_diag[keep]


def init_A_B(init: str, N: int) -> tuple[np.ndarray, np.ndarray]:
    """Continuous-time diagonal ``A`` and ``B`` (complex128, shape ``(N/2,)``) for one channel.

    Parameters
    ----------
    init : {"legs", "inv", "lin", "real", "dss"}
        - ``"legs"``: eigenvalues of the normal part of HiPPO-LegS, ``B = V*·sqrt(2n+1)``.
        - ``"inv"``: ``A = -1/2 + i (N/π)(N/(2n+1) - 1)``, ``B = 1``.
        - ``"lin"``: ``A = -1/2 + iπn``, ``B = 1``.
        - ``"real"``: ``A = -(n+1)``, ``B = 1`` (no imaginary part).
        - ``"dss"``: the DSS initialisation, ``Λ`` from the skew part of the LegS normal
          matrix (``Re = -1/2``), ``B = 1`` (DSS folds the input matrix into ``W = C``).

        ``"dfout"`` is parameterised in the discrete domain: see :func:`dfout_frequencies`.
    N : int
        State size counting conjugate pairs (even); ``N/2`` modes are returned.
    """
    n = np.arange(N // 2, dtype=np.float64)
    ones = np.ones(N // 2, dtype=np.complex128)
    if init == "legs":
        return _legs_modes(N)
    if init == "dss":
        A, _ = _legs_modes(N)
        return A, ones
    if init == "inv":
        return -0.5 + 1j * (N / math.pi) * (N / (2 * n + 1) - 1), ones
    if init == "lin":
        return -0.5 + 1j * math.pi * n, ones
    if init == "real":
        return -(n + 1) + 0j, ones
    raise ValueError(f"init={init!r} is not a continuous-time initialisation; accepted: "
                     f"{', '.join(repr(i) for i in INITS if i != 'dfout')}")


def dfout_frequencies(N: int, H: int, half_plane: bool = True,
                      phase_sync: bool = False) -> np.ndarray:
    """Pole angles ``ω[h, n]`` of S4D-DFouT on the discrete Fourier grid, shape ``(H, N/2)``.

    S4D-DFouT (Solozabal et al., 2025) places the discrete poles directly on the ``N``-point
    DFT grid, ``λ_n = exp(-ξ/2 + i·2πn/N)``, instead of deriving them from a continuous ``A``
    and a step ``dt``: the frequencies are not coupled to ``dt``.

    Parameters
    ----------
    half_plane : bool
        ``True``: the ``N/2`` stored poles take ``n = 0 … N/2-1`` (the upper half plane);
        with their conjugates they cover the full ``N``-point grid once.
        ``False``: they take every other grid point ``n = 0, 2, …, N-2`` around the whole
        circle, the placement of the complex (non conjugate-symmetric) formulation.
    phase_sync : bool
        Add the per-channel offset ``φ_h = 2πh/(N·H)``, which interleaves the channels' grids
        so that together the ``H`` channels sample the circle ``H`` times more finely (the
        paper's layer-wise synchronisation).
    """
    n = np.arange(N // 2, dtype=np.float64)
    if not half_plane:
        n = 2 * n
    omega = np.broadcast_to(2 * math.pi * n / N, (H, N // 2)).copy()
    if phase_sync:
        omega += 2 * math.pi * np.arange(H, dtype=np.float64)[:, None] / (N * H)
    return omega
