"""rolling_origin: frozen, online and refitted S4DModels scored on the same test windows."""

import numpy as np
import pandas as pd

from s4d_forecast.comparison.models import build_model
from s4d_forecast.comparison.protocol import prepare
from s4d_forecast.comparison.rolling import rolling_origin


def test_rolling_origin_scores_three_ways_on_every_window():
    t = np.arange(260)
    y = np.sin(2 * np.pi * t / 12) + 0.1 * np.random.default_rng(0).standard_normal(260)
    y[230:] += 2.0  # a level shift inside the test part
    prep = prepare(pd.DataFrame({"y": y}), 24, [6])
    built = []

    def builder():
        built.append(1)
        return build_model("s4d", lookback=24, horizon=6, epochs=1, batch_size=32, lr=1e-3,
                           seed=0, device="cpu", patience=3)

    result = rolling_origin(prep, 6, builder, refit_every=20, log=lambda *_: None,
                            keep_forecasts=True)
    n = prep.n_windows(6)
    assert result.windows == n and result.refits == len(range(20, n, 20)) == len(built) - 1
    truth = np.stack([prep.scaled[prep.test_start + w:prep.test_start + w + 6]
                      for w in range(n)])
    for way, forecasts in result.forecasts.items():
        assert forecasts.shape == (n, 6, 1) and np.isfinite(forecasts).all()
        # the scores are those of the kept forecasts (float64 sums in another order)
        error = forecasts.astype(np.float64) - truth
        assert np.isclose(result.scores[way][0], (error ** 2).mean(), rtol=1e-9)
    # online forecasts follow the shift: after it they beat the frozen model's
    after = slice(230 - prep.test_start, n)
    err = {way: ((f[after] - truth[after]) ** 2).mean() for way, f in result.forecasts.items()}
    assert err["online"] < err["frozen"]
    assert {r["way"] for r in result.rows()} == {"frozen", "online", "refit"}
