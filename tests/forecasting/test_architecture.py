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
    swapped = TimeSeries.from_values(values[:, [2, 0, 1]])
    np.testing.assert_allclose(_predict(model, swapped), _predict(model, series)[:, [2, 0, 1]],
                               atol=1e-5)
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


@pytest.mark.parametrize("head", ["mlp", "linear", "last"])
def test_zero_initialised_branch_starts_as_the_linear_path(head):
    torch.manual_seed(0)
    x = torch.randn(4, IN, 1)
    last = x[:, -1:, 0]
    for zero_init, same in ((True, True), (False, False)):
        module = _module(zero_init_branch=zero_init, head=head)
        out = module(_batch(x)).prediction[..., 0, 0]
        linear = module.lookback_skip(x[..., 0] - last) + last
        assert torch.allclose(out, linear, atol=1e-6) is same


@pytest.mark.parametrize("head", ["mlp", "linear", "last"])
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
