"""S4DModel's design: the ridge-fitted linear path (with covariates), the branch's units,
level input and validation-chosen weight.

Reference solutions are computed here with numpy from windows cut by hand, so the tests fail
if the module reads other windows, normalises them differently from ``forward`` or solves
another problem.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from darts import TimeSeries
from darts.utils.likelihood_models import GaussianLikelihood, QuantileRegression
from forecasting_helpers import TINY, trainer_kwargs

from s4d_forecast import S4DModel
from s4d_forecast.forecasting import linear_fit, s4d_module

IN, OUT = 24, 6


def _values(n: int = 220, components: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    trend = 0.01 * t * (1 + np.arange(components))
    noise = 0.1 * rng.standard_normal((n, components))
    return (np.sin(t / 7 + np.arange(components)) + trend + noise).astype(np.float32)


def _rows(values: np.ndarray):
    """Every stride-1 window, one row per window and component, minus the window's last
    value: (X with a ones column, Y)."""
    xs, ys = [], []
    for i in range(len(values) - IN - OUT + 1):
        for c in range(values.shape[1]):
            x, y = values[i:i + IN, c].astype(float), values[i + IN:i + IN + OUT, c].astype(float)
            xs.append(np.r_[x - x[-1], 1.0])
            ys.append(y - x[-1])
    return np.array(xs), np.array(ys)


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float, w=None) -> np.ndarray:
    w = np.ones((len(x), 1)) if w is None else w
    gram = x.T @ (w * x)
    scale = np.diag(gram)[:-1].mean()
    penalty = np.full(len(gram), alpha * scale + 1e-12 * scale)
    penalty[-1] = 1e-12 * gram[-1, -1]
    return np.linalg.solve(gram + np.diag(penalty), x.T @ (w * y))


def _heldout_scores(x, y, components: int, xv=None, yv=None) -> dict:
    """Every candidate ridge's held-out MSE: the training rows in ``CV_FOLDS`` contiguous
    blocks as darts orders its windows (the last window first), each forecast by the fit of
    the others, pooled with the validation rows forecast by the fit of all training rows."""
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
    return S4DModel(input_chunk_length=IN, output_chunk_length=OUT,
                    **{"n_epochs": 1, "random_state": 0, **TINY, **trainer_kwargs(), **kwargs})


def _linear_path(model: S4DModel, group: int = 0) -> np.ndarray:
    """``(features, O·P)`` of one group; the last feature is the constant."""
    return model.model.linear[group].detach().double().numpy()


@pytest.mark.parametrize("components", [1, 3])
def test_linear_path_is_the_heldout_chosen_ridge_fit(components):
    values = _values(components=components)
    train, val = values[:160], values[160 - IN:]
    model = _model(n_epochs=2)
    model.fit(TimeSeries.from_values(train), val_series=TimeSeries.from_values(val),
              verbose=False)
    x, y = _rows(train)
    xv, yv = _rows(val)
    scores = _heldout_scores(x, y, components, xv, yv)
    info = model.model.linear_fit_info
    assert info["alpha"] == _choice(scores)
    for alpha in linear_fit.RIDGE_GRID:  # float64 sums in another order than numpy's
        assert info["heldout_mse"][alpha] == pytest.approx(scores[alpha], rel=1e-6)
        assert info["val_mse"][alpha] == pytest.approx(
            np.mean((yv - xv @ _ridge(x, y, alpha)) ** 2), rel=1e-6)
    # still the fit after training: point forecasts keep it (float32 weights)
    np.testing.assert_allclose(_linear_path(model), _ridge(x, y, info["alpha"]), atol=1e-5)
    assert not model.model.linear.requires_grad


def test_without_validation_windows_the_ridge_is_chosen_by_cross_validation():
    values = _values()
    model = _model()
    model.fit(TimeSeries.from_values(values), verbose=False)
    x, y = _rows(values)
    alpha = _choice(_heldout_scores(x, y, 1))
    assert model.model.linear_fit_info["alpha"] == alpha
    assert model.model.linear_fit_info["val_mse"] == {}
    np.testing.assert_allclose(_linear_path(model), _ridge(x, y, alpha), atol=1e-5)
    assert float(model.model.branch_weight) == 1.0  # no validation windows to weigh it on


def test_a_single_training_window_and_no_validation_fall_back_to_the_default_ridge():
    model = _model()
    model.fit(TimeSeries.from_values(_values(n=IN + OUT)), verbose=False)
    info = model.model.linear_fit_info
    assert (info["alpha"], info["heldout_mse"]) == (linear_fit.DEFAULT_RIDGE, {})


def test_covariates_enter_the_linear_path():
    """A target driven by a past covariate a horizon back and by a known future input at the
    same step: the ridge path forecasts it almost exactly, where a path reading the target
    alone cannot."""
    rng = np.random.default_rng(4)
    n = 300
    past, future = rng.standard_normal(n), rng.standard_normal(n + OUT)
    y = np.zeros(n)
    y[OUT:] = 0.8 * past[:-OUT] + 0.5 * future[OUT:n]
    series = TimeSeries.from_values(y.astype(np.float32)[:, None])
    pc = TimeSeries.from_values(past.astype(np.float32)[:, None])
    fc = TimeSeries.from_values(future.astype(np.float32)[:, None])
    model = _model()
    model.fit(series[:250], past_covariates=pc, future_covariates=fc, verbose=False)
    assert model.model.linear_fit_info["covariates"]
    model.model.branch_weight.fill_(0.0)  # the linear path alone
    pred = model.predict(OUT, series=series[:294], past_covariates=pc, future_covariates=fc)
    truth = y[294:300]
    assert np.abs(pred.values()[:, 0] - truth).max() < 0.05 * np.abs(truth).max()
    alone = _model()
    alone.fit(series[:250], verbose=False)
    alone.model.branch_weight.fill_(0.0)
    worse = alone.predict(OUT, series=series[:294]).values()[:, 0]
    assert np.abs(worse - truth).max() > 0.3 * np.abs(truth).max()


def test_with_covariates_each_target_component_has_its_own_linear_path():
    values = _values(components=2)
    rng = np.random.default_rng(1)
    pc = TimeSeries.from_values(rng.standard_normal((len(values), 1)).astype(np.float32))
    model = _model()
    model.fit(TimeSeries.from_values(values), past_covariates=pc, verbose=False)
    # groups x (target lags + covariate lags + constant) x horizon
    assert tuple(model.model.linear.shape) == (2, IN + IN + 1, OUT)
    assert len(model.model.linear_fit_info["alpha"]) == 2


def test_the_branch_weight_is_the_validation_optimum():
    """The branch's weight is the closed-form minimiser (clipped to [0, 1]) of the validation
    MSE of linear path + weight x branch, recomputed here from forecasts at weights 0 and 1
    on the same validation windows."""
    values = _values(n=260, seed=3)
    series = TimeSeries.from_values(values)
    train, val = series[:200], series[200 - IN:]
    model = _model(n_epochs=2)
    model.fit(train, val_series=val, verbose=False)
    chosen = float(model.model.branch_weight)
    assert 0.0 <= chosen <= 1.0

    def forecasts(weight):
        model.model.branch_weight.fill_(weight)
        fc = model.historical_forecasts(val, start=val.time_index[IN], forecast_horizon=OUT,
                                        stride=1, retrain=False, last_points_only=False,
                                        overlap_end=False, verbose=False)
        return np.stack([f.values()[:, 0] for f in fc])

    f0, f1 = forecasts(0.0), forecasts(1.0)
    y = np.stack([val.values()[IN + i: IN + i + OUT, 0] for i in range(len(f0))])
    r, b = y - f0, f1 - f0
    # float32 forecasts against the float64 sums of training
    assert chosen == pytest.approx(float(np.clip((r * b).sum() / (b * b).sum(), 0, 1)),
                                   abs=1e-4)
    # weight 0 is the linear path alone
    x, yy = _rows(values[:200])
    w = _ridge(x, yy, model.model.linear_fit_info["alpha"])
    window = values[200 - IN:200, 0].astype(float)
    np.testing.assert_allclose(f0[0], np.r_[window - window[-1], 1.0] @ w + window[-1],
                               atol=1e-4)


@pytest.mark.parametrize("level_input", [False, True])
def test_level_input_and_shift_equivariance(level_input):
    """Without the level input a level shift of the input moves the forecast by the same
    amount (every path reads the window minus its last value); with it the branch also reads
    the level, standardised with the training targets' mean and spread."""
    values = _values()
    series = TimeSeries.from_values(values)
    model = _model(level_input=level_input)
    model.fit(series, verbose=False)
    base = model.predict(OUT, series=series).values()
    moved = model.predict(OUT, series=series + 5.0).values() - 5.0
    if level_input:
        targets = np.stack([values[i + IN:i + IN + OUT, 0]
                            for i in range(len(values) - IN - OUT + 1)])
        assert float(model.model.level_shift[0]) == pytest.approx(targets.mean(), rel=1e-5)
        assert float(model.model.level_scale[0]) == pytest.approx(targets.std(), rel=1e-5)
        assert np.abs(moved - base).max() > 1e-4
    else:  # float32 rounding of values shifted by 5
        np.testing.assert_allclose(moved, base, atol=1e-4)


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
    """The linear fit, the branch's unit, the level statistics and the loss's unit follow the
    data, so the forecast of c·y is c times the forecast of y."""
    values = _values(components=2)
    preds, units, paths = [], [], []
    for c in (1.0, factor):
        model = _model(n_epochs=2)
        series = TimeSeries.from_values(values * np.float32(c))
        model.fit(series[:160], val_series=series[160 - IN:190], verbose=False)
        preds.append(model.predict(OUT, series=series[:190]).values() / c)
        units.append(np.r_[model.model.branch_unit.numpy(), float(model.model.loss_unit)] / c)
        path = _linear_path(model)
        paths.append(np.r_[path[:-1].ravel(), path[-1] / c])
    # float32 rounding of the scaled series
    np.testing.assert_allclose(units[1], units[0], rtol=1e-4)
    np.testing.assert_allclose(paths[1], paths[0], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(preds[1], preds[0], rtol=1e-3, atol=1e-4)


def test_the_loss_is_in_units_of_the_training_targets_spread():
    values = _values(components=2)
    values[:, 1] *= 3.0
    model = _model()
    model.fit(TimeSeries.from_values(values), verbose=False)
    targets = np.stack([values[i + IN:i + IN + OUT] for i in range(len(values) - IN - OUT + 1)])
    expected = np.sqrt(np.mean(targets.reshape(-1, 2).var(axis=0)))
    assert float(model.model.loss_unit) == pytest.approx(expected, rel=1e-5)
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
    np.testing.assert_allclose(model.predict(OUT).values(), 7.25, rtol=1e-6)


def test_a_continued_fit_keeps_the_linear_path(tmp_path):
    """The ridge pass runs once per model: fitting again, or after save/load, keeps the
    path instead of refitting it."""
    series = TimeSeries.from_values(_values())
    model = _model()
    model.fit(series, verbose=False)
    model.model.linear.data.fill_(0.5)
    model.fit(series, verbose=False, epochs=1)
    assert (_linear_path(model) == 0.5).all()
    model.save(str(tmp_path / "m.pt"))
    loaded = S4DModel.load(str(tmp_path / "m.pt"))
    assert float(loaded.model.linear_fitted) == 1.0 and (_linear_path(loaded) == 0.5).all()


def test_reversible_instance_norm_and_quantiles_start_in_their_own_space():
    """With darts' RIN the rows are RIN-normalised (then minus their last value) and weighted
    by the window's variance; every quantile's map starts at the same fit and trains on."""
    values = _values()
    model = _model(use_reversible_instance_norm=True,
                   likelihood=QuantileRegression([0.1, 0.5, 0.9]), n_epochs=1)
    starts = {}
    original = s4d_module._S4DModule._set_linear
    s4d_module._S4DModule._set_linear = lambda self, w: (starts.setdefault("w", w.clone()),
                                                         original(self, w))
    try:
        model.fit(TimeSeries.from_values(values), verbose=False)
    finally:
        s4d_module._S4DModule._set_linear = original
    xs, ys, ws = [], [], []
    for i in range(len(values) - IN - OUT + 1):
        x, y = values[i:i + IN, 0].astype(float), values[i + IN:i + IN + OUT, 0].astype(float)
        mean, std = x.mean(), np.sqrt(x.var() + 1e-5)
        x, y = (x - mean) / std, (y - mean) / std
        xs.append(np.r_[x - x[-1], 1.0])
        ys.append(y - x[-1])
        ws.append(std ** 2)
    expected = _ridge(np.array(xs), np.array(ys), model.model.linear_fit_info["alpha"],
                      np.array(ws)[:, None])
    np.testing.assert_allclose(starts["w"][0].numpy(), expected, atol=1e-6)
    assert model.model.linear.requires_grad  # quantiles train on from the start


def test_a_parametric_likelihood_trains_a_randomly_started_path():
    model = _model(likelihood=GaussianLikelihood(), n_epochs=2)
    model.fit(TimeSeries.from_values(_values()), verbose=False)
    assert not model.model.ridge and model.model.linear.requires_grad
    assert float(model.model.linear_fitted) == 0.0
    assert np.isfinite(model.predict(OUT, num_samples=3).all_values()).all()


def test_beyond_the_feature_limit_the_path_starts_at_random(monkeypatch):
    monkeypatch.setattr(s4d_module, "MAX_LINEAR_FEATURES", IN)  # IN + 1 features: too many
    model = _model()
    model.fit(TimeSeries.from_values(_values(n=80)), verbose=False)
    assert not model.model.ridge and model.model.linear.requires_grad


def test_sample_weights_weight_the_rows():
    """Windows whose targets carry weight 0 do not enter the fit."""
    values = _values(n=240)
    weights = np.ones_like(values)
    weights[:140] = 0.0
    model = _model()
    model.fit(TimeSeries.from_values(values), sample_weight=TimeSeries.from_values(weights),
              verbose=False)
    x, y = _rows(values)
    # darts weights each target step; a window counts with its horizon's mean weight
    w = np.array([weights[i + IN:i + IN + OUT, 0].mean()
                  for i in range(len(values) - IN - OUT + 1)])[:, None]
    alpha = model.model.linear_fit_info["alpha"]
    np.testing.assert_allclose(_linear_path(model), _ridge(x, y, alpha, w), atol=1e-5)
    assert np.abs(_linear_path(model) - _ridge(x, y, alpha)).max() > 1e-3


def test_ridge_solution_and_choice():
    rng = np.random.default_rng(1)
    x = np.c_[rng.standard_normal((50, 4)), np.ones(50)]
    y = x[:, :4] @ rng.standard_normal((4, 2)) + 0.1 * rng.standard_normal((50, 2))
    train = linear_fit.Moments.of(torch.from_numpy(x[:40]), torch.from_numpy(y[:40]))
    val = linear_fit.Moments.of(torch.from_numpy(x[40:]), torch.from_numpy(y[40:]))
    for alpha in (1e-6, 1.0):  # two float64 solves of one system
        np.testing.assert_allclose(linear_fit.ridge_solution(train, alpha).numpy(),
                                   _ridge(x[:40], y[:40], alpha), rtol=1e-8)
    w, alpha, scores, val_scores = linear_fit.fit_linear([train], val)  # one block: no CV
    assert scores == val_scores and alpha == _choice(scores)
    blocks = [linear_fit.Moments.of(torch.from_numpy(x[i:i + 10]),
                                    torch.from_numpy(y[i:i + 10])) for i in range(0, 40, 10)]
    w, alpha, scores, val_scores = linear_fit.fit_linear(blocks, None)
    fold = np.arange(40) // 10
    for a in linear_fit.RIDGE_GRID:
        sse = sum(np.sum((y[:40][fold == k] - x[:40][fold == k]
                          @ _ridge(x[:40][fold != k], y[:40][fold != k], a)) ** 2)
                  for k in range(4))
        assert scores[a] == pytest.approx(sse / y[:40].size, rel=1e-8)
    assert val_scores == {} and alpha == _choice(scores)
    # a block penalty relative to each block's own scale: a column in other units
    scaled = x.copy()
    scaled[:, 2] *= 1e6
    blocks_id = torch.tensor([0, 0, 1, 0])
    m = linear_fit.Moments.of(torch.from_numpy(scaled[:40]), torch.from_numpy(y[:40]))
    ref = linear_fit.Moments.of(torch.from_numpy(x[:40]), torch.from_numpy(y[:40]))
    w_scaled = linear_fit.ridge_solution(m, 1.0, blocks_id).numpy()
    w_ref = linear_fit.ridge_solution(ref, 1.0, blocks_id).numpy()
    w_scaled[2] *= 1e6
    np.testing.assert_allclose(w_scaled, w_ref, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("components", "kwargs", "covariates", "width", "state"), [
    (1, {"level_input": False}, False, 16, 16),
    (1, {}, False, 32, 32),
    (3, {}, False, 32, 32),
    (1, {"d_model": 7}, False, 7, 8),
    (3, {"d_model": 8, "d_state": 4}, False, 8, 4),
])
def test_default_width_follows_the_encoder_input_channels(components, kwargs, covariates,
                                                           width, state):
    """d_model=None: 16 channels (N = 16) when the encoder reads one channel (one target,
    no level input, no covariates), else 32; explicit values win, N follows d_model (even)."""
    model = _model(**{"d_model": None, "d_state": None, **kwargs})
    model.fit(TimeSeries.from_values(_values(n=80, components=components)), verbose=False)
    layer = model.model.encoder[0].blocks[0].layer
    assert (layer.H, layer.kernel.N) == (width, state)
