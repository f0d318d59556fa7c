"""`benchmark --suite`: cases, data root, S4D variants, the summary files and readable plots."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from comparison_helpers import TINY_S4D, tiny_frame

from s4d_forecast.cli import main
from s4d_forecast.comparison import BenchmarkConfig, BenchmarkData
from s4d_forecast.comparison import suite as suite_mod
from s4d_forecast.comparison.datasets import data_root
from s4d_forecast.comparison.runner import run_benchmark
from s4d_forecast.comparison.suite import DEV_SUITE, Case, load_case_data, select_cases

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _tiny_loader(root: Path) -> BenchmarkData:
    frame = tiny_frame(240).set_index("timestamp")[["load", "temp"]]
    return BenchmarkData("tiny", frame, "memory", ["a tiny frame"], {"load": "kW"})


@pytest.fixture
def fake_suite(monkeypatch):
    cases = [Case("tiny_6", "tiny", 6, 16, 12, "six ahead"),
             Case("tiny_4", "tiny", 4, 24, None, "four ahead")]
    monkeypatch.setitem(suite_mod.LOADERS, "tiny", _tiny_loader)
    monkeypatch.setitem(suite_mod.SUITES, "dev", cases)
    return cases


def test_dev_suite_is_the_issue_list():
    names = [c.name for c in DEV_SUITE]
    assert len(set(names)) == len(names) == 14
    for name in ("weather_tlog_96", "weather_tlog_192", "weather_head_48", "weather_head_96",
                 "co2_26", "co2_52", "airpassengers", "sunspots", "temps", "heart_rate"):
        assert name in names
    ett = [c for c in DEV_SUITE if c.dataset == "etth2"]
    assert [(c.horizon, c.lookback, c.protocol) for c in ett] == [
        (h, 96, "ltsf") for h in (96, 192, 336, 720)]
    assert all(c.dataset in suite_mod.LOADERS and c.note for c in DEV_SUITE)
    assert [c.name for c in select_cases("dev", ["co2_26", "airpassengers"])] == [
        "co2_26", "airpassengers"]  # the suite's order
    with pytest.raises(ValueError, match=r"--cases: \['nope'\] not in suite 'dev'; accepted"):
        select_cases("dev", ["nope"])
    with pytest.raises(ValueError, match="--suite='big' is not accepted"):
        select_cases("big")


def test_data_root_flag_then_environment_then_shared(monkeypatch, tmp_path):
    monkeypatch.delenv("S4D_DATA_ROOT", raising=False)
    assert data_root() == Path("../shared/data")
    monkeypatch.setenv("S4D_DATA_ROOT", str(tmp_path))
    assert data_root() == tmp_path
    assert data_root("elsewhere") == Path("elsewhere")
    case = next(c for c in DEV_SUITE if c.name == "airpassengers")
    with pytest.raises(ValueError, match=r"series/AirPassengers\.csv.*--data-root DIR"):
        load_case_data(case)


def test_missing_days_of_the_temperatures_are_filled(tmp_path):
    days = pd.date_range("1984-12-28", "1985-01-04", freq="D").delete([3])  # no 12-31 row
    (tmp_path / "series").mkdir()
    pd.DataFrame({"Date": [f"{d.month}/{d.day}/{d.year}" for d in days],
                  "Daily minimum temperatures": np.arange(len(days), dtype=float)}).to_csv(
        tmp_path / "series" / "temps.csv", index=False)
    case = next(c for c in DEV_SUITE if c.name == "temps")
    data = load_case_data(case, tmp_path)
    assert len(data.frame) == 8
    assert data.frame.loc["1984-12-31"].iloc[0] == pytest.approx(2.5)  # between 2 and 3
    assert any("1984-12-31" in n and "interpolat" in n for n in data.notes)


def test_heart_rate_gets_a_time_axis_in_seconds(tmp_path):
    (tmp_path / "series").mkdir()
    pd.DataFrame({"Heart rate": [80.0, 81.0, 82.0]}).to_csv(
        tmp_path / "series" / "heart_rate.csv", index=False)
    data = load_case_data(next(c for c in DEV_SUITE if c.name == "heart_rate"), tmp_path)
    assert list(data.frame.index) == [0.0, 0.5, 1.0] and data.frame.index.name == "time (s)"
    assert data.units == {"Heart rate": "bpm"}


def test_suite_cli_with_variants_writes_tables_and_summary(fake_suite, tmp_path, capsys):
    out = tmp_path / "suite"
    variants = {"small": TINY_S4D, "rin": {**TINY_S4D, "use_reversible_instance_norm": True}}
    code = main(["benchmark", "--suite", "dev", "--models", "s4d,nlinear,naive,theta",
                 "--s4d-variants", json.dumps(variants), "--epochs", "1",
                 "--max-train-windows", "30", "--stat-windows", "4", "--output", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "## tiny_6" in printed and "## tiny_4" in printed
    assert "| S4D[rin] | 2/2 |" in printed  # the summary
    table = pd.read_csv(out / "results.csv")
    assert list(table.columns[:3]) == ["case", "model", "horizon"]
    assert len(table) == 2 * 5
    assert set(table["model"]) == {"S4D[small]", "S4D[rin]", "NLinear", "Naive", "Theta"}
    assert (table.groupby("case")["common_windows"].nunique() == 1).all()
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["model"]) == set(table["model"]) and (summary["cases"] == 2).all()
    assert summary["firsts"].sum() >= 2
    assert np.isfinite(summary.set_index("model").loc["S4D[rin]", "gmean_vs_others"])
    settings = json.loads((out / "settings.json").read_text())
    assert settings["cases"]["tiny_6"]["horizon"] == 6 and settings["epochs"] == 1
    md = (out / "summary.md").read_text()
    assert "Command: `s4d-forecast benchmark --suite dev --models s4d,nlinear,naive,theta" in md
    assert "--s4d-variants" in md and "| S4D[small] | 2/2 |" in md
    results = (out / "results.md").read_text()
    assert "## tiny_6" in results and "six ahead" in results and "S4D variants" in results
    for case in ("tiny_6", "tiny_4"):
        assert (out / f"forecast_{case}.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("args", "message"), [
    (["--suite", "dev", "--horizons", "6"], "--horizons cannot be combined with --suite"),
    (["--dataset", "co2", "--cases", "a"], "--cases applies to --suite only"),
    (["--suite", "dev", "--cases", "nope"], r"--cases: \['nope'\] not in suite"),
    (["--suite", "dev", "--models", "naive", "--s4d-variants", '{"a": {}}'],
     "--s4d-variants given but 's4d' is not among --models"),
    (["--suite", "dev", "--models", "s4d", "--s4d-variants", '{"a b": {}}'],
     "--s4d-variants: name 'a b' is not accepted"),
    (["--suite", "dev", "--protocol", "ltsf"], "--protocol cannot be combined with --suite"),
])
def test_suite_misuse_is_a_clear_error(fake_suite, tmp_path, capsys, args, message):
    models = [] if "--models" in args else ["--models", "naive"]
    assert main(["benchmark", *models, *args, "--output", str(tmp_path / "o")]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


def test_forecast_plot_shows_dates_and_original_units(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from s4d_forecast.comparison.report import plot_forecasts

    data = _tiny_loader(tmp_path)
    config = BenchmarkConfig(horizons=[6], models=["naive"], lookback=16)
    result = run_benchmark(data, config, log=lambda *_: None)
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    plot_forecasts(result, 6, tmp_path / "f.png", column=0)
    ax = figures[0].axes[0]
    assert ax.get_ylabel() == "load (kW)" and ax.get_xlabel() == "timestamp"
    observed, naive = ax.get_lines()[:2]
    first = result.prep.test_start + result.example_window[6]
    rows = slice(first - 16, first + 6)
    assert list(pd.DatetimeIndex(observed.get_xdata())) == list(data.frame.index[rows])
    np.testing.assert_allclose(observed.get_ydata(), data.frame["load"].to_numpy()[rows],
                               rtol=1e-5)  # back on the series' own scale
    np.testing.assert_allclose(naive.get_ydata(), data.frame["load"].iloc[first - 1],
                               rtol=1e-5)  # persistence of the last input value


@pytest.mark.skipif(not (REAL / "series").is_dir(), reason=f"real samples absent ({REAL})")
def test_real_dev_suite_data_loads_and_fits_the_protocol():
    from s4d_forecast.comparison.datasets import check_targets
    from s4d_forecast.comparison.protocol import prepare

    for case in DEV_SUITE:
        if case.dataset.startswith("weather") and not (REAL / "weather").is_dir():
            continue
        data = load_case_data(case, REAL)
        prep = prepare(check_targets(data), case.lookback, [case.horizon],
                       data.ltsf_borders if case.protocol == "ltsf" else None)
        assert prep.n_windows(case.horizon) > 0, case.name
    temps = load_case_data(next(c for c in DEV_SUITE if c.name == "temps"), REAL)
    assert len(temps.frame) == 3652 and any("1984-12-31, 1988-12-31" in n for n in temps.notes)


def _suite(out, *args):
    return main(["benchmark", "--suite", "dev", "--epochs", "1", "--max-train-windows", "30",
                 "--stat-windows", "4", "--output", str(out), *args])


def _other_data(root):
    data = _tiny_loader(root)
    data.frame = data.frame * 2.0
    return data


@pytest.fixture(scope="module")
def naive_runs(tmp_path_factory):
    """Two earlier suite runs: persistence and Theta on both fake cases; persistence on
    tiny_6 only."""
    root = tmp_path_factory.mktemp("baselines")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(suite_mod.LOADERS, "tiny", _tiny_loader)
        patch.setitem(suite_mod.SUITES, "dev", [Case("tiny_6", "tiny", 6, 16, 12),
                                                Case("tiny_4", "tiny", 4, 24)])
        assert _suite(root / "both", "--models", "naive,theta") == 0
        assert _suite(root / "one", "--models", "naive", "--cases", "tiny_6") == 0
    shutil.copytree(root / "both", root / "failed")
    table = pd.read_csv(root / "both" / "results.csv")
    table.loc[table["model"] == "Theta", "detail"] = "failed: ValueError: simulated"
    table.to_csv(root / "failed" / "results.csv", index=False)
    return root


def test_baseline_rows_join_the_tables_and_the_summary(fake_suite, naive_runs, tmp_path,
                                                      capsys):
    assert _suite(tmp_path / "new", "--models", "nlinear",
                  "--baseline", str(naive_runs / "both")) == 0
    assert "baseline: 4 row(s) of ['Naive', 'Theta']" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "new" / "results.csv")
    assert sorted(table["model"].unique()) == ["NLinear", "Naive", "Theta"]
    assert len(table) == 2 * 3
    base = pd.read_csv(naive_runs / "both" / "results.csv").set_index(["case", "model"])
    reused = table[table["model"] != "NLinear"].set_index(["case", "model"])
    np.testing.assert_array_equal(reused["mse"], base.loc[reused.index, "mse"])
    assert reused["detail"].str.contains("row from .*both/results.csv").all()
    # the new rows are scored on the statistical subset too, as the reused ones were
    assert (table.groupby("case")["common_windows"].nunique() == 1).all()
    assert (table["common_windows"] < table["test_windows"]).any()
    assert set(pd.read_csv(tmp_path / "new" / "summary.csv")["model"]) == set(table["model"])
    assert "| Theta |" in (tmp_path / "new" / "results.md").read_text()


@pytest.mark.parametrize(("base", "args", "message"), [
    ("both", ["--epochs", "2"], "epochs: 2 here, 1 there"),
    ("both", ["--seed", "1", "--batch-size", "8"], "seed: 1 here, 42 there; batch_size: 8 here"),
    ("one", [], "case 'tiny_4' was not run there"),
    ("one", ["--models", "ets", "--cases", "tiny_6"],
     "statistical models run here, but none ran there"),
    ("both", ["--other-data"], r"cases\.tiny_6\.data: '[0-9a-f]+' here, '[0-9a-f]+' there"),
    ("missing", [], r"settings\.json does not exist"),
    ("failed", [], "tiny_6 Theta, tiny_4 Theta failed there"),
])
def test_a_baseline_with_other_settings_is_refused(fake_suite, naive_runs, tmp_path, capsys,
                                                   monkeypatch, base, args, message):
    if "--other-data" in args:
        monkeypatch.setitem(suite_mod.LOADERS, "tiny", _other_data)
        args = []
    models = [] if "--models" in args else ["--models", "nlinear"]
    capsys.readouterr()
    assert _suite(tmp_path / "new", *models, *args, "--baseline", str(naive_runs / base)) == 2
    captured = capsys.readouterr()
    assert re.search(message, captured.err), captured.err
    assert "MSE" not in captured.out and not (tmp_path / "new").exists()
