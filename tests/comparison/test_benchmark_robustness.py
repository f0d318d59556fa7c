"""``s4d-forecast benchmark`` on bad input: refused before any training, named clearly, and
nothing silently wrong (non-finite scores, stale result files, misread columns)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from comparison_helpers import tiny_frame

from s4d_forecast.cli import main
from s4d_forecast.comparison import load_csv
from s4d_forecast.comparison.datasets import BenchmarkData, check_targets
from s4d_forecast.comparison.protocol import prepare
from s4d_forecast.comparison.runner import BenchmarkConfig, run_benchmark
from s4d_forecast.comparison.suite import DEV_SUITE, load_case_data
from s4d_forecast.comparison.summary import summarise, summary_markdown

BASE = ["benchmark", "--horizons", "6", "--lookback", "16", "--epochs", "1",
        "--max-train-windows", "20"]


def _argv(tiny_csv, out, *args):
    return [*BASE, "--dataset", f"csv:{tiny_csv}", "--target-cols", "load,temp",
            "--output", str(out), *args]


def _under_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    return tmp_path / "afile" / "sub"


@pytest.mark.parametrize(("output", "message"), [
    (_under_a_file, r"--output=.*afile.*is a file, not a folder"),
    (lambda t: t / "new" / "deeper" / ("n" * 300), r"cannot be created or written \(File name "
     "too long"),
    pytest.param(lambda t: Path("/proc/s4d-forecast-out/x"), "cannot be created or written",
                 marks=pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc")),
])
def test_output_that_cannot_be_written_is_refused_before_training(tiny_csv, tmp_path, capsys,
                                                                  output, message):
    out = output(tmp_path)
    assert main(_argv(tiny_csv, out, "--models", "naive,nlinear")) == 2
    captured = capsys.readouterr()
    assert re.search(message, captured.err), captured.err
    assert "MSE" not in captured.out  # nothing trained
    assert not (tmp_path / "new").exists()  # the probe removed the folders it made


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_output_is_refused_before_training(tiny_csv, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(_argv(tiny_csv, locked / "out", "--models", "naive")) == 2
    finally:
        locked.chmod(0o700)
    assert "Permission denied" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--models", "nlinear,dlinear", "--model-kwargs", '{"dlinear": {"bogus": 1}}'],
     r"DLinear \(h=6\) cannot be built with --model-kwargs .*bogus"),
    (["--models", "nlinear,s4d", "--s4d-variants", '{"b": {"bogus": 1}}'],
     r"S4D\[b\] \(h=6\) cannot be built with --s4d-variants .*bogus"),
    (["--models", "nlinear,s4d", "--s4d-variants", '{"b": {"d_model": -3}}'],
     r"S4D\[b\] .*d_model.*-3"),
    (["--models", "naive,nlinear", "--seed", "-1"], r"`--seed` must be an integer in \[0"),
    (["--models", "naive,nlinear", "--lr", "inf"], r"`--lr` must be a number > 0, got inf"),
    (["--models", "naive,nlinear", "--lr", "nan"], r"`--lr` must be a number > 0, got nan"),
])
def test_bad_model_settings_fail_before_any_model_trains(tiny_csv, tmp_path, capsys, args,
                                                          message):
    assert main(_argv(tiny_csv, tmp_path / "o", *args)) == 2
    captured = capsys.readouterr()
    assert re.search(message, captured.err), captured.err
    assert "MSE" not in captured.out, captured.out  # no model was trained first
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("key", ["input_chunk_length", "output_chunk_length",
                                 "output_chunk_shift", "n_epochs", "pl_trainer_kwargs",
                                 "random_state", "batch_size"])
def test_per_model_settings_cannot_override_the_shared_budget(key):
    config = BenchmarkConfig([6], ["nlinear", "s4d"], lookback=16,
                             model_kwargs={"nlinear": {key: 3}})
    with pytest.raises(ValueError, match=rf"--model-kwargs 'nlinear' sets \['{key}'\].*set "
                                         r"by"):
        config.validate()
    config = BenchmarkConfig([6], ["s4d"], lookback=16, s4d_variants={"v": {key: 3}})
    with pytest.raises(ValueError, match=rf"--s4d-variants 'v' sets \['{key}'\]"):
        config.validate()


def test_ets_that_cannot_fit_a_constant_column_is_a_note_not_a_crash():
    frame = tiny_frame(200).set_index("timestamp")[["load"]].assign(const=5.0)
    data = BenchmarkData("t", frame, "t.csv")
    result = run_benchmark(data, BenchmarkConfig([6], ["naive", "ets"], lookback=16),
                           log=lambda *a: None)
    assert list(result.table["model"]) == ["Naive", "ETS"]
    ets = result.table.set_index("model").loc["ETS"]
    assert "column 'const': not fitted" in ets["detail"]
    assert np.isfinite(ets["mse"])


def test_non_finite_scores_are_flagged(tiny_csv, tmp_path, capsys, monkeypatch):
    import s4d_forecast.comparison.runner as runner

    real = runner.naive_windows
    monkeypatch.setattr(runner, "naive_windows",
                        lambda *a, **k: np.full_like(real(*a, **k), np.nan))
    out = tmp_path / "o"
    assert main(_argv(tiny_csv, out, "--models", "naive")) == 0
    captured = capsys.readouterr()
    assert re.search(r"warning: Naive h=6: non-finite score", captured.err)
    assert "non-finite score" in (out / "results.md").read_text()
    assert "non-finite score" in pd.read_csv(out / "results.csv")["detail"].iloc[0]


def test_overwrite_removes_earlier_result_files_only(tiny_csv, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    for name in ("forecast_h12.png", "summary.md", "summary.csv", "results.md", "notes.txt"):
        (out / name).write_text("old")
    assert main(_argv(tiny_csv, out, "--models", "naive", "--overwrite")) == 0
    left = sorted(p.name for p in out.iterdir())
    assert left == ["cells", "error_by_horizon.png", "forecast_h6.png", "notes.txt",
                    "results.csv", "results.md", "settings.json"]
    assert (out / "notes.txt").read_text() == "old"


def test_numeric_time_column_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "years.csv"
    pd.DataFrame({"date": np.arange(1900, 1960), "v": np.arange(60.0)}).to_csv(path,
                                                                               index=False)
    with pytest.raises(ValueError, match=r"time column 'date' .* holds numbers .*format='%Y'"):
        load_csv(path)
    pd.DataFrame({"time": np.arange(60) * 0.5, "v": np.arange(60.0)}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"holds numbers .*nanoseconds since 1970"):
        load_csv(path)


@pytest.mark.parametrize(("args", "message"), [
    (["--lookback", "0"], "`--lookback` must be an integer >= 1, got 0"),
])
def test_zero_lookback_is_refused_not_defaulted(tiny_csv, tmp_path, capsys, args, message):
    argv = [a for a in _argv(tiny_csv, tmp_path / "o", "--models", "naive")]
    i = argv.index("--lookback")
    argv[i + 1] = args[1]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--horizons="], ["--horizons", ","], ["--models", ","],
                                  ["--suite", "dev", "--cases", ","]])
def test_empty_lists_are_refused_not_defaulted(tiny_csv, tmp_path, capsys, args):
    argv = ["benchmark", "--output", str(tmp_path / "o"), *args]
    if "--suite" not in args:
        argv += ["--dataset", f"csv:{tiny_csv}"]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "is empty" in capsys.readouterr().err


def _stable_table():
    return pd.DataFrame({"case": ["A", "A", "A", "B", "B", "B"],
                         "model": ["S4D", "TiDE", "NLinear"] * 2,
                         "mse": [0.0, 0.0, 0.5, 1.0, 1.1, 2.0], "fit_s": [1.0] * 6})


def test_summary_counts_a_perfect_score():
    summary = summarise(_stable_table()).set_index("model")
    assert summary.loc["S4D", "gmean_vs_others"] == pytest.approx(1 / 1.1 ** 0.5)  # 0/0 = 1
    assert summary.loc["TiDE", "gmean_vs_others"] == pytest.approx(1.1 ** 0.5)
    assert summary.loc["NLinear", "gmean_vs_others"] == float("inf")  # 0.5/0 is not dropped
    assert "| NLinear | 2/2 | inf | inf |" in summary_markdown(summarise(_stable_table()), 2)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_diverged_model_is_infinitely_worse_in_the_summary(bad):
    table = _stable_table()
    table.loc[3, "mse"] = bad  # S4D diverged in case B
    summary = summarise(table).set_index("model")
    assert summary.loc["S4D", "gmean_vs_others"] == float("inf")  # not dropped from the mean
    assert summary.loc["S4D", "worst_vs_others"] == float("inf")
    assert summary.loc["TiDE", "gmean_vs_others"] == pytest.approx(0.55 ** 0.5)  # 1.1 / 2


def test_summary_refuses_repeated_rows_and_text_scores():
    table = pd.concat([_stable_table(), _stable_table().iloc[:1]], ignore_index=True)
    with pytest.raises(ValueError, match=r"repeating a \(case, model\) pair.*\('A', 'S4D'\)"):
        summarise(table)
    with pytest.raises(ValueError, match=r"column 'mse' is not numeric .*'x'"):
        summarise(_stable_table().astype({"mse": object}).assign(mse=["x", 1, 2, 3, 4, 5]))


def test_unnamed_index_column_is_not_a_target_and_bool_is_refused(tmp_path):
    path = tmp_path / "withindex.csv"
    tiny_frame(50).drop(columns="site").to_csv(path)  # index saved as 'Unnamed: 0'
    data = load_csv(path)
    assert "Unnamed: 0" not in data.frame.columns
    assert any("Unnamed: 0" in n and "left out" in n for n in data.notes)
    frame = tiny_frame(50).set_index("timestamp")[["load"]].assign(flag=True)
    with pytest.raises(ValueError, match=r"'flag' .* holds booleans.*astype\(float\)"):
        check_targets(BenchmarkData("t", frame, "t.csv"))


@pytest.mark.parametrize(("lookback", "horizons", "message"), [
    (16, [], "must be a non-empty list"),
    (16, [0], r"`horizons` must be an integer >= 1, got 0"),
    (16, [-5], r"`horizons` must be an integer >= 1, got -5"),
    (16, [2.5], r"`horizons` must be an integer >= 1, got 2.5"),
    (0, [6], r"`lookback` must be an integer >= 1, got 0"),
])
def test_prepare_checks_its_arguments(lookback, horizons, message):
    frame = tiny_frame(200).set_index("timestamp")[["load"]]
    with pytest.raises(ValueError, match=message):
        prepare(frame, lookback, horizons)


def test_prepare_names_a_text_column():
    frame = tiny_frame(200).set_index("timestamp")[["load", "site"]]
    with pytest.raises(ValueError, match=r"\['site'\] are not numeric"):
        prepare(frame, 16, [6])


def test_config_checks_types_by_name():
    config = BenchmarkConfig([6], "naive,nlinear")
    config.validate()
    assert config.models == ["naive", "nlinear"]
    with pytest.raises(ValueError, match=r"`--lr` must be a number > 0, got '0.1'"):
        BenchmarkConfig([6], ["naive"], lr="0.1").validate()
    with pytest.raises(ValueError, match=r"`--model-kwargs 'nlinear'` must be a dict"):
        BenchmarkConfig([6], ["nlinear"], model_kwargs={"nlinear": 3}).validate()


def _root_with(tmp_path, relative, text):
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(("case", "relative", "text", "message"), [
    ("airpassengers", "series/AirPassengers.csv", "Monat,Passengers\n1949-01,112\n",
     r"time column 'Month' is not a column of .*AirPassengers\.csv"),
    ("heart_rate", "series/heart_rate.csv", "Heart rate\n80\nabc\n",
     r"'Heart rate' of .*heart_rate\.csv has 1 non-numeric value\(s\), the first at data row 2"),
    ("temps", "series/temps.csv", 'Date,T\n1/1/1981,20.7\n1/2/1981,17.9,4,5\n',
     r"temps\.csv: not a readable CSV"),
])
def test_damaged_suite_files_are_named(tmp_path, case, relative, text, message):
    _root_with(tmp_path, relative, text)
    with pytest.raises(ValueError, match=message):
        check_targets(load_case_data(next(c for c in DEV_SUITE if c.name == case), tmp_path))


def test_every_model_skipped_is_an_error(tiny_csv, tmp_path, capsys):
    assert main(_argv(tiny_csv, tmp_path / "o", "--models", "tcn", "--horizons", "16")) == 2
    assert "every model would be skipped" in capsys.readouterr().err


def test_a_model_failing_is_a_row_and_the_others_go_on(tiny_csv, tmp_path, capsys,
                                                        monkeypatch):
    import s4d_forecast.comparison.runner as runner

    real = runner.fit_model

    def fail_nlinear(name, *args, **kwargs):
        if name == "nlinear":
            raise ValueError("simulated failure")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(runner, "fit_model", fail_nlinear)
    out = tmp_path / "o"
    assert main(_argv(tiny_csv, out, "--models", "nlinear,naive")) == 1
    err = capsys.readouterr().err
    assert "NLinear h=6 failed (ValueError: simulated failure)" in err
    table = pd.read_csv(out / "results.csv")
    assert list(table["model"]) == ["NLinear", "Naive"]
    assert table["mse"].isna().tolist() == [True, False]
    assert table["detail"].iloc[0] == "failed: ValueError: simulated failure"
    assert "simulated failure" in (out / "results.md").read_text()
    monkeypatch.setattr(runner, "fit_model", real)  # the rerun retries the failed cell only
    assert main(_argv(tiny_csv, out, "--models", "nlinear,naive")) == 0
    assert "1 to run" in capsys.readouterr().out
    assert pd.read_csv(out / "results.csv")["mse"].notna().all()


@pytest.mark.parametrize(("scale", "refusal"), [
    (1e-200, None), (1e300, None), (1e-300, None),
    (1e-310, r"column 'load' holds \d+ value\(s\) below 2.2e-308 \(subnormal"),
])
def test_extreme_scales_are_scored_as_at_scale_one_or_refused(tmp_path, scale, refusal):
    frame = tiny_frame().drop(columns="site")
    scaled = frame.assign(load=frame["load"] * scale, temp=frame["temp"] * scale)
    path = tmp_path / "scaled.csv"
    scaled.to_csv(path, index=False, float_format="%.17g")
    config = BenchmarkConfig([6], ["naive"], lookback=16)
    if refusal:
        with pytest.raises(ValueError, match=refusal):
            run_benchmark(load_csv(path), config, log=lambda *a: None)
        return
    base = run_benchmark(BenchmarkData("t", frame.set_index("timestamp"), "t"), config,
                         log=lambda *a: None)
    result = run_benchmark(load_csv(path), config, log=lambda *a: None)
    # the same standardised series up to float64 rounding of the scaled values
    np.testing.assert_allclose(result.prep.scaled, base.prep.scaled, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(result.table[["mse", "mae"]], base.table[["mse", "mae"]],
                               rtol=1e-6)
    np.testing.assert_allclose(result.prep.original(result.prep.scaled[:5]),
                               scaled[["load", "temp"]].to_numpy()[:5], rtol=1e-5)
