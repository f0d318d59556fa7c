"""S4DModel.update: the linear path after n updates equals a ridge fit from scratch."""

import numpy as np
import pytest
import torch
from darts import TimeSeries
from darts.utils.data.torch_datasets.utils import _batch_collate_fn_train

from s4d_forecast import S4DModel
from s4d_forecast.forecasting import linear_fit

L, O = 12, 3


def _series(n, seed=0, width=1):
    rng = np.random.RandomState(seed)
    t = np.arange(n)[:, None]
    return TimeSeries.from_values((np.sin(t / 4 + np.arange(width)) + 0.1 * rng.randn(n, width)
                                   ).astype("float32"))


@pytest.fixture(scope="module")
def data():
    return {"y": _series(200), "x": _series(220, seed=1, width=2), "m": _series(200, 2, 2)}


def _fit(series, **covs):
    model = S4DModel(L, O, n_epochs=1, batch_size=64, random_state=0,
                     pl_trainer_kwargs={"enable_progress_bar": False, "logger": False,
                                        "enable_model_summary": False})
    return model.fit(series, verbose=False, **covs)


def _scratch(model, series, forget=1.0, n_fit=0, **covs):
    """The ridge solution of every window of ``series``, built from scratch; with ``forget``
    the ``n_fit`` windows of the first fit weigh ``forget ** (windows added later)`` and each
    later window ``forget ** (windows added after it)``."""
    ds = model._build_train_dataset(series=[series], sample_weight=None, max_samples_per_ts=None,
                                    **{k: None if v is None else [v] for k, v in covs.items()})
    batch = _batch_collate_fn_train([ds[i] for i in range(len(ds) - 1, -1, -1)])
    feats, ys, ws, _ = model.model._rows(batch)
    age = torch.arange(len(ds) - 1, -1, -1, dtype=torch.float64).clamp(max=len(ds) - n_fit)
    ws = ws * forget ** age[:, None]
    alphas = model.model.statistics["alpha"]
    out = []
    for g in range(model.model.linear.shape[0]):
        pick = slice(None) if len(alphas) == 1 else slice(g, g + 1)
        m = linear_fit.Moments.of(feats[:, pick].reshape(-1, feats.shape[2]),
                                  ys[:, pick].reshape(-1, ys.shape[2]), ws[:, pick].reshape(-1))
        out.append(linear_fit.ridge_solution(m, float(alphas[g]), model.model._feature_blocks()))
    return torch.stack(out)


@pytest.mark.parametrize("case", ["target", "covariates", "multivariate", "forget"])
@pytest.mark.parametrize("steps", [(1,), (1, 1, 5), (17,)])
def test_updates_equal_a_fit_from_scratch(data, case, steps):
    y = data["m"] if case == "multivariate" else data["y"]
    covs = ({"past_covariates": data["x"], "future_covariates": data["x"]}
            if case in ("covariates", "multivariate") else {})
    n0 = 150
    fitted = {k: v[: n0 + (O if k == "future_covariates" else 0)] for k, v in covs.items()}
    model = _fit(y[:n0], **fitted)
    forget = 0.97 if case == "forget" else 1.0
    end = n0
    for k in steps:
        new = {"past_covariates": data["x"][end:end + k],
               "future_covariates": data["x"][end + O:end + k + O]} if covs else {}
        model.update(y[end:end + k], forget=forget, **{n: new[n] for n in covs})
        end += k
    expected = _scratch(model, y[:end], forget, n_fit=n0 - L - O + 1,
                        past_covariates=data["x"][:end] if covs else None,
                        future_covariates=data["x"][:end + O] if covs else None)
    # two float64 solves of the same system summed in different orders, stored in float32
    torch.testing.assert_close(model.model.linear.double()[..., :O], expected,
                               rtol=1e-5, atol=1e-6)
    assert model.predict(O).start_time() == y.time_index[end]


