"""The ridge least-squares fit of S4DModel's linear path, from second moments.

The path regresses each window's normalised future ``Y`` (``O`` values) on its features ``X``
(the lookback minus its last value, the covariates, a constant; one row per window and target
component, or per window within a component's group). Trained by gradient descent from a
random start such a map needs many steps to settle, and on a short series never does; its
least-squares solution is available in closed form (Toner & Darlow, ICML 2024,
arXiv:2403.14587: closed-form linear models beat their gradient-trained versions in 72% of
their settings). The ridge penalty (:func:`ridge_solution`) is chosen from
:data:`RIDGE_GRID` by the MSE on held-out windows, each counted once:

- **cross-validation on the training windows**, cut into :data:`CV_FOLDS` contiguous blocks,
  each forecast by the fit of the others (moments add and subtract: one solve per fold, no
  pass over the data; valid for a model that regresses a series on its own lags, Bergmeir,
  Hyndman & Koo, CSDA 2018);
- **the validation windows**, when there are any, forecast by the fit of all training windows.

With fewer than two training windows and no validation windows the ridge is
:data:`DEFAULT_RIDGE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

#: Candidate ridge strengths, relative to the mean diagonal of ``X'X``.
RIDGE_GRID = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
#: Ridge strength used when there are no held-out windows to choose one.
DEFAULT_RIDGE = 1e-3
#: Contiguous blocks of the training windows for the cross-validated choice of the ridge.
CV_FOLDS = 5


@dataclass
class Moments:
    """Weighted second moments of ``(X, Y)`` rows, float64.

    Attributes
    ----------
    xx
        ``X'WX``, ``(L + 1, L + 1)``.
    xy
        ``X'WY``, ``(L + 1, O)``.
    yy
        ``sum(W * Y**2)`` over rows and horizon steps.
    n
        ``sum(W) * O``: the number of (weighted) forecast values.
    """

    xx: torch.Tensor
    xy: torch.Tensor
    yy: torch.Tensor
    n: torch.Tensor

    @classmethod
    def of(cls, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None):
        """Moments of one batch of rows: ``x`` ``(R, D)`` (last column the constant 1),
        ``y`` ``(R, O)``, ``weight`` ``(R,)``."""
        x, y = x.double(), y.double()
        w = (torch.ones(x.shape[0], dtype=torch.float64, device=x.device) if weight is None
             else weight.double())
        xw = x * w[:, None]
        return cls(xx=xw.T @ x, xy=xw.T @ y, yy=(w[:, None] * y * y).sum(),
                   n=w.sum() * y.shape[1])

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.xx + other.xx, self.xy + other.xy, self.yy + other.yy,
                       self.n + other.n)

    def __sub__(self, other: Moments) -> Moments:
        return Moments(self.xx - other.xx, self.xy - other.xy, self.yy - other.yy,
                       self.n - other.n)

    def sse(self, w: torch.Tensor) -> float:
        """Sum of squared errors of the forecasts ``X @ w`` over these rows (not below 0:
        float rounding of a near-perfect fit)."""
        return max(float(self.yy - 2 * (w * self.xy).sum() + (w * (self.xx @ w)).sum()), 0.0)

    def mse(self, w: torch.Tensor) -> float:
        """Mean squared error of the forecasts ``X @ w`` over these rows."""
        return self.sse(w) / float(self.n)


def fold_of(index: torch.Tensor, count: int, folds: int = CV_FOLDS) -> torch.Tensor:
    """Fold number, from 0 to ``folds - 1``, of each window ``index`` out of ``count``:
    contiguous blocks of (nearly) equal size, in the order of the dataset (time order within
    a series)."""
    return torch.div(index * min(folds, max(count, 1)), max(count, 1), rounding_mode="floor")


def ridge_solution(train: Moments, alpha: float, blocks: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """``(D, O)`` minimiser of ``|Y - Xw|^2 + alpha * sum_j s_j w_j^2`` over all but the last
    (constant) column, ``s_j`` the mean of ``diag(X'X)`` over column ``j``'s block
    (``blocks``: a block number per column but the last; default one block), so that the
    fit of c·y is c times the fit of y and a covariate's units do not change its penalty."""
    xx = train.xx
    diag = torch.diagonal(xx)[:-1]
    blocks = torch.zeros(len(diag), dtype=torch.long) if blocks is None else blocks
    blocks = blocks.to(diag.device)
    sums = torch.zeros(int(blocks.max()) + 1, dtype=xx.dtype, device=xx.device)
    counts = torch.zeros_like(sums)
    sums.index_add_(0, blocks, diag)
    counts.index_add_(0, blocks, torch.ones_like(diag))
    scale = (sums / counts)[blocks]
    # a block that is all zero (a constant series minus its last value) has no scale
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    # the weights get the ridge, every entry a relative jitter that keeps constant columns
    # from making the system singular; the (unshrunk) bias a jitter in its own units
    penalty = torch.cat([(alpha + 1e-12) * scale, 1e-12 * xx[-1, -1].clamp_min(1.0)[None]])
    system = xx + torch.diag(penalty)
    # solved with rows and columns scaled to unit diagonal: weights are in units of y², the
    # bias's entries are counts, and a series in millions would put twelve orders of
    # magnitude between them
    d = torch.diagonal(system).sqrt()
    return torch.linalg.solve(system / d[:, None] / d[None, :], train.xy / d[:, None]) / d[:, None]


def fit_linear(folds: Sequence[Moments], val: Moments | None,
               blocks: torch.Tensor | None = None) -> tuple[torch.Tensor, float, dict, dict]:
    """Ridge solution for the linear path, its strength chosen on held-out windows.

    Parameters
    ----------
    folds
        Moments of the training rows, one per contiguous block (:func:`fold_of`); their sum
        is the training set. Empty blocks (``n == 0``) are skipped.
    val
        Moments of the validation rows, or ``None``.
    blocks
        Block number of each feature column but the constant (see :func:`ridge_solution`).

    Returns
    -------
    w, alpha, scores, val_scores
        The ``(L + 1, O)`` solution of all training rows (last row: the bias), the ridge
        strength used, every candidate's held-out MSE (cross-validation and validation rows
        pooled; empty when nothing was held out) and its MSE on the validation rows alone
        (empty without them).
    """
    train = folds[0]
    for fold in folds[1:]:
        train = train + fold
    folds = [f for f in folds if float(f.n) > 0]
    if len(folds) < 2:
        folds = []
    has_val = val is not None and float(val.n) > 0
    if not folds and not has_val:
        return ridge_solution(train, DEFAULT_RIDGE, blocks), DEFAULT_RIDGE, {}, {}
    scores, val_scores, best = {}, {}, None
    for alpha in RIDGE_GRID:
        w = ridge_solution(train, alpha, blocks)
        sse = sum(f.sse(ridge_solution(train - f, alpha, blocks)) for f in folds)
        n = sum(float(f.n) for f in folds)
        if has_val:
            val_scores[alpha] = val.mse(w)
            sse, n = sse + val.sse(w), n + float(val.n)
        scores[alpha] = sse / n
        if best is None or scores[alpha] <= scores[best[1]]:  # ties: the stronger ridge
            best = (w, alpha)
    return best[0], best[1], scores, val_scores
