"""Benchmark cells (comparison/cells.py) and the benchmark's Ray options, in this process: a
cell computes what the sequential run computes, whatever ran before it; finished cells are
kept, a rerun runs only the missing ones, other settings are refused."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from comparison_helpers import TINY_S4D, tiny_frame

from s4d_forecast.cli import main
from s4d_forecast.comparison import BenchmarkConfig, BenchmarkData
from s4d_forecast.comparison.cells import Job, assemble, plan, run_cell
from s4d_forecast.comparison.distributed import has_module
from s4d_forecast.comparison.protocol import prepare
from s4d_forecast.comparison.runner import run_benchmark

TIMING = ["fit_s", "predict_s"]
needs_ray = pytest.mark.skipif(not has_module("ray"), reason="Ray is not installed "
                               "(pip install 's4d_forecast[distributed]')")


def tiny_data() -> BenchmarkData:
    frame = tiny_frame(240).set_index("timestamp")[["load", "temp"]]
    return BenchmarkData("tiny", frame, "memory", ["a tiny frame"], {"load": "kW"})


def assert_same_result(got, want) -> None:
    """Two runs of one budget: the same rows and, within float tolerance (the same
    computation on another thread count sums in another order), the same numbers."""
    pd.testing.assert_frame_equal(got.table.drop(columns=TIMING),
                                  want.table.drop(columns=TIMING), rtol=1e-5)
    assert got.per_step.keys() == want.per_step.keys()
    for key, (mse, mae) in want.per_step.items():
        np.testing.assert_allclose(got.per_step[key][0], mse, rtol=1e-5)
        np.testing.assert_allclose(got.per_step[key][1], mae, rtol=1e-5)
    for key, example in want.examples.items():
        np.testing.assert_allclose(got.examples[key], example, rtol=1e-5, atol=1e-7)
    assert got.example_window == want.example_window and got.skipped == want.skipped
    for h, windows in want.common_windows.items():
        np.testing.assert_array_equal(got.common_windows[h], windows)
    assert got.warnings == want.warnings


def test_cells_in_reverse_order_give_the_sequential_result():
    data = tiny_data()
    config = BenchmarkConfig(horizons=[6], models=["s4d", "nlinear", "naive", "theta"],
                             lookback=16, epochs=1, max_train_windows=30, stat_windows=5,
                             model_kwargs={"s4d": TINY_S4D})
    sequential = run_benchmark(data, config, log=lambda line: None)
    job = Job("", data, config)
    (cells, skipped) = plan([job])
    # the last cell first, so each one runs after the ones the sequential run did after it;
    # through JSON, as the store keeps them
    prep = prepare(data.frame, config.lookback, config.horizons)
    records = {c: json.loads(json.dumps(run_cell(prep, config, c))) for c in reversed(cells)}
    assembled = assemble(job, prep, [(c, records[c]) for c in cells], skipped[0])
    assert list(assembled.table["model"]) == ["S4D", "NLinear", "Naive", "Theta"]
    assert_same_result(assembled, sequential)


def test_plan_follows_the_sequential_order_and_skips_what_cannot_run():
    config = BenchmarkConfig(horizons=[6, 16], models=["tcn", "naive"], lookback=16,
                             s4d_variants={}, seed=7)
    cells, skipped = plan([Job("case", tiny_data(), config)])
    assert [(c.horizon, c.label, c.seed) for c in cells] == [(6, "TCN", 7), (6, "Naive", 7),
                                                              (16, "Naive", 7)]
    assert skipped == [["TCN at horizon 16: darts' TCN needs horizon < lookback (horizon 16, "
                        "lookback 16)"]]
    assert cells[0].file == "case__h6__TCN__seed7.json"


def _argv(csv, out, *extra):
    return ["benchmark", "--dataset", f"csv:{csv}", "--target-cols", "load,temp",
            "--horizons", "4,6", "--lookback", "16", "--epochs", "1", "--models", "naive",
            "--output", str(out), *extra]


def test_a_rerun_runs_only_the_missing_cells_and_refuses_other_settings(tiny_csv, tmp_path,
                                                                        capsys):
    out = tmp_path / "o"
    assert main(_argv(tiny_csv, out)) == 0
    first = pd.read_csv(out / "results.csv")
    stored = sorted(p.name for p in (out / "cells").iterdir())
    assert stored == ["h4__Naive__seed42.json", "h6__Naive__seed42.json"]
    assert "[2/2] Naive h=6: MSE" in capsys.readouterr().out
    (out / "cells" / "h6__Naive__seed42.json").unlink()  # as if the run had stopped there
    assert main(_argv(tiny_csv, out)) == 0
    printed = capsys.readouterr().out
    assert "resuming: 1 of 2 cells" in printed and "1 to run" in printed
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv").drop(columns=TIMING),
                                  first.drop(columns=TIMING))
    assert main(_argv(tiny_csv, out, "--epochs", "2")) == 2
    assert "epochs: 2 here, 1 there" in capsys.readouterr().err
    assert main(_argv(tiny_csv, out, "--epochs", "2", "--overwrite")) == 0
    assert "resuming" not in capsys.readouterr().out
    settings = json.loads((out / "settings.json").read_text())
    (case,) = settings["cases"].values()
    assert settings["epochs"] == 2 and case["horizon"] == [4, 6]


def test_s4d_config_becomes_the_s4d_model_kwargs(tmp_path):
    from s4d_forecast.cli import build_parser
    from s4d_forecast.comparison.cli import _config

    best = {**TINY_S4D, "optimizer_kwargs": {"lr": 3e-3}}
    (tmp_path / "best.json").write_text(json.dumps(best))
    args = build_parser().parse_args(
        ["benchmark", "--dataset", "co2", "--models", "s4d,naive", "--model-kwargs",
         '{"naive": {}}', "--s4d-config", str(tmp_path / "best.json"), "--output",
         str(tmp_path / "o")])
    assert _config(args).model_kwargs == {"naive": {}, "s4d": best}
    assert args.model_kwargs == {"naive": {}, "s4d": best}  # the table's command spells it out


@pytest.mark.parametrize(("extra", "code", "fragment"), [
    (["--workers", "0"], 2, "'0' is not a positive number of workers"),
    pytest.param(["--workers", "2", "--threads", "2"], 2, "--threads=2 applies to a run in",
                 marks=needs_ray),
    pytest.param(["--workers", "2", "--ray", "auto"], 2, "not allowed with argument",
                 marks=needs_ray),
    (["--s4d-config", "{missing}"], 2, "cannot be read"),
    (["--s4d-config", "{list}"], 2, "must hold a JSON object of S4DModel keyword arguments"),
    (["--s4d-config", "{epochs}", "--models", "s4d"], 2, "n_epochs is set by --epochs"),
    (["--s4d-config", "{ok}"], 2, "'s4d' is not among --models"),
    (["--s4d-config", "{ok}", "--models", "s4d", "--model-kwargs", '{"s4d": {}}'], 2,
     "give them in one place"),
    (["--s4d-variants", "[1]"], 2, 'e.g. {"base": {}, "rin": {"use_reversible_instance_norm"'),
])
def test_ray_and_config_options_are_refused_before_anything_runs(
        tiny_csv, tmp_path, capsys, extra, code, fragment):
    files = {"missing": tmp_path / "none.json", "list": tmp_path / "list.json",
             "epochs": tmp_path / "epochs.json", "ok": tmp_path / "ok.json"}
    files["list"].write_text("[1]")
    files["epochs"].write_text('{"n_epochs": 3}')
    files["ok"].write_text('{"d_model": 8}')
    extra = [str(files[e.strip("{}")]) if e.strip("{}") in files else e for e in extra]
    try:
        assert main(_argv(tiny_csv, tmp_path / "o", *extra)) == code
    except SystemExit as exc:  # argparse
        assert exc.code == code
    assert fragment in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv", [
    ["benchmark", "--dataset", "co2", "--workers", "2", "--output", "o"],
    ["benchmark", "--dataset", "co2", "--ray", "auto", "--output", "o"],
    ["tune", "--dataset", "co2", "--trials", "2", "--output", "o"],
])
def test_without_ray_the_install_command_is_named(monkeypatch, capsys, tmp_path, argv):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as when not installed
    monkeypatch.chdir(tmp_path)
    try:
        assert main(argv) == 2
    except SystemExit as exc:
        assert exc.code == 2
    assert "pip install 's4d_forecast[distributed]'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
