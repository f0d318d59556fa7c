"""The command line on first contact: help without heavy imports, one-line errors (--debug
for the traceback), and --output checked before any training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from s4d_forecast import cli
from s4d_forecast.cli import main

HEAVY = ("torch", "darts", "pytorch_lightning", "lightning", "lightning_fabric", "sklearn")
CONFIGS = Path(cli.__file__).resolve().parent / "configs"


def test_help_imports_nothing_heavy():
    """``--help`` answers without importing torch, darts or Lightning, which is what keeps
    it quick."""
    code = ("import sys; from s4d_forecast.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert "COMMAND" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_every_registered_module_still_registers():
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    assert {"stream", "data", "fit", "test", "demo", "benchmark"} <= set(commands)


def test_data_info_on_a_missing_root_is_one_line(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["data", "info", "bidmc", "--root", str(missing)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith("s4d-forecast data: error:") and "nowhere" in err
    assert "--debug" in err
    with pytest.raises(Exception, match="nowhere"):  # --debug: the exception itself
        main(["data", "info", "bidmc", "--root", str(missing), "--debug"])


def test_task_fit_on_an_empty_data_root_is_one_line(tmp_path, capsys):
    (tmp_path / "nodata").mkdir()
    config = CONFIGS / "bidmc" / "rr.yaml"
    code = main(["fit", "--config", str(config), "--data.root", str(tmp_path / "nodata"),
                 "--trainer.default_root_dir", str(tmp_path / "run")])
    assert code in (1, 2)
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "error:" in line]
    assert len(err) == 1 and "no BIDMC files" in err[0] and "nodata" in err[0], err


def test_task_test_without_a_checkpoint_is_one_line(tmp_path, capsys):
    """test scores a trained model: without --ckpt_path it is refused before any data is
    read (it would otherwise score random weights and exit 0)."""
    config = CONFIGS / "bidmc" / "rr.yaml"
    code = main(["test", "--config", str(config), "--data.root", str(tmp_path),
                 "--trainer.default_root_dir", str(tmp_path / "run")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0] and "--ckpt_path" in err[0], err


def _never(*args, **kwargs):
    raise ValueError("training started")  # a user-type error: main prints it in one line


@pytest.mark.parametrize("command", ["demo", "benchmark"])
def test_output_is_checked_before_training(command, tmp_path, capsys, monkeypatch):
    from s4d_forecast.comparison import cells

    monkeypatch.setattr(cells, "run_jobs", _never)  # demo is a preset of benchmark
    extra = [] if command == "demo" else ["--dataset", "co2", "--models", "naive"]
    a_file = tmp_path / "results.csv"
    a_file.write_text("earlier results")
    full = tmp_path / "full"
    full.mkdir()
    (full / "results.md").write_text("earlier results")
    for output, message in ((a_file, "is an existing file"), (full, "not empty")):
        assert main([command, *extra, "--output", str(output)]) == 1
        err = capsys.readouterr().err
        assert message in err and str(output) in err and "Traceback" not in err
    assert a_file.read_text() == "earlier results"
    assert (full / "results.md").read_text() == "earlier results"
    # with --overwrite the run goes ahead (and reaches training, stubbed here)
    assert main([command, *extra, "--output", str(full), "--overwrite"]) in (1, 2)
    assert "training started" in capsys.readouterr().err
