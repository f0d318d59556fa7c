"""``s4d-forecast tune`` without starting Ray: the search space, the settings it writes, the
validation score and the refusals (the search itself: test_distributed_ray.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from comparison_helpers import TINY_S4D, tiny_frame

from s4d_forecast.cli import main
from s4d_forecast.comparison import BenchmarkConfig
from s4d_forecast.comparison.distributed import has_module
from s4d_forecast.comparison.protocol import prepare
from s4d_forecast.comparison.tune import (
    DEFAULT_SPACE,
    check_space,
    model_kwargs,
    validation_mse,
)


def test_the_default_space_is_every_key_s4dmodel_takes():
    # fails when S4DModel drops or renames one of the table's arguments: update the table
    assert check_space(DEFAULT_SPACE, 16, 6) == DEFAULT_SPACE


@pytest.mark.parametrize(("space", "fragment"), [
    ([], "must be a non-empty JSON object"),
    ({"nope": [1]}, "keys ['nope'] are not S4DModel arguments"),
    ({"input_chunk_length": [8]}, "keys ['input_chunk_length'] are not S4DModel arguments"),
    ({"d_model": {"normal": [0, 1]}}, "'d_model': {'normal': [0, 1]} is not accepted"),
    ({"lr": {"loguniform": [0, 1]}}, "'lr': {'loguniform': [0, 1]} is not accepted"),
    ({"n_layers": {"int": [1.5, 3]}}, "'n_layers': {'int': [1.5, 3]} is not accepted"),
    ({"dropout": {"uniform": [0.3, 0.1]}}, "'dropout': {'uniform': [0.3, 0.1]} is not"),
    ({"d_model": []}, "'d_model': empty list of values"),
    ({"init": ["legs", "nope"]}, "'init': value 'nope' is refused by S4DModel"),
])
def test_bad_search_spaces_are_refused(space, fragment):
    with pytest.raises(ValueError) as info:
        check_space(space, 16, 6)
    assert fragment in str(info.value)


def test_lr_and_weight_decay_go_into_the_optimizer_kwargs():
    assert model_kwargs({"d_model": 8, "lr": 0.01}, 1e-3) == {
        "d_model": 8, "optimizer_kwargs": {"lr": 0.01}}
    assert model_kwargs({"weight_decay": 0.1}, 1e-3) == {
        "optimizer_kwargs": {"lr": 1e-3, "weight_decay": 0.1}}
    assert model_kwargs({"n_layers": 2}, 1e-3) == {"n_layers": 2}


def test_the_validation_score_reads_no_test_row():
    frame = tiny_frame(240).set_index("timestamp")[["load"]]
    config = BenchmarkConfig(horizons=[6], models=["s4d"], lookback=16, epochs=1,
                             max_train_windows=30)
    prep = prepare(frame, 16, [6])
    mse, epoch = validation_mse(prep, config, TINY_S4D)
    assert 0 < mse < 10 and epoch == 1
    poisoned = dataclasses.replace(prep, scaled=prep.scaled.copy())
    poisoned.scaled[prep.bounds[1][1]:] = np.nan  # the test rows
    # the same seed and rows, so the same computation: the same floats
    assert validation_mse(poisoned, config, TINY_S4D) == (mse, epoch)


@pytest.mark.skipif(not (has_module("ray") and has_module("optuna")), reason="Ray or Optuna "
                    "is not installed (pip install 's4d_forecast[distributed]')")
@pytest.mark.parametrize(("extra", "fragment"), [
    (["--case", "airpassengers", "--horizon", "6"], "--horizon cannot be combined with --case"),
    (["--dataset", "co2", "--data-root", "."], "--data-root applies to --case and --dataset"),
    (["--case", "etth2_96", "--protocol", "ltsf"], "--protocol cannot be combined with --case"),
    (["--dataset", "co2", "--trials", "0"], "`--trials` must be an integer >= 1, got 0"),
    (["--dataset", "co2", "--workers", "0"], "'0' is not a positive number of workers"),
    (["--dataset", "co2", "--space", "{missing}"], "cannot be read"),
    (["--dataset", "co2", "--space", "{bad}"], "'d_model': empty list of values"),
    (["--dataset", "co2", "--epochs", "0"], "`--epochs` must be an integer >= 1, got 0"),
])
def test_tune_refuses_bad_settings_before_any_trial(tmp_path, capsys, extra, fragment):
    (tmp_path / "bad.json").write_text('{"d_model": []}')
    files = {"missing": str(tmp_path / "none.json"), "bad": str(tmp_path / "bad.json")}
    extra = [files.get(e.strip("{}"), e) for e in extra]
    argv = ["tune", "--trials", "2", "--lookback", "104", "--horizon", "26",
            "--output", str(tmp_path / "o"), *extra]
    if "--case" in extra:
        argv = [a for a in argv if a not in ("--lookback", "104")]
    try:
        assert main(argv) == 2
    except SystemExit as exc:  # argparse
        assert exc.code == 2
    assert fragment in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
