"""Bad configurations get one clear message; every shipped config parses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import TINY, run

from s4d_forecast.cli import main

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "s4d_forecast" / "configs").glob("*/*.yaml"))


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def _ptbxl(root, *extra):
    return ["--config", "s4d_forecast/configs/ptbxl/all.yaml", "--data.root", str(root),
            *TINY, *extra]


@pytest.mark.parametrize("extra, words", [
    (["--data.task", "everything"], ["`task` must be one of", "superdiagnostic"]),
    (["--model.init", "hippo"], ["`init` must be one of", "'hippo'"]),
    (["--model.scheduler", "linear"], ["`scheduler` must be one of", "'linear'"]),
    (["--data.batch_size", "0"], ["`batch_size` must be an integer >= 1"]),
    (["--data.crop_s", "0"], ["`crop_s` must be a number > 0"]),
])
def test_refused_values_are_named(ptbxl_root, tmp_path, capsys, extra, words):
    code = run("fit", _ptbxl(ptbxl_root, "--trainer.default_root_dir", str(tmp_path), *extra))
    err = capsys.readouterr().err
    assert code == 2 and "error: invalid configuration" in err
    for w in words:
        assert w in err
    assert "Traceback" not in err


@pytest.mark.parametrize("extra, words", [
    (["--model.d_model", "wide"], ["d_model", "wide", "int"]),
    (["--model.depth", "3"], ["depth"]),
    (["--trainer.max_epochs", "many"], ["max_epochs", "many"]),
])
def test_parse_errors_name_the_key(ptbxl_root, capsys, extra, words):
    with pytest.raises(SystemExit) as exit_:
        run("fit", _ptbxl(ptbxl_root, *extra))
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    for w in words:
        assert w in err


def test_missing_and_nonexistent_data_root(tmp_path, capsys):
    base = ["--config", "s4d_forecast/configs/bidmc/rr.yaml", *TINY]
    assert run("fit", base) == 2
    assert "data.root is required" in capsys.readouterr().err
    assert run("fit", [*base, "--data.root", str(tmp_path / "nowhere.zip")]) == 2
    err = capsys.readouterr().err
    assert "data.root=" in err and "nowhere.zip" in err and "does not exist" in err
    ptb = ["--config", "s4d_forecast/configs/ptbxl/rhythm.yaml", *TINY,
           "--data.root", str(tmp_path / "no_ptbxl")]
    assert run("test", ptb) == 2
    assert "no_ptbxl" in capsys.readouterr().err


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_configs_print(config, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(config), "--data.root", "DATA", "--print_config"])
    assert exit_.value.code in (0, None)
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["model"]["class_path"].startswith("s4d_forecast.tasks.")
    assert cfg["data"]["init_args"]["root"] == "DATA"
    text = config.read_text()
    if config.stem.endswith("_cpu"):  # reduced recipes: they say so and name their full config
        assert "on a CPU" in text and f"{config.stem[:-4]}.yaml" in text
        return
    assert "Target:" in text  # each full config names the published figure it aims at
    if config.parent.name == "bidmc":
        m = cfg["model"]["init_args"]
        assert (m["d_model"], m["n_layers"], m["d_state"], m["lr"], m["weight_decay"],
                m["ssm_lr"], m["bidirectional"], m["prenorm"]) == (
                    128, 6, 256, 0.01, 0.05, 0.001, True, True)


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("fit", "validate", "test", "predict"):
        assert name in out
