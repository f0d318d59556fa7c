"""``--protocol ltsf``: the ETT files' split, every stride-1 window, the published numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from s4d_forecast.cli import main
from s4d_forecast.comparison import BenchmarkConfig, load_dataset, run_benchmark
from s4d_forecast.comparison.datasets import check_targets, load_ett
from s4d_forecast.comparison.protocol import prepare
from s4d_forecast.comparison.published import HORIZONS, PUBLISHED, SOURCES

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _ett_csv(path: Path, rows: int = 14_500) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(rows)
    pd.DataFrame({"date": pd.date_range("2016-07-01", periods=rows, freq="h"),
                  "HUFL": np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(rows),
                  "OT": 0.01 * t + rng.standard_normal(rows)}).to_csv(path, index=False)
    return path


def test_ett_split_scaler_and_windows(tmp_path):
    data = load_dataset("etth1", data_path=_ett_csv(tmp_path / "ETTh1.csv"))
    config = BenchmarkConfig([96, 720], ["naive"], lookback=96, protocol="ltsf")
    result = run_benchmark(data, config, log=lambda *a: None)
    prep = result.prep
    # Informer/Autoformer: 12/4/4 months of hourly rows; val/test reach back one lookback
    assert prep.bounds == [(0, 8640), (8640 - 96, 11_520), (11_520 - 96, 14_400)]
    assert len(prep.scaled) == 14_400  # rows after the test end are unused
    frame = check_targets(data)
    np.testing.assert_allclose(prep.scaler.mean_ * prep.unit, frame.iloc[:8640].mean())
    # every stride-1 window of the 2,880 test rows, none dropped
    assert list(result.table["test_windows"]) == [2880 - 96 + 1, 2880 - 720 + 1]
    default = run_benchmark(data, BenchmarkConfig([96], ["naive"], lookback=96),
                            log=lambda *a: None)
    assert default.prep.bounds[0] == (0, int(0.7 * 14_500))  # 70/10/20 without ltsf
    assert load_ett("ettm2", data_path=tmp_path / "ETTh1.csv").ltsf_borders == (
        34_560, 46_080, 57_600)  # 15-minute rows: four times the hourly borders


def test_ltsf_cli_prints_and_writes_the_published_numbers(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["benchmark", "--dataset", "etth1", "--data-path",
                 str(_ett_csv(tmp_path / "ETTh1.csv")), "--protocol", "ltsf", "--horizons",
                 "96", "--models", "naive", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"\| Naive \(this run\) \| \d\.\d{3} \| \d\.\d{3} \| - \|", printed)
    assert "| TimeMixer++ | 0.361 | 0.403 |" in printed and "[timemixerpp]" in printed
    md = (out / "results.md").read_text()
    assert "protocol ltsf, split ETT 12/4/4 months" in md and "| TimeMixer | 0.375 |" in md
    assert "--protocol ltsf" in md  # the command that reproduces the run


@pytest.mark.parametrize(("args", "message"), [
    (["--protocol", "ltsf", "--target-cols", "OT"],
     r"--target-cols applies to --protocol default"),
    (["--data-root", "."], r"--data-root applies to --suite and --dataset etth1"),
    (["--baseline", "."], r"--baseline applies to --suite only"),
    (["--protocol", "ltsf", "--rows", "14399"], r"the ETT split needs 14400 rows .* has 14399"),
])
def test_ltsf_misuse_is_refused_before_training(tmp_path, capsys, args, message):
    rows = 14_500
    if "--rows" in args:
        rows = int(args[args.index("--rows") + 1])
        args = args[:args.index("--rows")]
    path = _ett_csv(tmp_path / "ETTh1.csv", rows)
    dataset = ["--dataset", "etth1", "--data-path", str(path)]
    if "--data-root" in args:
        dataset = ["--dataset", f"csv:{path}"]
    code = main(["benchmark", *dataset, "--horizons", "96", "--models", "naive",
                 "--output", str(tmp_path / "o"), *args])
    assert code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


def test_an_ltsf_case_runs_its_cells_on_the_ett_split(tmp_path, monkeypatch):
    from s4d_forecast.comparison import suite as suite_mod
    from s4d_forecast.comparison.suite import Case, run_suite

    path = _ett_csv(tmp_path / "ETTh2.csv")
    monkeypatch.setitem(suite_mod.LOADERS, "ett", lambda root: load_ett("etth2", path))
    suite = run_suite([Case("ett_96", "ett", 96, 96, None, "", "ltsf")],
                      BenchmarkConfig([1], ["naive"]), log=lambda *a: None,
                      output=tmp_path / "o")
    result = suite.results["ett_96"]
    assert result.prep.split == "ETT 12/4/4 months"
    assert list(result.table["test_windows"]) == [2880 - 96 + 1]
    assert [p.name for p in (tmp_path / "o" / "cells").iterdir()] == [
        "ett_96__h96__Naive__seed42.json"]
    settings = json.loads((tmp_path / "o" / "settings.json").read_text())
    assert settings["cases"]["ett_96"]["protocol"] == "ltsf"


def test_published_averages_are_the_mean_of_their_horizons():
    for dataset, models in PUBLISHED.items():
        for model, (source, mse, mae) in models.items():
            assert source in SOURCES, (dataset, model)
            for values in (mse, mae):
                assert len(values) == len(HORIZONS) + 1, (dataset, model)
                if values[0] is not None:  # the papers average unrounded values
                    assert np.mean(values[:4]) == pytest.approx(values[4], abs=1e-3), (
                        dataset, model)


@pytest.mark.skipif(not (REAL / "series" / "ETTh2.csv").is_file(),
                    reason=f"real samples absent ({REAL})")
def test_real_etth2_fits_the_paper_split():
    data = load_ett("etth2", root=REAL)
    assert list(data.frame.columns) == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    prep = prepare(check_targets(data), 96, list(HORIZONS), data.ltsf_borders)
    assert (prep.n_val, prep.n_test, prep.n_windows(720)) == (2880, 2880, 2161)
    assert prep.index[prep.test_start] == pd.Timestamp("2017-10-24 00:00")  # 16 x 30 days