def test_update_survives_save_and_load(data, tmp_path):
    model = _fit(data["y"][:150])
    model.save(str(tmp_path / "m.pt"))
    loaded = S4DModel.load(str(tmp_path / "m.pt"))
    model.update(data["y"][150:160])
    loaded.update(data["y"][150:160])
    np.testing.assert_allclose(loaded.predict(O).values(), model.predict(O).values(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("args, error, fragment", [
    ({"series": "gap"}, ValueError, "leaves a gap"),
    ({"series": "overlap"}, ValueError, "overlaps"),
    ({"series": "nan"}, ValueError, "non-finite"),
    ({"series": "wide"}, ValueError, "components"),
    ({"series": 1.0}, TypeError, "TimeSeries"),
    ({"forget": 0.0}, ValueError, "forget"),
    ({"forget": 1.5}, ValueError, "forget"),
    ({"refresh_branch_every": 0}, ValueError, "refresh_branch_every"),
    ({"past_covariates": "x"}, ValueError, "past_covariates"),
])
def test_bad_updates_are_refused_and_change_nothing(data, args, error, fragment):
    model = _fit(data["y"][:150])
    y = data["y"]
    named = {"gap": y[151:155], "overlap": y[149:155], "wide": _series(200, width=2)[150:152],
             "nan": TimeSeries.from_times_and_values(y.time_index[150:152],
                                                     np.array([[1.0], [np.nan]], "float32"))}
    series = named.get(args.get("series"), args.get("series", y[150:152]))
    kwargs = {**args, "series": series}
    if kwargs.get("past_covariates") == "x":
        kwargs["past_covariates"] = data["x"][150:152]
    before = (model.model.linear.detach().clone(), len(model.training_series),
              {k: v.clone() for k, v in model.model.statistics.items()})
    with pytest.raises(error, match=fragment):
        model.update(**kwargs)
    assert torch.equal(model.model.linear, before[0]) and len(model.training_series) == before[1]
    assert all(torch.equal(model.model.statistics[k], v) for k, v in before[2].items())


def test_update_needs_statistics(data):
    from darts.utils.likelihood_models import GaussianLikelihood

    model = S4DModel(L, O, n_epochs=1, likelihood=GaussianLikelihood(), random_state=0)
    model.fit(data["y"][:150], verbose=False)
    with pytest.raises(ValueError, match="not a fixed ridge fit"):
        model.update(data["y"][150:151])


def test_forecaster_update_continues_and_survives_save(tmp_path):
    import pandas as pd

    from s4d_forecast import S4DForecaster

    idx = pd.date_range("2020-01-01", periods=120, freq="h", tz="Europe/Paris")
    y = pd.Series(np.sin(np.arange(120) / 4) * 10 + 50, index=idx, name="load")
    X = pd.DataFrame({"t": np.cos(np.arange(130) / 4)},
                     index=pd.date_range("2020-01-01", periods=130, freq="h", tz="Europe/Paris"))
    f = S4DForecaster(horizon=O, lookback=L, n_epochs=1).fit(y[:90], X.iloc[:90])
    f.update(y[90:100], X.iloc[90:100])
    f.save(tmp_path / "f")
    g = S4DForecaster.load(tmp_path / "f")
    for forecaster in (f, g):
        forecaster.update(y[100:101], X.iloc[100:101])
    future = X.iloc[101:101 + O]
    # the same weights and inputs: one computation repeated
    pd.testing.assert_series_equal(f.predict(X_future=future), g.predict(X_future=future))
    assert f.predict(X_future=future).index[0] == idx[101]
    before = f.predict(X_future=future)
    for bad, fragment in ((y[102:103], "continue"), (y[99:101], "continue"),
                          (y[101:102].to_frame("other"), "columns")):
        with pytest.raises(ValueError, match=fragment):
            f.update(bad, X.iloc[101:103])
    with pytest.raises(ValueError, match="X_new"):
        f.update(y[101:102])
    pd.testing.assert_series_equal(f.predict(X_future=future), before)
