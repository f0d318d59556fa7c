"""``linear_init="ols"``: the linear path starts at the ridge least-squares fit.

The reference solutions are computed here with numpy from windows cut by hand, so the tests
fail if the module reads other windows, normalises them differently from ``forward`` or
solves another problem.
"""

from __future__ import annotations

import numpy as np
import pytest
from darts import TimeSeries
from darts.utils.likelihood_models import GaussianLikelihood, QuantileRegression
from forecasting_helpers import TINY, trainer_kwargs

from s4d_forecast import S4DModel
from s4d_forecast.forecasting import linear_fit

IN, OUT = 24, 6


def _values(n: int = 220, components: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    trend = 0.01 * t * (1 + np.arange(components))
    noise = 0.1 * rng.standard_normal((n, components))
    return (np.sin(t / 7 + np.arange(components)) + trend + noise).astype(np.float32)


def _rows(values: np.ndarray, normalization: str | None = "last"):
    """Every stride-1 window, one row per window and component: (X with a ones column, Y)."""
    xs, ys = [], []
    for i in range(len(values) - IN - OUT + 1):
        for c in range(values.shape[1]):
            x, y = values[i:i + IN, c].astype(float), values[i + IN:i + IN + OUT, c].astype(float)
            if normalization == "last":
                x, y = x - x[-1], y - x[-1]
            xs.append(np.r_[x, 1.0])
            ys.append(y)
    return np.array(xs), np.array(ys)


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    gram = x.T @ x
    scale = np.diag(gram)[:-1].mean()
    penalty = np.full(len(gram), alpha * scale + 1e-12 * scale)
    penalty[-1] = 1e-12 * gram[-1, -1]
    return np.linalg.solve(gram + np.diag(penalty), x.T @ y)


def _heldout_scores(x, y, components: int, xv=None, yv=None) -> dict:
    """Every candidate ridge's held-out MSE: the training rows (window by window, each with
    ``components`` rows) in ``linear_fit.CV_FOLDS`` contiguous blocks, counted as darts
    orders its windows (the last window first), each forecast by the fit of the others,
    pooled with the validation rows forecast by the fit of all training rows."""
    windows = len(x) // components
    order = windows - 1 - np.repeat(np.arange(windows), components)  # darts' window index
    fold = order * linear_fit.CV_FOLDS // windows
    scores = {}
    for alpha in linear_fit.RIDGE_GRID:
        sse = sum(np.sum((y[fold == k] - x[fold == k] @ _ridge(x[fold != k], y[fold != k],
                                                                 alpha)) ** 2)
                  for k in range(linear_fit.CV_FOLDS))
        count = y.size
        if xv is not None:
            sse += np.sum((yv - xv @ _ridge(x, y, alpha)) ** 2)
            count += yv.size
        scores[alpha] = sse / count
    return scores


def _choice(scores: dict) -> float:
    return min(scores, key=lambda a: (scores[a], -a))  # ties: the stronger ridge


def _model(**kwargs) -> S4DModel:
    kwargs = {"n_epochs": 1, "linear_init": "ols", "linear_lr": 0.0, "random_state": 0,
              **TINY, **trainer_kwargs(), **kwargs}
    return S4DModel(input_chunk_length=IN, output_chunk_length=OUT, **kwargs)


def _linear_path(model: S4DModel) -> tuple[np.ndarray, np.ndarray]:
    layer = model.model.lookback_skip
    return layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy()


@pytest.mark.parametrize("components", [1, 3])
def test_linear_path_starts_at_the_heldout_chosen_ridge_fit(components):
    values = _values(components=components)
    train, val = values[:160], values[160 - IN:]
    model = _model()
    model.fit(TimeSeries.from_values(train), val_series=TimeSeries.from_values(val),
              verbose=False)
    x, y = _rows(train)
    xv, yv = _rows(val)
    val_scores = {a: np.mean((yv - xv @ _ridge(x, y, a)) ** 2) for a in linear_fit.RIDGE_GRID}
    scores = _heldout_scores(x, y, components, xv, yv)
    info = model.model.linear_fit_info
    assert info["alpha"] == _choice(scores)
    assert info["cv_folds"] == linear_fit.CV_FOLDS
    for alpha in linear_fit.RIDGE_GRID:
        assert info["val_mse"][alpha] == pytest.approx(val_scores[alpha], rel=1e-6)
        assert info["heldout_mse"][alpha] == pytest.approx(scores[alpha], rel=1e-6)
    w = _ridge(x, y, info["alpha"])
    weight, bias = _linear_path(model)  # linear_lr=0: still the start after training
    np.testing.assert_allclose(weight, w[:IN].T, atol=1e-5)
    np.testing.assert_allclose(bias, w[IN], atol=1e-5)
    assert float(model.model.linear_fitted) == 1.0


def test_without_validation_windows_the_ridge_is_chosen_by_cross_validation():
    values = _values()
    model = _model()
    model.fit(TimeSeries.from_values(values), verbose=False)
    x, y = _rows(values)
    scores = _heldout_scores(x, y, 1)
    alpha = _choice(scores)
    assert model.model.linear_fit_info == {
        "alpha": alpha, "val_mse": {}, "cv_folds": linear_fit.CV_FOLDS,
        "heldout_mse": {a: pytest.approx(v, rel=1e-6) for a, v in scores.items()},
        "train_mse": pytest.approx(np.mean((y - x @ _ridge(x, y, alpha)) ** 2), rel=1e-6),
        "branch_unit": [pytest.approx(np.sqrt(np.mean(x[:, :IN] ** 2)), rel=1e-5)],
        "loss_unit": pytest.approx(np.std(np.stack([values[i + IN:i + IN + OUT, 0] for i in
                                                    range(len(values) - IN - OUT + 1)])),
                                   rel=1e-5)}
    weight, _ = _linear_path(model)
    np.testing.assert_allclose(weight, _ridge(x, y, alpha)[:IN].T, atol=1e-5)


def test_a_single_training_window_and_no_validation_fall_back_to_the_default_ridge():
    values = _values(n=IN + OUT)
    model = _model()
    model.fit(TimeSeries.from_values(values), verbose=False)
    info = model.model.linear_fit_info
    assert (info["alpha"], info["heldout_mse"], info["cv_folds"]) == (
        linear_fit.DEFAULT_RIDGE, {}, 0)


def test_the_branch_works_in_units_of_each_components_lookback_rms():
    values = _values(components=3)
    values[:, 1] *= 1e4  # components in very different units
    model = _model()
    model.fit(TimeSeries.from_values(values), verbose=False)
    for c in range(3):
        x, _ = _rows(values[:, c:c + 1])
        assert model.model.branch_unit[c].item() == pytest.approx(
            np.sqrt(np.mean(x[:, :IN] ** 2)), rel=1e-5)


@pytest.mark.parametrize("factor", [1e-9, 1e6, 1e20])
def test_a_series_in_tiny_or_huge_units_is_forecast_in_its_own_units(factor):
    """A series in nanometres, billions or 10^20 trains exactly as the same series in units of
    order one: the linear fit, the branch's unit and the loss's unit follow the data, so the
    forecast of c·y is c times the forecast of y (before the loss had a unit, Adam's weight
    decay and eps made the trained branch depend on c, and 10^20 overflowed the loss)."""
    values = _values(components=2)
    preds, units, loss_units, paths = [], [], [], []
    for c in (1.0, factor):
        model = _model(n_epochs=2, linear_lr=None)
        series = TimeSeries.from_values(values * np.float32(c))
        model.fit(series[:160], val_series=series[160 - IN:190], verbose=False)
        preds.append(model.predict(OUT, series=series[:190]).values() / c)
        units.append(model.model.branch_unit.numpy() / c)
        loss_units.append(float(model.model.loss_unit) / c)
        paths.append(np.r_[_linear_path(model)[0].ravel(), _linear_path(model)[1] / c])
    np.testing.assert_allclose(units[1], units[0], rtol=1e-4)
    assert loss_units[1] == pytest.approx(loss_units[0], rel=1e-4)
    np.testing.assert_allclose(paths[1], paths[0], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(preds[1], preds[0], rtol=1e-3, atol=1e-4)


def test_the_loss_is_in_units_of_the_training_targets_spread():
    """The training loss is darts' MSE divided by loss_unit², the RMS over components of the
    training targets' standard deviations."""
    values = _values(components=2)
    values[:, 1] *= 3.0
    model = _model()
    model.fit(TimeSeries.from_values(values), verbose=False)
    targets = np.stack([values[i + IN:i + IN + OUT] for i in range(len(values) - IN - OUT + 1)])
    expected = np.sqrt(np.mean(targets.reshape(-1, 2).var(axis=0)))
    assert float(model.model.loss_unit) == pytest.approx(expected, rel=1e-5)
    assert model.model.linear_fit_info["loss_unit"] == pytest.approx(expected, rel=1e-5)
    import torch
    from darts.utils.data.torch_datasets.utils import PLModuleOutput

    pred, target = torch.randn(4, OUT, 2, 1), torch.randn(4, OUT, 2)
    loss = model.model._compute_loss(PLModuleOutput(prediction=pred), target,
                                     torch.nn.MSELoss(), None)
    raw = torch.nn.functional.mse_loss(pred.squeeze(-1), target)
    assert float(loss) == pytest.approx(float(raw) / expected ** 2, rel=1e-5)


def test_a_constant_series_is_forecast_constant():
    series = TimeSeries.from_values(np.full((120, 1), 7.25, dtype=np.float32))
    model = _model(n_epochs=2)
    model.fit(series, verbose=False)
    assert model.model.branch_unit.tolist() == [0.0]  # nothing for the branch to learn
    np.testing.assert_array_equal(model.predict(OUT).values(), 7.25)


def test_ols_start_is_the_linear_models_optimum_unlike_random():
    """The start is the least-squares optimum: no random start does as well on the
    training windows (the comparison that makes the option worth having)."""
    values = _values()
    series = TimeSeries.from_values(values)
    x, y = _rows(values)

    def train_mse(model):
        weight, bias = _linear_path(model)
        return np.mean((y - x[:, :IN] @ weight.T - bias) ** 2)

    ols = _model()
    ols.fit(series, verbose=False)
    random = _model(linear_init="random")
    random.fit(series, verbose=False)
    assert train_mse(ols) == pytest.approx(ols.model.linear_fit_info["train_mse"], rel=1e-5)
    assert train_mse(ols) < 0.5 * train_mse(random)


def test_a_continued_fit_keeps_the_trained_linear_path(tmp_path):
    """The start is computed once per model: fitting again, or after save/load, trains on
    from the current weights instead of resetting them."""
    series = TimeSeries.from_values(_values())
    model = _model()
    model.fit(series, verbose=False)
    model.model.lookback_skip.weight.data.fill_(0.5)
    model.fit(series, verbose=False, epochs=1)
    assert (_linear_path(model)[0] == 0.5).all()
    model.save(str(tmp_path / "m.pt"))
    loaded = S4DModel.load(str(tmp_path / "m.pt"))
    assert float(loaded.model.linear_fitted) == 1.0
    # files from before linear_fitted existed hold trained weights: marked fitted
    state = {k: v for k, v in model.model.state_dict().items()
             if k not in ("linear_fitted", "branch_unit")}
    fresh = _model()
    fresh.fit(series, verbose=False)
    fresh.model.linear_fitted.fill_(0.0)
    fresh.model.load_state_dict(state)
    assert float(fresh.model.linear_fitted) == 1.0
    # ... and a branch that worked in the data's units
    assert fresh.model.branch_unit.tolist() == [1.0]


def test_reversible_instance_norm_and_quantiles_are_fitted_in_their_own_space():
    """With darts' RIN the rows are RIN-normalised and weighted by the window's variance
    (the loss is in the series' units); every quantile's map starts at the same fit."""
    values = _values()
    model = _model(use_reversible_instance_norm=True, normalization=None,
                   likelihood=QuantileRegression([0.1, 0.5, 0.9]))
    model.fit(TimeSeries.from_values(values), verbose=False)
    xs, ys, ws = [], [], []
    for i in range(len(values) - IN - OUT + 1):
        x, y = values[i:i + IN, 0].astype(float), values[i + IN:i + IN + OUT, 0].astype(float)
        mean, std = x.mean(), np.sqrt(x.var() + 1e-5)
        xs.append(np.r_[(x - mean) / std, 1.0])
        ys.append((y - mean) / std)
        ws.append(std ** 2)
    x, y, w = np.array(xs), np.array(ys), np.array(ws)[:, None]
    gram, cross = x.T @ (w * x), x.T @ (w * y)
    scale = np.diag(gram)[:-1].mean()
    alpha = model.model.linear_fit_info["alpha"]  # chosen by cross-validation
    penalty = np.full(len(gram), alpha * scale + 1e-12 * scale)
    penalty[-1] = 1e-12 * gram[-1, -1]
    expected = np.linalg.solve(gram + np.diag(penalty), cross)
    weight, bias = _linear_path(model)
    np.testing.assert_allclose(weight, np.repeat(expected[:IN].T, 3, axis=0), atol=1e-4)
    np.testing.assert_allclose(bias, np.repeat(expected[IN], 3), atol=1e-4)


def test_parametric_likelihoods_refuse_ols_and_auto_falls_back_to_random():
    with pytest.raises(ValueError, match="linear_init='ols'.*GaussianLikelihood"):
        S4DModel(IN, OUT, linear_init="ols", likelihood=GaussianLikelihood())
    with pytest.raises(ValueError, match="linear_init"):
        S4DModel(IN, OUT, linear_init="least-squares")
    model = S4DModel(IN, OUT, likelihood=GaussianLikelihood())
    assert model._resolved_linear_init() == "random"


def test_ridge_solution_and_choice():
    rng = np.random.default_rng(1)
    x = np.c_[rng.standard_normal((50, 4)), np.ones(50)]
    y = x[:, :4] @ rng.standard_normal((4, 2)) + 0.1 * rng.standard_normal((50, 2))
    import torch
    train = linear_fit.Moments.of(torch.from_numpy(x[:40, :4]), torch.from_numpy(y[:40]))
    val = linear_fit.Moments.of(torch.from_numpy(x[40:, :4]), torch.from_numpy(y[40:]))
    for alpha in (1e-6, 1.0):
        np.testing.assert_allclose(linear_fit.ridge_solution(train, alpha).numpy(),
                                   _ridge(x[:40], y[:40], alpha), rtol=1e-8)
    w, alpha, scores, val_scores = linear_fit.fit_linear([train], val)  # one block: no CV
    assert scores == val_scores and alpha == _choice(scores)
    assert val.mse(w) == pytest.approx(np.mean((y[40:] - x[40:] @ w.numpy()) ** 2))
    # four blocks of ten rows: each forecast by the fit of the other three
    blocks = [linear_fit.Moments.of(torch.from_numpy(x[i:i + 10, :4]),
                                    torch.from_numpy(y[i:i + 10])) for i in range(0, 40, 10)]
    w, alpha, scores, val_scores = linear_fit.fit_linear(blocks, None)
    fold = np.arange(40) // 10
    for a in linear_fit.RIDGE_GRID:
        sse = sum(np.sum((y[:40][fold == k] - x[:40][fold == k]
                          @ _ridge(x[:40][fold != k], y[:40][fold != k], a)) ** 2)
                  for k in range(4))
        assert scores[a] == pytest.approx(sse / y[:40].size, rel=1e-8)
    assert val_scores == {} and alpha == _choice(scores)
    np.testing.assert_allclose(w.numpy(), _ridge(x[:40], y[:40], alpha), rtol=1e-8)


@pytest.mark.parametrize(("likelihood", "frozen"), [(None, True),
                                                    (QuantileRegression([0.1, 0.5, 0.9]), False)])
def test_default_starts_at_least_squares_and_freezes_point_forecasts_only(likelihood, frozen):
    """By default the path starts at the fit; point forecasts keep it there, quantile
    forecasts train it on (their quantiles cannot all stay at the mean fit)."""
    values = _values()
    model = S4DModel(input_chunk_length=IN, output_chunk_length=OUT, n_epochs=1,
                     random_state=0, likelihood=likelihood, **TINY, **trainer_kwargs())
    model.fit(TimeSeries.from_values(values), verbose=False)
    assert model.model.linear_init == "ols" and float(model.model.linear_fitted) == 1.0
    x, y = _rows(values)
    start = np.repeat(_ridge(x, y, model.model.linear_fit_info["alpha"])[:IN].T,
                      len(likelihood.quantiles)
                      if likelihood else 1, axis=0)
    weight, _ = _linear_path(model)
    assert np.allclose(weight, start, atol=1e-5) == frozen


def test_auto_start_falls_back_to_random_beyond_the_lookback_limit():
    from s4d_forecast.forecasting.s4d_model import AUTO_LINEAR_INIT_MAX_LOOKBACK as limit

    assert S4DModel(limit, OUT)._resolved_linear_init() == "ols"
    assert S4DModel(limit + 1, OUT)._resolved_linear_init() == "random"
    assert S4DModel(limit + 1, OUT, linear_init="ols")._resolved_linear_init() == "ols"


def test_sample_weights_weight_the_rows():
    """Windows whose targets carry weight 0 do not enter the fit: with the first half of
    the series weighted 0 the start is the fit of the windows ending in the second half."""
    values = _values(n=240)
    series = TimeSeries.from_values(values)
    weights = np.ones_like(values)
    weights[:140] = 0.0
    model = _model()
    model.fit(series, sample_weight=TimeSeries.from_values(weights), verbose=False)
    # darts weights each target step; a window counts with its horizon's mean weight
    rows_x, rows_y, rows_w = [], [], []
    for i in range(len(values) - IN - OUT + 1):
        x, y = values[i:i + IN, 0].astype(float), values[i + IN:i + IN + OUT, 0].astype(float)
        rows_x.append(np.r_[x - x[-1], 1.0])
        rows_y.append(y - x[-1])
        rows_w.append(weights[i + IN:i + IN + OUT, 0].mean())
    x, y, w = np.array(rows_x), np.array(rows_y), np.array(rows_w)[:, None]
    gram = x.T @ (w * x)
    scale = np.diag(gram)[:-1].mean()
    alpha = model.model.linear_fit_info["alpha"]
    penalty = np.full(len(gram), alpha * scale + 1e-12 * scale)
    penalty[-1] = 1e-12 * gram[-1, -1]
    expected = np.linalg.solve(gram + np.diag(penalty), x.T @ (w * y))
    weight, bias = _linear_path(model)
    np.testing.assert_allclose(weight, expected[:IN].T, atol=1e-5)
    unweighted = _ridge(*_rows(values), alpha)
    assert np.abs(weight - unweighted[:IN].T).max() > 1e-3  # the weights changed the fit
