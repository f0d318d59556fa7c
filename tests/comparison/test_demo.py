"""`s4d-forecast demo`: a preset of `benchmark` (same loader, runner and report)."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from s4d_forecast.cli import main
from s4d_forecast.comparison import demo


def _demo_args(**kw) -> argparse.Namespace:
    base = {"output": None, "overwrite": False, "device": "cpu", "epochs": None,
            "quick": False, "seed": 42, "threads": 1}
    return argparse.Namespace(**{**base, **kw})


def test_demo_is_the_co2_case_of_the_benchmark(tmp_path):
    from s4d_forecast.comparison.cli import command_line

    bench = demo.benchmark_args(_demo_args())
    assert (bench.dataset, bench.horizons, bench.lookback) == ("co2", [26], 104)
    assert bench.epochs == demo.EPOCHS and "s4d" in bench.models and "arima" in bench.models
    assert bench.output == demo.DEFAULT_OUTPUT and bench.overwrite  # default folder refreshed
    quick = demo.benchmark_args(_demo_args(quick=True, epochs=2, output=tmp_path / "o"))
    assert (quick.epochs, quick.max_train_windows) == (2, 256)
    assert not quick.overwrite  # a named folder is checked
    line = command_line(quick)
    assert line.startswith("s4d-forecast benchmark --dataset co2 --season 52 --horizons 26 "
                           "--lookback 104")
    assert "--epochs 2" in line and "--max-train-windows 256" in line


@pytest.mark.slow
def test_demo_quick_writes_table_and_plots(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "demo = s4d-forecast benchmark --dataset co2" in printed
    assert "filled by linear interpolation in time" in printed
    table = pd.read_csv(out / "results.csv")
    assert set(table["model"]) == {"S4D", "DLinear", "NLinear", "Naive", "Theta"}
    assert table[["mse", "mae", "mse_common"]].notna().all().all()
    assert table.set_index("model").loc["S4D", "params"] > 0
    assert (out / "forecast_h26.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Command: `s4d-forecast benchmark --dataset co2" in (out / "results.md").read_text()


@pytest.mark.parametrize(("args", "fragment"), [
    (["--epochs", "0"], "s4d-forecast demo: error: `--epochs` must be an integer >= 1, got 0"),
    (["--seed", "-1"], "s4d-forecast demo: error: `--seed` must be an integer in [0,"),
])
def test_demo_refuses_bad_settings_naming_demo(tmp_path, capsys, args, fragment):
    assert main(["demo", *args, "--output", str(tmp_path / "o")]) == 2
    assert fragment in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
