"""`s4d-forecast demo --quick`: the whole comparison end to end, small."""

from __future__ import annotations

import pandas as pd
import pytest

from s4d_forecast.cli import main

MODELS = {"S4DModel", "NaiveSeasonal", "DLinear", "NLinear", "TiDE", "NHiTS", "TCN"}


@pytest.mark.slow
def test_demo_quick_writes_table_and_plot(tmp_path, capsys):
    assert main(["demo", "--quick", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "filled them by linear interpolation in time" in out
    assert "| model | MAE (ppm) | RMSE (ppm) | MAPE (%) | fit (s) | parameters |" in out
    table = pd.read_csv(tmp_path / "results.csv")
    assert set(table["model"]) == MODELS
    assert table[["MAE_ppm", "RMSE_ppm", "MAPE_pct"]].notna().all().all()
    assert (table["RMSE_ppm"] >= table["MAE_ppm"]).all()
    s4d = table.set_index("model").loc["S4DModel"]
    assert s4d["parameters"] > 0 and s4d["fit_seconds"] > 0
    png = tmp_path / "forecast.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "S4DModel" in (tmp_path / "results.md").read_text()


def test_demo_rejects_bad_epochs(capsys):
    with pytest.raises(SystemExit, match="--epochs must be a positive integer, got 0"):
        main(["demo", "--epochs", "0"])
