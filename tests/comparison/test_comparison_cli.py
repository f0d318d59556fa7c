"""``s4d-forecast benchmark`` end to end, and its messages for bad input."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from comparison_helpers import TINY_S4D, tiny_frame

from s4d_forecast.cli import main
from s4d_forecast.comparison import load_csv, load_dataset

BASE = ["benchmark", "--horizons", "6", "--lookback", "16", "--epochs", "1"]


def test_cli_end_to_end_writes_table_csv_and_plots(tiny_csv, tmp_path, capsys):
    out = tmp_path / "out"
    code = main([*BASE, "--dataset", f"csv:{tiny_csv}", "--target-cols", "load,temp",
                 "--models", "s4d,nlinear,naive", "--output", str(out),
                 "--model-kwargs", json.dumps({"s4d": TINY_S4D})])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| 6 | S4D |" in printed
    table = pd.read_csv(out / "results.csv")
    assert {"model", "horizon", "mse", "mae", "fit_s", "predict_s", "params"} <= set(table)
    assert sorted(table["model"]) == ["NLinear", "Naive", "S4D"]
    assert (table["test_windows"] == 60 - 6 + 1).all()
    md = (out / "results.md").read_text()
    assert "Command: `s4d-forecast benchmark --dataset csv:" in md
    assert "scaler fitted on train only" in md
    for png in ("error_by_horizon.png", "forecast_h6.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--time-col", "when"], "time column 'when' is not a column"),
        (["--target-cols", "load,nope"], r"--target-cols: column\(s\) \['nope'\]"),
        (["--target-cols", "load,site"], "target column 'site' .* non-numeric"),
        (["--models", "s4d,prophet"], r"--models: \['prophet'\] not accepted; choose from"),
        (["--horizons", "100", "--target-cols", "load"], "--horizons max 100 .* does not fit"),
        (["--epochs", "0"], "`--epochs` must be an integer >= 1, got 0"),
        (["--stat-windows", "0"], "`--stat-windows` must be an integer >= 1, got 0"),
    ],
)
def test_bad_input_gets_a_clear_message(tiny_csv, tmp_path, capsys, args, message):
    argv = [*BASE, "--dataset", f"csv:{tiny_csv}", "--models", "naive",
            "--output", str(tmp_path / "o"), *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "s4d-forecast benchmark: error:" in err
    assert re.search(message, err), err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("dataset", "kwargs", "message"), [
    ("etth3", {}, r"--dataset='etth3' is not accepted; use one of"),
    ("co2", {"data_path": "x.csv"}, "--data-path=.* is not used by --dataset co2"),
    ("csv:missing.csv", {}, "file not found"),
    ("etth1", {"root": "."}, r"dataset 'etth1' needs series/ETTh1\.csv .*--data-root DIR"),
    ("etth1", {"root": ".", "data_path": "e.csv"}, "both name the etth1 file; give one"),
    ("co2", {"root": "."}, r"--data-root='\.' applies to --dataset etth1\|etth2"),
])
def test_unknown_dataset_and_misplaced_options(tmp_path, monkeypatch, dataset, kwargs,
                                               message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message):
        load_dataset(dataset, **kwargs)


def test_weather_without_a_file_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("S4D_WEATHER_CSV", str(tmp_path / "nowhere.csv"))
    with pytest.raises(ValueError, match=r"--data-path PATH .*s4d-forecast data download"):
        load_dataset("weather")


def test_csv_time_column_checks(tmp_path):
    frame = tiny_frame(50)
    path = tmp_path / "f.csv"
    frame.drop(columns="timestamp").to_csv(path, index=False)
    with pytest.raises(ValueError, match="no time column found .* pass --time-col"):
        load_csv(path)
    frame.iloc[::-1].to_csv(path, index=False)
    with pytest.raises(ValueError, match="time stamps are not sorted"):
        load_csv(path)
    frame.assign(timestamp="soon").to_csv(path, index=False)
    with pytest.raises(ValueError, match="50 value.s. are not dates/times"):
        load_csv(path)
    frame.loc[3, "load"] = None
    frame.to_csv(path, index=False)
    data = load_csv(path)  # found by name; NaN only matters once selected
    assert data.frame.index.name == "timestamp"
    from s4d_forecast.comparison.datasets import check_targets

    data.frame = data.frame[["load"]]
    with pytest.raises(ValueError, match="'load' .* has 1 missing value"):
        check_targets(data)
