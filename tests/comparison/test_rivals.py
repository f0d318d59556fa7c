"""PatchTST, iTransformer and TimeMixer: their papers' settings, the shared budget, the extra."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
from comparison_helpers import tiny_frame

from s4d_forecast.cli import main
from s4d_forecast.comparison import BenchmarkConfig, BenchmarkData, run_benchmark
from s4d_forecast.comparison.models import RIVAL_SETTINGS, build_model

BUDGET = {"lookback": 32, "horizon": 8, "epochs": 3, "batch_size": 16, "lr": 1e-3, "seed": 7,
          "device": "cpu", "patience": 2}


@pytest.mark.parametrize("name", sorted(RIVAL_SETTINGS))
def test_rivals_get_their_papers_settings_and_the_shared_budget(name):
    pytest.importorskip("neuralforecast")
    model, _ = build_model(name, **BUDGET)
    nf_class, architecture, paper_lr = RIVAL_SETTINGS[name]
    assert model.nf_model_class.__name__ == nf_class
    assert {k: model.nf_model_params[k] for k in architecture} == architecture
    assert (model.nf_model_params["input_size"], model.nf_model_params["h"]) == (32, 8)
    params = model.model_params
    assert params["optimizer_kwargs"] == {"lr": paper_lr}  # the paper's, not the shared 1e-3
    assert (params["n_epochs"], params["batch_size"], params["random_state"]) == (3, 16, 7)
    assert params["use_reversible_instance_norm"] is False  # the model's own norm is on
    changed, _ = build_model(name, **BUDGET, extra={"model_kwargs": {"dropout": 0.0},
                                                     "optimizer_kwargs": {"lr": 0.5}})
    assert changed.nf_model_params["dropout"] == 0.0
    assert changed.model_params["optimizer_kwargs"] == {"lr": 0.5}


def test_rivals_train_and_are_scored_on_the_shared_windows():
    pytest.importorskip("neuralforecast")
    frame = tiny_frame(240).set_index("timestamp")[["load", "temp"]]
    config = BenchmarkConfig([6], ["patchtst", "itransformer", "timemixer", "naive"],
                             lookback=16, epochs=1, max_train_windows=20)
    table = run_benchmark(BenchmarkData("t", frame, "memory"), config,
                          log=lambda *a: None).table.set_index("model")
    assert list(table.index) == ["PatchTST", "iTransformer", "TimeMixer", "Naive"]
    assert np.isfinite(table[["mse", "mae"]].to_numpy()).all()
    assert (table["test_windows"] == table.loc["Naive", "test_windows"]).all()
    rivals = table.loc[["PatchTST", "iTransformer", "TimeMixer"]]
    assert (rivals["fit_s"] > 0).all() and (rivals["params"] > 0).all()
    assert rivals["detail"].str.contains(r"paper setting .*lr 0\.0(001|1)$").all()


@pytest.mark.parametrize(("args", "missing_extra", "message"), [
    (["--models", "naive,patchtst,timemixer"], True,
     r"--models patchtst,timemixer need\(s\) neuralforecast.*pip install "
     r"'s4d_forecast\[rivals\]'"),
    (["--models", "timemixer", "--lookback", "20"], False,
     r"every model would be skipped .*TimeMixer.*divisible by 8"),
])
def test_rival_misuse_is_refused_before_training(tiny_csv, tmp_path, capsys, monkeypatch,
                                                args, missing_extra, message):
    if missing_extra:
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec",
                            lambda name, *a: None if name == "neuralforecast" else real(name, *a))
    elif importlib.util.find_spec("neuralforecast") is None:
        pytest.skip("neuralforecast is not installed")
    argv = ["benchmark", "--dataset", f"csv:{tiny_csv}", "--target-cols", "load",
            "--horizons", "6", "--epochs", "1", "--output", str(tmp_path / "o"), *args]
    if "--lookback" not in args:
        argv += ["--lookback", "16"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert re.search(message, captured.err), captured.err
    assert "MSE" not in captured.out and not (tmp_path / "o").exists()
