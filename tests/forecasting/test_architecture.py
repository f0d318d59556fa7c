"""S4DModel's architecture options: normalisation, channel independence, heads, zero init.

Each test checks a property that holds only if the option does what its docstring says
(e.g. last-value normalisation makes forecasts move with a level shift of the input).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from darts import TimeSeries
from darts.utils.data.torch_datasets.utils import PLModuleInput
from darts.utils.likelihood_models import GaussianLikelihood, QuantileRegression
from forecasting_helpers import TINY, trainer_kwargs

from s4d_forecast import S4DModel
from s4d_forecast.forecasting.s4d_module import _S4DModule

IN, OUT = 24, 6


def _series(n: int = 120, components: int = 1, seed: int = 0) -> TimeSeries:
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    values = np.sin(2 * np.pi * t / 12 + np.arange(components)) + 0.1 * rng.standard_normal(
        (n, components))
    return TimeSeries.from_values(values.astype(np.float32))


def _fitted(series, **kwargs) -> S4DModel:
    model = S4DModel(input_chunk_length=IN, output_chunk_length=OUT, n_epochs=1,
                     random_state=0, **TINY, **trainer_kwargs(), **kwargs)
    model.fit(series, verbose=False)
    return model


def _predict(model, series) -> np.ndarray:
    return model.predict(OUT, series=series, verbose=False).values()


def test_last_value_normalisation_moves_forecasts_with_the_level():
    series = _series()
    model = _fitted(series, normalization="last")
    shifted = series + 5.0
    np.testing.assert_allclose(_predict(model, shifted), _predict(model, series) + 5.0,
                               atol=1e-4)


def test_without_normalisation_a_level_shift_is_not_simply_added():
    """The property above is not automatic: with normalization=None it fails."""
    series = _series()
    model = _fitted(series, normalization=None)
    diff = _predict(model, series + 5.0) - _predict(model, series)
    assert np.abs(diff - 5.0).max() > 1e-2


def test_rin_normalisation_is_affine_equivariant():
    series = _series()
    model = _fitted(series, normalization="rin")
    np.testing.assert_allclose(_predict(model, series * 3.0 + 2.0),
                               _predict(model, series) * 3.0 + 2.0, atol=1e-3)


def test_channel_independence_applies_one_network_to_each_component():
    series = _series(components=3)
    model = _fitted(series, channel_independent=True)
    values = series.values()
    want = _predict(model, series)[:, [2, 0, 1]]
    swapped = TimeSeries.from_values(values[:, [2, 0, 1]])
    # each component keeps its own unit (set from the training windows): it moves with it
    unit = model.model.branch_unit
    unit.copy_(unit[[2, 0, 1]].clone())
    np.testing.assert_allclose(_predict(model, swapped), want, atol=1e-5)
    # one shared model: the encoder reads one target channel
    assert model.model.encoder.d_input == 1


def test_a_joint_model_mixes_components():
    series = _series(components=3)
    model = _fitted(series, channel_independent=False)
    values = series.values()
    swapped = TimeSeries.from_values(values[:, [2, 0, 1]])
    assert not np.allclose(_predict(model, swapped), _predict(model, series)[:, [2, 0, 1]],
                           atol=1e-4)
    assert model.model.encoder.d_input == 3


def _module(**kwargs) -> _S4DModule:
    settings = {"input_dim": 1, "output_dim": 1, "future_cov_dim": 0, "static_cov_dim": 0,
                "nr_params": 1, "d_model": 8, "n_layers": 1, "d_state": 8, "init": "legs",
                "disc": "zoh", "bidirectional": False, "dropout": 0.0, "temporal_width": 4,
                "hidden_size": 16, "decoder_output_dim": 4, "temporal_decoder_hidden": 8,
                "normalization": "last", "input_chunk_length": IN,
                "output_chunk_length": OUT}
    return _S4DModule(**{**settings, **kwargs}).eval()


def _batch(x: torch.Tensor) -> PLModuleInput:
    return PLModuleInput(past_target=x, past_covariates=None, historic_future_covariates=None,
                         future_covariates=None, static_covariates=None)


@pytest.mark.parametrize("head", ["mlp", "linear", "last", "masked"])
def test_zero_initialised_branch_starts_as_the_linear_path(head):
    torch.manual_seed(0)
    x = torch.randn(4, IN, 1)
    last = x[:, -1:, 0]
    for zero_init, same in ((True, True), (False, False)):
        module = _module(zero_init_branch=zero_init, head=head)
        out = module(_batch(x)).prediction[..., 0, 0]
        linear = module.lookback_skip(x[..., 0] - last) + last
        assert torch.allclose(out, linear, atol=1e-6) is same


@pytest.mark.parametrize("head", ["mlp", "linear", "last", "masked"])
def test_every_head_reads_future_covariates(head):
    series = _series(n=120)
    rng = np.random.default_rng(1)
    future = TimeSeries.from_values(rng.standard_normal((120 + OUT, 1)).astype(np.float32))
    model = S4DModel(input_chunk_length=IN, output_chunk_length=OUT, n_epochs=1, head=head,
                     random_state=0, **TINY, **trainer_kwargs())
    model.fit(series, future_covariates=future, verbose=False)
    base = model.predict(OUT, series=series, future_covariates=future, verbose=False).values()
    changed = future.values().copy()
    changed[-OUT:] += 10.0  # only the horizon's part
    other = model.predict(OUT, series=series, verbose=False,
                          future_covariates=TimeSeries.from_values(changed)).values()
    assert not np.allclose(base, other)


def test_masked_head_reads_each_horizon_steps_covariates_causally():
    """head="masked" runs the causal encoder over lookback + horizon: the forecast for horizon
    step j reads the future covariates of steps <= j and not those after it."""
    torch.manual_seed(0)
    module = _module(head="masked", input_dim=2, future_cov_dim=1)
    x = torch.randn(3, IN, 1)
    hist, fut = torch.randn(3, IN, 1), torch.randn(3, OUT, 1)

    def run(future):
        return module(PLModuleInput(past_target=x, past_covariates=None,
                                    historic_future_covariates=hist, future_covariates=future,
                                    static_covariates=None)).prediction[..., 0, 0]

    base = run(fut)
    changed = fut.clone()
    changed[:, 3] += 5.0  # horizon step 3 only
    diff = (run(changed) - base).abs()
    assert diff[:, :3].max() < 1e-5  # earlier steps unaffected (up to FFT round-off)
    assert diff[:, 3].min() > 1e-3  # step 3 reads it
    assert module.encoder.d_input == 3  # target, covariate, horizon flag


def test_masked_head_reads_static_covariates():
    torch.manual_seed(0)
    module = _module(head="masked", static_cov_dim=2)
    x = torch.randn(2, IN, 1)

    def run(static):
        return module(PLModuleInput(past_target=x, past_covariates=None,
                                    historic_future_covariates=None, future_covariates=None,
                                    static_covariates=static)).prediction

    static = torch.zeros(2, 1, 2)
    assert not torch.allclose(run(static), run(static + 1.0))


@pytest.mark.parametrize("likelihood, expected", [
    (None, "last"), (QuantileRegression([0.1, 0.5, 0.9]), "last"), (GaussianLikelihood(), None)])
def test_auto_normalisation_follows_the_likelihood(likelihood, expected):
    model = S4DModel(input_chunk_length=IN, output_chunk_length=OUT, likelihood=likelihood)
    assert model._resolved_normalization() == expected


@pytest.mark.parametrize("kwargs, match", [
    ({"normalization": "zscore"}, "normalization"),
    ({"head": "conv"}, "head"),
    ({"channel_independent": "yes"}, "channel_independent"),
    ({"zero_init_branch": 1}, "zero_init_branch"),
    ({"normalization": "last", "likelihood": GaussianLikelihood()}, "cannot be undone"),
])
def test_bad_architecture_arguments_are_refused_at_construction(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        S4DModel(input_chunk_length=IN, output_chunk_length=OUT, **kwargs)


def test_residual_branch_weight_is_the_validation_optimum():
    """With residual_branch the branch's weight is the closed-form minimiser (clipped to
    [0, 1]) of the validation MSE of linear path + weight x branch, recomputed here from
    forecasts at weights 0 and 1 on the same validation windows."""
    series = _series(n=200, seed=3)
    train, val = series[:150], series[150 - IN:]
    model = S4DModel(input_chunk_length=IN, output_chunk_length=OUT, n_epochs=2,
                     residual_branch=True, random_state=0, **TINY, **trainer_kwargs())
    model.fit(train, val_series=val, verbose=False)
    chosen = float(model.model.branch_scale)
    assert 0.0 <= chosen <= 1.0

    def forecasts(weight):
        model.model.branch_scale.fill_(weight)
        fc = model.historical_forecasts(val, start=val.time_index[IN], forecast_horizon=OUT,
                                        stride=1,
                                        retrain=False, last_points_only=False,
                                        overlap_end=False, verbose=False)
        return np.stack([f.values()[:, 0] for f in fc])

    f0, f1 = forecasts(0.0), forecasts(1.0)
    y = np.stack([val.values()[IN + i: IN + i + OUT, 0] for i in range(len(f0))])
    r, b = y - f0, f1 - f0
    assert chosen == pytest.approx(float(np.clip((r * b).sum() / (b * b).sum(), 0, 1)),
                                   abs=1e-4)
    # weight 0 is the linear path alone
    module = model.model.eval()
    module.branch_scale.fill_(0.0)
    x = torch.from_numpy(val.values()[None, :IN].astype(np.float32))
    with torch.no_grad():
        out = module(_batch(x)).prediction[0, :, 0, 0]
        last = x[0, -1, 0]
        linear = module.lookback_skip(x[0, :, 0] - last) + last
    torch.testing.assert_close(out, linear)


def test_residual_branch_weight_survives_save_and_old_files_load(tmp_path):
    series = _series(n=200, seed=3)
    model = S4DModel(input_chunk_length=IN, output_chunk_length=OUT, n_epochs=1,
                     residual_branch=True, random_state=0, **TINY, **trainer_kwargs())
    model.fit(series[:150], val_series=series[150 - IN:], verbose=False)
    model.model.branch_scale.fill_(0.25)
    model.save(str(tmp_path / "m.pt"))
    loaded = S4DModel.load(str(tmp_path / "m.pt"))
    assert float(loaded.model.branch_scale) == 0.25
    np.testing.assert_allclose(_predict(loaded, series), _predict(model, series), atol=1e-6)
    # a state dict from before branch_scale existed loads with weight 1
    state = {k: v for k, v in model.model.state_dict().items() if k != "branch_scale"}
    model.model.load_state_dict(state)
    assert float(model.model.branch_scale) == 1.0


def test_residual_branch_trains_the_linear_path_on_its_own_loss():
    """In training the forecast's gradient reaches the branch but not the linear path, which
    learns only from its own loss (it is NLinear); without the option both get it."""
    torch.manual_seed(0)
    x = torch.randn(4, IN, 1)
    for residual, linear_gets_grad in ((True, False), (False, True)):
        module = _module(residual_branch=residual).train()
        module(_batch(x)).prediction.pow(2).sum().backward()
        grad = module.lookback_skip.weight.grad
        assert (grad is not None and bool(grad.abs().sum() > 0)) is linear_gets_grad
        assert module.temporal_decoder.dense[2].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs", [
    {"likelihood": QuantileRegression([0.1, 0.5, 0.9])},
    {"channel_independent": True},
    {"output_chunk_shift": 2},
    {"residual_branch": True, "likelihood": GaussianLikelihood()},
])
def test_masked_head_and_residual_branch_combine_with_the_other_options(kwargs):
    """Fit and predict with covariates of every kind: shapes and finiteness."""
    series = _series(n=120, components=2)
    rng = np.random.default_rng(2)
    future = TimeSeries.from_values(rng.standard_normal((140, 1)).astype(np.float32))
    past = TimeSeries.from_values(rng.standard_normal((120, 1)).astype(np.float32))
    head = "mlp" if kwargs.get("residual_branch") else "masked"
    model = S4DModel(input_chunk_length=IN, output_chunk_length=OUT, n_epochs=1, head=head,
                     random_state=0, **TINY, **trainer_kwargs(), **kwargs)
    model.fit(series, past_covariates=past, future_covariates=future,
              val_series=series, val_past_covariates=past, val_future_covariates=future,
              verbose=False)
    samples = 5 if "likelihood" in kwargs else 1
    pred = model.predict(OUT, series=series, past_covariates=past, future_covariates=future,
                         num_samples=samples, verbose=False)
    assert pred.values().shape == (OUT, 2) and np.isfinite(pred.all_values()).all()
    if kwargs.get("residual_branch"):  # a likelihood: the branch weight is not chosen
        assert float(model.model.branch_scale) == 1.0


def test_masked_head_keeps_the_shifted_steps_in_the_sequence():
    """With output_chunk_shift the encoder also runs over the gap between lookback and
    horizon, so horizon step j sits at position L + shift + j."""
    torch.manual_seed(0)
    module = _module(head="masked", output_chunk_shift=2)
    seen = []
    module.encoder.register_forward_hook(lambda mod, args, out: seen.append(args[0].shape))
    out = module(_batch(torch.randn(2, IN, 1))).prediction
    assert out.shape == (2, OUT, 1, 1)
    assert seen == [torch.Size([2, IN + 2 + OUT, 2])]  # target + horizon flag


@pytest.mark.parametrize(("components", "kwargs", "covariates", "width", "state"), [
    (1, {}, False, 16, 16),
    (3, {}, False, 32, 32),
    (3, {"channel_independent": True}, False, 16, 16),
    (1, {}, True, 32, 32),
    (1, {"d_model": 7}, False, 7, 8),
    (3, {"d_model": 8, "d_state": 4}, False, 8, 4),
])
def test_default_width_follows_the_encoder_input_channels(components, kwargs, covariates,
                                                           width, state):
    """d_model=None: 16 channels (N = 16) when each encoder sequence has one channel, 32
    when it has several; explicit values win, and N follows d_model rounded up to even."""
    series = _series(n=80, components=components)
    past = _series(n=80, seed=1) if covariates else None
    model = S4DModel(input_chunk_length=IN, output_chunk_length=OUT, n_epochs=1,
                     random_state=0, **trainer_kwargs(), **kwargs)
    model.fit(series, past_covariates=past, verbose=False)
    layer = model.model.encoder.blocks[0].layer
    assert (layer.H, layer.kernel.N) == (width, state)
