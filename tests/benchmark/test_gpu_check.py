"""``benchmarks/gpu_check.sh`` on the CPU: argument errors, the wheel install step, dry runs.

The CUDA parts cannot run here; each stage runs with ``--dry-run`` (tiny sizes on the CPU).
The dry run needs about 35 s of CPU (three interpreters importing torch, Lightning and
darts); the timeouts are generous because a shared machine may stretch that several times.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
PY = sys.executable


def run(*args: str, timeout: float = 300, env: dict | None = None):
    e = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(["bash", str(SCRIPT), "--python", PY, *args], capture_output=True,
                          text=True, timeout=timeout, env=e, cwd=ROOT)


def test_help_lists_every_option():
    r = run("--help")
    assert r.returncode == 0
    for opt in ("--data", "--out", "--dry-run", "--wheels", "--fill-wheels", "--stages"):
        assert opt in r.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--bogus"], "unknown argument '--bogus'"),
    (["--data"], "--data needs a value"),
    (["--out", "--dry-run"], "--out needs a value"),
    (["--stages", "abz", "--dry-run"], "--stages 'abz' must be letters among a, b, c"),
    (["--data", "/nonexistent/bidmc_csv.zip"], "--data '/nonexistent/bidmc_csv.zip' does "
                                               "not exist"),
    (["--stages", "b"], "--data PATH (bidmc_csv.zip) is required for stage b"),
])
def test_argument_errors_are_clear(args, message):
    r = run(*args)
    assert r.returncode == 2
    assert message in r.stderr
    assert r.stderr.startswith("gpu_check.sh: error:")


def test_bad_python_is_named():
    r = subprocess.run(["bash", str(SCRIPT), "--python", "no-such-python-3", "--dry-run"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "--python 'no-such-python-3' is not an executable" in r.stderr


def test_print_install_shows_an_offline_install_without_torch(tmp_path):
    r = run("--print-install", "--wheels", str(tmp_path / "w"))
    assert r.returncode == 0, r.stderr
    tokens = shlex.split(r.stdout.splitlines()[-1])
    assert tokens[1:5] == ["-m", "pip", "--isolated", "install"]
    assert "--no-index" in tokens
    assert tokens[tokens.index("--find-links") + 1] == str(tmp_path / "w")
    names = [t.split(">")[0].split("[")[0] for t in tokens[tokens.index("--find-links") + 2:]]
    assert "wfdb" in names and "darts" in names and "pytorch-lightning" in names
    assert "torch" not in names  # the machine's own torch is kept
    assert "--system-site-packages" in r.stdout


def test_empty_wheel_folder_fails_clearly(tmp_path):
    (tmp_path / "w").mkdir()
    r = run("--force-install", "--install-only", "--wheels", str(tmp_path / "w"))
    assert r.returncode == 3
    assert "no wheel (*.whl) in --wheels" in r.stderr
    assert "make wheels" in r.stderr


def _fake_wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel ``gpucheckdummy 0.1``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gpucheckdummy-0.1-py3-none-any.whl"
    di = "gpucheckdummy-0.1.dist-info"
    files = {
        "gpucheckdummy/__init__.py": "VALUE = 42\n",
        f"{di}/METADATA": "Metadata-Version: 2.1\nName: gpucheckdummy\nVersion: 0.1\n",
        f"{di}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                       "Tag: py3-none-any\n",
    }
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        zf.writestr(f"{di}/RECORD", "".join(f"{n},,\n" for n in files) + f"{di}/RECORD,,\n")
    return path


@pytest.mark.slow
def test_install_from_a_wheel_folder_without_network(tmp_path):
    """The real install command, offline, on a fake wheel folder: pip answers from it alone
    (the project's dependencies are not in it, so pip fails naming one of them)."""
    wheels = tmp_path / "w"
    _fake_wheel(wheels)
    r = run("--force-install", "--install-only", "--wheels", str(wheels), timeout=400)
    assert (wheels / "venv" / "bin" / "python").exists()
    assert r.returncode == 3
    assert "installing from" in r.stderr and "without network failed" in r.stderr
    # pip looked only in the folder: it reports the first requirement it could not find
    assert "No matching distribution found" in r.stderr


@pytest.mark.slow
def test_dry_run_runs_every_stage_on_cpu(tmp_path):
    out = tmp_path / "out"
    r = run("--dry-run", "--out", str(out), timeout=400)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = (out / "summary.txt").read_text()
    for stage in "abc":
        assert f"stage {stage}: ok" in summary
    assert "| 2,8,8,64 |" in (out / "stage_a.log").read_text()
    train = (out / "stage_b.log").read_text()
    assert "3 steps" in train and "steps/s" in train and "peak memory" in train
    assert "S4DModel on sunspots" in (out / "stage_c.log").read_text()
