"""``benchmark --workers/--ray`` and ``tune`` on Ray: a local instance with two workers (shared
by the tests of this module), a driver killed midway, and a two-node cluster of ``ray start``
processes on localhost. Ray starts slowly (tens of seconds on a loaded machine): slow tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from comparison_helpers import TINY_S4D

from s4d_forecast.cli import main
from s4d_forecast.comparison.distributed import has_module

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (has_module("ray") and has_module("optuna")),
                       reason="Ray or Optuna is not installed "
                       "(pip install 's4d_forecast[distributed]')"),
]
ROOT = Path(__file__).resolve().parents[2]
TIMING = ["fit_s", "predict_s"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
       "RAY_USAGE_STATS_ENABLED": "0"}


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level="WARNING")
    yield ray
    ray.shutdown()


def _argv(csv, out, *extra):
    return ["benchmark", "--dataset", f"csv:{csv}", "--target-cols", "load,temp",
            "--horizons", "2,4,6", "--lookback", "16", "--epochs", "2",
            "--max-train-windows", "60", "--models", "s4d,nlinear,naive,theta",
            "--stat-windows", "7", "--model-kwargs", json.dumps({"s4d": TINY_S4D}),
            "--output", str(out), *extra]


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    """The tables of the run in one process, the reference of every test here."""
    from comparison_helpers import tiny_frame

    folder = tmp_path_factory.mktemp("sequential")
    csv = folder / "tiny.csv"
    tiny_frame().to_csv(csv, index=False)
    assert main(_argv(csv, folder / "out")) == 0
    return csv, pd.read_csv(folder / "out" / "results.csv")


def assert_same_table(folder: Path, want: pd.DataFrame) -> None:
    got = pd.read_csv(folder / "results.csv")
    # the same cells on one torch thread each: equal up to the float sums' order
    pd.testing.assert_frame_equal(got.drop(columns=TIMING), want.drop(columns=TIMING),
                                  rtol=1e-5)
    for png in ("error_by_horizon.png", "forecast_h6.png"):
        assert (folder / png).read_bytes()[:4] == b"\x89PNG"


def test_two_workers_give_the_sequential_table(local_ray, sequential, tmp_path, capsys):
    csv, want = sequential
    assert main(_argv(csv, tmp_path / "o", "--workers", "2")) == 0
    assert_same_table(tmp_path / "o", want)
    printed = capsys.readouterr().out
    assert "[12/12]" in printed and "to go" in printed
    models = {json.loads(p.read_text())["row"]["model"] for p in (tmp_path / "o" / "cells")
            .glob("h*.json")}
    assert models == {"S4D", "NLinear", "Naive", "Theta"}


def test_a_killed_run_resumes_and_finishes_with_the_same_table(local_ray, sequential,
                                                               tmp_path, capsys):
    csv, want = sequential
    out = tmp_path / "o"
    driver = subprocess.Popen([sys.executable, "-m", "s4d_forecast.cli",
                               *_argv(csv, out, "--workers", "2")], env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        stored = []
        while driver.poll() is None and not stored:
            time.sleep(0.1)
            stored = list((out / "cells").glob("h*.json")) if (out / "cells").is_dir() else []
        os.kill(driver.pid, signal.SIGKILL)  # the driver dies midway
        driver.wait()
        kept = len(list((out / "cells").glob("h*.json")))
        assert 0 < kept < 12, kept
    finally:
        _stop_group(driver)  # its local Ray instance (which also ends by itself, later)
    assert main(_argv(csv, out, "--workers", "2")) == 0
    printed = capsys.readouterr().out
    assert f"resuming: {kept} of 12 cells" in printed and f"{12 - kept} to run" in printed
    assert_same_table(out, want)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_group(process: subprocess.Popen) -> None:
    """End the process group started for ``process`` (its session), first gently."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue


def test_a_two_node_cluster_gives_the_sequential_table(sequential, tmp_path):
    csv, want = sequential
    env = {**ENV, "RAY_AUTH_MODE": "token"}  # `ray start` asks for the token from Ray 2.59 on
    port = _free_port()
    address = f"127.0.0.1:{port}"
    ray = str(Path(sys.executable).with_name("ray"))
    common = ["--num-cpus", "1", "--block", "--disable-usage-stats",
              "--object-store-memory", str(100 * 2**20)]
    nodes = [subprocess.Popen([ray, "start", "--head", "--port", str(port),
                               "--include-dashboard", "false", *common], env=env,
                              start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        _wait_for_nodes(address, 1, env)
        nodes.append(subprocess.Popen(
            [ray, "start", "--address", address, "--dashboard-agent-listen-port",
             str(_free_port()), *common], env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for_nodes(address, 2, env)
        run = subprocess.run([sys.executable, "-m", "s4d_forecast.cli",
                              *_argv(csv, tmp_path / "o", "--ray", address)], env=env,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        assert "[12/12]" in run.stdout
        assert_same_table(tmp_path / "o", want)
        cells = (tmp_path / "o" / "cells").glob("h*.json")
        assert len({json.loads(p.read_text())["node"] for p in cells}) == 2  # both nodes ran
    finally:
        for node in reversed(nodes):
            _stop_group(node)
        # the address `ray start` left for `ray.init()` on this machine (as `ray stop` does)
        current = Path("/tmp/ray/ray_current_cluster")
        if current.is_file() and current.read_text().strip().endswith(f":{port}"):
            current.unlink()


def _wait_for_nodes(address: str, n: int, env: dict, timeout: float = 180) -> None:
    code = (f"import ray; ray.init(address={address!r}, logging_level='ERROR'); "
            "print(sum(node['Alive'] for node in ray.nodes()))")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True)
        if done.returncode == 0 and done.stdout.strip().endswith(str(n)):
            return
        time.sleep(2)
    raise AssertionError(f"the cluster at {address} did not reach {n} node(s)")


def test_tune_writes_a_config_the_model_the_forecaster_and_the_benchmark_take(
        local_ray, sequential, tmp_path, capsys):
    from s4d_forecast import S4DForecaster, S4DModel

    csv, _ = sequential
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"d_model": [8, 16], "lr": {"loguniform": [1e-3, 1e-2]},
                                 "hidden_size": [16]}))
    out = tmp_path / "tuned"
    assert main(["tune", "--dataset", f"csv:{csv}", "--target-cols", "load", "--horizon", "6",
                 "--lookback", "16", "--trials", "3", "--space", str(space), "--epochs", "1",
                 "--max-train-windows", "60", "--workers", "2", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[trial 3/3]" in printed and "| default |" in printed and "| tuned |" in printed
    best = json.loads((out / "best_config.json").read_text())
    assert set(best) == {"d_model", "hidden_size", "optimizer_kwargs"}
    assert best["d_model"] in (8, 16) and 1e-3 <= best["optimizer_kwargs"]["lr"] <= 1e-2
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 3 and trials["val_mse"].notna().all()
    report = (out / "tune.md").read_text()
    assert "Command: `s4d-forecast tune --dataset csv:" in report and "Tuned / default" in report
    S4DModel(input_chunk_length=16, output_chunk_length=6, **best)
    S4DForecaster(horizon=6, lookback=16, **best)
    bench = tmp_path / "bench"
    assert main(["benchmark", "--dataset", f"csv:{csv}", "--target-cols", "load",
                 "--horizons", "6", "--lookback", "16", "--epochs", "1", "--models", "s4d",
                 "--s4d-config", str(out / "best_config.json"), "--output", str(bench)]) == 0
    assert pd.read_csv(bench / "results.csv")["mse"].notna().all()
