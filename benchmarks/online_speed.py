"""Time of one ``S4DModel.update`` (one new observation) against the length of the history.

For each history length the default S4DModel is fitted (one epoch, at most 1,000 training
windows: the update's cost does not depend on how the fit went) on that many rows of a noisy
seasonal series, then updated ``--updates`` times with one observation each; the median,
10th and 90th percentile of the time per update are printed as a markdown table, with the
ratio of each median to the shortest history's. One torch thread.

    python benchmarks/online_speed.py [--lengths 1000,10000,100000] [--updates 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="1000,10000,100000")
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--lookback", type=int, default=96)
    parser.add_argument("--horizon", type=int, default=24)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from darts import TimeSeries

    from s4d_forecast import S4DModel
    from s4d_forecast.forecasting.quiet import quiet_libraries

    quiet_libraries()
    lengths = [int(v) for v in args.lengths.split(",")]
    n_max = max(lengths) + args.updates
    t = np.arange(n_max)
    rng = np.random.default_rng(0)
    values = (np.sin(2 * np.pi * t / 24) + 0.3 * np.sin(2 * np.pi * t / 168)
              + 0.2 * rng.standard_normal(n_max)).astype(np.float32)
    series = TimeSeries.from_times_and_values(
        __import__("pandas").date_range("2020-01-01", periods=n_max, freq="h"), values)
    rows = []
    for n in lengths:
        model = S4DModel(args.lookback, args.horizon, n_epochs=1, random_state=0,
                         pl_trainer_kwargs={"enable_progress_bar": False, "logger": False,
                                            "enable_model_summary": False})
        model.fit(series[:n], max_samples_per_ts=1000, verbose=False)
        times = []
        for i in range(n, n + args.updates):
            new = series[i:i + 1]
            start = time.perf_counter()
            model.update(new)
            times.append(time.perf_counter() - start)
        ms = 1e3 * np.array(times[10:])  # the first few warm caches up
        rows.append((n, np.median(ms), np.percentile(ms, 10), np.percentile(ms, 90)))
    print(f"lookback {args.lookback}, horizon {args.horizon}, {args.updates} updates of one "
          f"observation each, torch {torch.__version__}, 1 thread\n")
    print("| history (rows) | median ms / update | p10 | p90 | median / shortest's |")
    print("|---:|---:|---:|---:|---:|")
    for n, med, p10, p90 in rows:
        print(f"| {n:,} | {med:.2f} | {p10:.2f} | {p90:.2f} | {med / rows[0][1]:.2f} |")


if __name__ == "__main__":
    main()
