"""S4DModel against darts' own torch-model checklist: accuracy, covariates, likelihoods."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
from darts import TimeSeries
from darts.metrics import mape
from darts.utils import likelihood_models as lm
from darts.utils.likelihood_models import torch as lm_torch
from forecasting_helpers import IN_LEN, OUT_LEN, TINY, trainer_kwargs

from s4d_forecast import S4DModel

MAPE_MAX = 40.0  # darts' threshold for TiDE in test_global_forecasting_models


def make_model(**kwargs) -> S4DModel:
    params = {"input_chunk_length": IN_LEN, "output_chunk_length": OUT_LEN, "n_epochs": 10,
              "random_state": 0, **TINY, **trainer_kwargs()}
    params.update(kwargs)
    return S4DModel(**params)


def test_single_series_mape_within_darts_threshold(air):
    model = make_model()
    model.fit(air["train"])
    pred = model.predict(n=36)
    err = mape(air["val"], pred)
    assert err < MAPE_MAX, f"MAPE {err:.1f} on AirPassengers"
    assert pred.static_covariates.equals(air["series"].static_covariates)


def test_multi_series(air):
    model = make_model()
    model.fit([air["train"], air["train_noisy"]])
    with pytest.raises(ValueError):
        model.predict(n=1)  # several training series: `series` is required
    preds = model.predict(n=36, series=[air["train"], air["train_noisy"]])
    assert len(preds) == 2
    for pred in preds:
        assert mape(air["val"], pred) < MAPE_MAX


def test_past_and_future_covariates(air, time_covariates):
    train_cov = time_covariates[: len(air["train"])]
    model = make_model()
    model.fit(
        [air["train"], air["train_noisy"]],
        past_covariates=[train_cov, train_cov],
        future_covariates=[train_cov, train_cov],
    )
    module = model.model
    assert module.future_cov_dim == 2
    # target, its level, past and historic future covariates
    assert module.encoder[0].d_input == 1 + 1 + 2 + 2
    with pytest.raises(ValueError):
        # future covariates that end with the series cannot cover the horizon
        model.predict(1, series=air["train"], past_covariates=train_cov,
                      future_covariates=train_cov)
    model.predict(13, series=air["train"], past_covariates=time_covariates,
                  future_covariates=time_covariates)
    pred = model.predict(12, series=air["train"], past_covariates=time_covariates,
                         future_covariates=time_covariates)
    assert mape(air["val"][:12], pred) < MAPE_MAX


def test_future_covariates_reach_the_output(air, time_covariates):
    """Changing future covariates inside the horizon changes the forecast."""
    model = make_model(n_epochs=1)
    model.fit(air["train"], future_covariates=time_covariates)
    base = model.predict(12, future_covariates=time_covariates)
    bumped_values = time_covariates.values().copy()
    bumped_values[len(air["train"]):] += 1.0
    bumped = time_covariates.with_values(bumped_values)
    other = model.predict(12, future_covariates=bumped)
    assert not np.allclose(base.values(), other.values())


@pytest.mark.parametrize("use_static", [True, False])
def test_static_covariates(use_static):
    t = np.arange(80, dtype=np.float32)
    a = TimeSeries.from_values(np.sin(t / 4)).with_static_covariates(pd.Series([1.0, 0.0]))
    b = TimeSeries.from_values(np.cos(t / 4)).with_static_covariates(pd.Series([0.0, 1.0]))
    model = make_model(input_chunk_length=12, output_chunk_length=4, n_epochs=2,
                       use_static_covariates=use_static)
    model.fit([a, b])
    assert model.model.static_cov_dim == (2 if use_static else 0)
    assert model.uses_static_covariates is use_static
    if use_static:
        swapped = a.with_static_covariates(pd.Series([0.0, 1.0]))
        assert not np.allclose(model.predict(4, series=a).values(),
                               model.predict(4, series=swapped).values())


def _sine(n: int = 60, components: int = 1) -> np.ndarray:
    t = np.arange(n)[:, None] + np.arange(components)[None, :]
    return 0.5 + 0.4 * np.sin(t / 3.0)  # in (0.1, 0.9)


def _data_for(likelihood) -> np.ndarray:
    base = _sine()
    name = type(likelihood).__name__
    if name == "BernoulliLikelihood":
        return (base > 0.5).astype(float)
    if name in {"PoissonLikelihood", "NegativeBinomialLikelihood", "GeometricLikelihood"}:
        return np.round(10 * base)
    if name == "DirichletLikelihood":
        return np.hstack([base, 1 - base])
    return base  # (0, 1): valid for real, positive and unit-interval likelihoods


LIKELIHOODS = [
    lm.BernoulliLikelihood(), lm.BetaLikelihood(), lm.CauchyLikelihood(),
    lm.ContinuousBernoulliLikelihood(), lm.DirichletLikelihood(), lm.ExponentialLikelihood(),
    lm.GammaLikelihood(), lm.GaussianLikelihood(), lm.GeometricLikelihood(),
    lm.GumbelLikelihood(), lm.HalfNormalLikelihood(), lm.LaplaceLikelihood(),
    lm.LogNormalLikelihood(), lm.NegativeBinomialLikelihood(), lm.PoissonLikelihood(),
    lm.QuantileRegression([0.1, 0.5, 0.9]), lm.WeibullLikelihood(),
]


def test_likelihood_list_is_every_darts_likelihood():
    darts_classes = {
        cls for _, cls in inspect.getmembers(lm_torch, inspect.isclass)
        if issubclass(cls, lm_torch.TorchLikelihood) and cls is not lm_torch.TorchLikelihood
        and not inspect.isabstract(cls)
    }
    assert darts_classes == {type(lik) for lik in LIKELIHOODS}


@pytest.mark.parametrize("likelihood", LIKELIHOODS, ids=lambda lik: type(lik).__name__)
def test_every_likelihood(likelihood):
    values = _data_for(likelihood).astype(np.float32)
    series = TimeSeries.from_values(values)
    model = make_model(input_chunk_length=12, output_chunk_length=4, n_epochs=1,
                       likelihood=likelihood)
    model.fit(series)
    samples = model.predict(4, num_samples=8)
    assert samples.n_samples == 8 and samples.n_components == series.n_components
    assert np.isfinite(samples.all_values()).all()
    params = model.predict(4, predict_likelihood_parameters=True)
    assert params.n_components == series.n_components * likelihood.num_parameters
    assert np.isfinite(params.values()).all()


def test_quantile_regression_parameters_are_ordered_quantiles(air):
    quantiles = [0.05, 0.5, 0.95]
    model = make_model(likelihood=lm.QuantileRegression(quantiles))
    model.fit(air["train"])
    params = model.predict(12, predict_likelihood_parameters=True)
    names = list(params.components)
    assert names == [f"{air['train'].components[0]}_q{q:.3f}" for q in quantiles]
    values = params.values()
    # quantile heads are not constrained to be monotone; after 10 epochs they are on average
    assert values[:, 0].mean() < values[:, 1].mean() < values[:, 2].mean()


def test_gaussian_parameters(air):
    model = make_model(likelihood=lm.GaussianLikelihood())
    model.fit(air["train"])
    params = model.predict(12, predict_likelihood_parameters=True)
    assert [c.rsplit("_", 1)[1] for c in params.components] == ["mu", "sigma"]
    assert (params.values()[:, 1] > 0).all()


def test_reversible_instance_norm_makes_forecast_shift_equivariant(air):
    model = make_model(n_epochs=2, use_reversible_instance_norm=True)
    model.fit(air["train"])
    assert model.model.rin is not None
    base = model.predict(12, series=air["train"])
    shifted = model.predict(12, series=air["train"] + 10.0)
    np.testing.assert_allclose(shifted.values(), base.values() + 10.0, rtol=1e-4, atol=1e-3)


def test_output_chunk_shift(air):
    shift = 3
    model = make_model(n_epochs=2, output_chunk_shift=shift)
    model.fit(air["train"])
    pred = model.predict(OUT_LEN)
    assert pred.start_time() == air["train"].end_time() + (shift + 1) * air["train"].freq
    with pytest.raises(ValueError):
        model.predict(OUT_LEN + 1)  # no auto-regression with a shifted output


def test_sample_weight_changes_training(air):
    plain = make_model(n_epochs=2)
    plain.fit(air["train"])
    weighted = make_model(n_epochs=2)
    weighted.fit(air["train"], sample_weight="exponential")
    assert not np.allclose(plain.predict(12).values(), weighted.predict(12).values())


def test_mc_dropout_gives_samples(air):
    model = make_model(n_epochs=1, dropout=0.3)
    model.fit(air["train"])
    pred = model.predict(12, num_samples=10, mc_dropout=True)
    assert pred.n_samples == 10
    assert pred.all_values().std(axis=2).mean() > 0


def test_float64_series(air):
    model = make_model(n_epochs=1)
    model.fit(air["train"].astype(np.float64))
    assert model.predict(12).dtype == np.float64


@pytest.mark.parametrize(
    "kwargs",
    [{"d_model": 0}, {"n_layers": -1}, {"d_state": 1.5}, {"hidden_size": True},
     {"dropout": 1.0}, {"ssm_lr": 0.0}, {"temporal_width": None}, {"init": "legt"},
     {"disc": "euler"}],
)
def test_bad_hyper_parameters_are_named(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        make_model(**kwargs)
