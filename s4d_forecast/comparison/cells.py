"""Benchmark cells: every (case, horizon, model row, seed) trained and scored on its own
(:func:`~s4d_forecast.comparison.runner.run_row`), in this process or as Ray tasks, and kept
in ``OUTPUT/cells/`` as it finishes (atomically, after the run's ``settings.json``). darts
seeds each model in a random context of its own, so a cell's numbers do not depend on what ran
before it or where. A rerun runs only the cells not stored; a failed cell (``detail``
``failed: ...``) is not stored.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from s4d_forecast.atomic_files import write_bytes_atomic
from s4d_forecast.comparison import runner
from s4d_forecast.comparison.baseline import SETTINGS_FILE, differences, run_settings
from s4d_forecast.comparison.datasets import BenchmarkData
from s4d_forecast.comparison.models import skip_reason

FAILED = "failed: "


@dataclass(frozen=True)
class Cell:
    """One table row to compute (``case`` "" for a ``--dataset`` run)."""

    job: int
    case: str
    horizon: int
    model: str
    label: str
    seed: int

    @property
    def file(self) -> str:
        parts = [self.case, f"h{self.horizon}", self.label, f"seed{self.seed}"]
        name = "__".join(p for p in parts if p)
        return "".join(c if c.isalnum() or c in "_.+-" else "_" for c in name) + ".json"


@dataclass
class Job:
    """One dataset under one budget: a suite case, or the whole ``--dataset`` run."""

    case: str
    data: BenchmarkData
    config: runner.BenchmarkConfig


def run_cell(prep, config, cell: Cell, stat_cache: dict | None = None) -> dict:
    """:func:`~s4d_forecast.comparison.runner.run_row` of ``cell`` with its seconds; a failure
    is ``{"error": ..., "seconds": ...}``."""
    start = time.perf_counter()
    try:
        record = runner.run_row(prep, config, cell.label, cell.horizon, stat_cache)
    except Exception as exc:  # the cell's failure is its row; the run goes on
        record = {"error": f"{type(exc).__name__}: {exc}"}
    return {**record, "seconds": time.perf_counter() - start}


def _ray_cell(prep, config, cell):
    import ray

    from s4d_forecast.comparison.distributed import worker_setup

    worker_setup()
    return {**run_cell(prep, config, cell), "node": ray.get_runtime_context().get_node_id()}


def plan(jobs: list[Job]) -> tuple[list[Cell], list[list[str]]]:
    """The cells of ``jobs`` in the order of a sequential run, and each job's skipped rows."""
    cells, skipped = [], []
    for j, job in enumerate(jobs):
        skipped.append([])
        for horizon in job.config.horizons:
            for name, label, _ in job.config.entries():
                reason = skip_reason(name, job.config.lookback, horizon)
                if reason:
                    skipped[j].append(f"{label} at horizon {horizon}: {reason}")
                else:
                    cells.append(Cell(j, job.case, horizon, name, label, job.config.seed))
    return cells, skipped


class CellStore:
    """``OUTPUT/settings.json`` and ``OUTPUT/cells/``: one JSON file per finished cell."""

    def __init__(self, output: str | Path):
        self.settings = Path(output) / SETTINGS_FILE
        self.folder = Path(output) / "cells"

    def open(self, settings: dict, overwrite: bool = False) -> dict[str, dict]:
        """The stored records by file name (none for a new run); a run with other settings
        is refused, naming what differs."""
        if overwrite:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.settings.unlink(missing_ok=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.settings.is_file():
            write_bytes_atomic(self.settings, json.dumps(settings, indent=1).encode())
            return {}
        diff = differences(settings, _read(self.settings))
        if diff:
            raise ValueError(
                f"--output {str(self.folder.parent)!r} holds the cells of a run with other "
                f"settings ({'; '.join(diff[:4])}{'; ...' if len(diff) > 4 else ''}); rerun "
                "that command, pass --overwrite, or choose another folder")
        return {cell.name: _read(cell) for cell in sorted(self.folder.glob("*.json"))}

    def write(self, cell: Cell, record: dict) -> None:
        write_bytes_atomic(self.folder / cell.file, json.dumps(record).encode())


def _read(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable ({exc}); delete it to run its cell(s) again, "
                         "or pass --overwrite to start afresh") from exc


def run_jobs(jobs: list[Job], output: str | Path | None = None, *, overwrite: bool = False,
             workers: int | None = None, address: str | None = None, log=print,
             stat_cache: dict | None = None) -> list[runner.BenchmarkResult]:
    """Run every cell of ``jobs`` not yet kept in ``output`` (``None``: nothing kept), keep
    each as it finishes and return one ``BenchmarkResult`` per job. The cells run on Ray (a
    local instance with ``workers`` CPUs, or the cluster at ``address``), else in this process
    (reusing ``stat_cache``). Bad settings are refused before any cell runs."""
    preps = []
    for job in jobs:
        try:
            job.config.validate()
            preps.append(runner.prepare_data(job.data, job.config))
            runner.check_models_build(job.config)
        except ValueError as exc:
            raise ValueError(f"case {job.case!r}: {exc}" if job.case else str(exc)) from exc
    cells, skipped = plan(jobs)
    store = None if output is None else CellStore(output)
    found = {} if store is None else store.open(run_settings(jobs), overwrite)
    records = {c: found[c.file] for c in cells if c.file in found}
    todo = [c for c in cells if c not in records]
    for job, prep, skips in zip(jobs, preps, skipped):
        for line in _describe(job, prep, skips):
            log(_prefix(job) + line)
    if records:
        log(f"resuming: {len(records)} of {len(cells)} cells are in {store.folder} (an earlier "
            f"run of these settings); {len(todo)} to run")
    if workers or address:
        finished = _on_ray(jobs, preps, todo, workers, address)
    else:
        cache = {} if stat_cache is None else stat_cache  # one fit serves every horizon, case
        finished = ((c, run_cell(preps[c.job], jobs[c.job].config, c, cache)) for c in todo)
    first = None  # the time left is estimated from the cells after the first
    for done, (cell, record) in enumerate(finished, 1):
        if store is not None and "error" not in record:
            store.write(cell, record)
        records[cell] = record
        left = len(todo) - done
        first = time.perf_counter() if first is None else first
        eta = (time.perf_counter() - first) / (done - 1) * left if done > 1 and left else None
        prefix = _prefix(jobs[cell.job])
        for line in record.get("warnings", []):
            log(f"{prefix}warning: {line}")
        outcome = (f"FAILED ({record['error']})" if "error" in record else
                   "MSE {mse:.4f} MAE {mae:.4f} (fit {fit_s:.1f} s)".format(**record["row"]))
        log(f"[{len(records)}/{len(cells)}] {prefix}{cell.label} h={cell.horizon}: {outcome}; "
            f"{left} left" + (f", about {_duration(eta)} to go" if eta is not None else ""))
    return [assemble(job, preps[j], [(c, records[c]) for c in cells if c.job == j],
                     skipped[j]) for j, job in enumerate(jobs)]


def _prefix(job: Job) -> str:
    return f"{job.case}: " if job.case else ""


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _describe(job: Job, prep, skipped: list[str]) -> list[str]:
    """Log lines: the data, the split, the statistical models' subset and the skipped rows."""
    config, data = job.config, job.data
    (a, b), (c, d), (e, f) = prep.bounds
    lines = [f"data: {data.source}: {len(data.frame)} rows x {len(prep.columns)} target(s)",
             *[f"data: {note}" for note in data.notes],
             f"split {prep.split}: train rows {a}..{b - 1} ({b - a}), val {c}..{d - 1}, test "
             f"{e}..{f - 1} (val/test include {config.lookback} lookback rows); scaler fitted "
             "on the training rows"]
    for horizon in config.horizons:
        n = len(runner.common_windows(config, prep, horizon)[0])
        if runner.uses_stat_subset(config) and n < prep.n_windows(horizon):
            lines.append(f"h={horizon}: statistical models scored on {n} of "
                         f"{prep.n_windows(horizon)} test windows (evenly strided); every "
                         "model is also reported on those (mse_common)")
    return lines + [f"skip {line}" for line in skipped]


def _on_ray(jobs, preps, todo, workers, address):
    from s4d_forecast.comparison.distributed import ray_session

    with ray_session(workers, address) as ray:
        task = ray.remote(_ray_cell)
        shared = [ray.put(prep) for prep in preps]

        def cost(cell):  # longest first, so no long cell starts last
            config, prep = jobs[cell.job].config, preps[cell.job]
            windows = prep.bounds[0][1] - config.lookback - cell.horizon + 1
            windows = min(windows, config.max_train_windows or windows)
            return -(cell.model != "naive") * windows * len(prep.columns) * (
                config.lookback + cell.horizon)

        pending = {}
        for cell in sorted(todo, key=cost):
            config = jobs[cell.job].config
            ref = task.options(num_cpus=1, num_gpus=int(config.device == "gpu")).remote(
                shared[cell.job], config, cell)
            pending[ref] = cell
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            cell = pending.pop(ref)
            try:
                record = ray.get(ref)
            except Exception as exc:  # the worker died on every retry
                record = {"error": f"{type(exc).__name__}: {exc}", "seconds": 0.0}
            yield cell, record


def assemble(job: Job, prep, finished: list, skipped: list[str]) -> runner.BenchmarkResult:
    """The result of ``job`` from its ``(cell, record)`` pairs, a failed cell as a row."""
    rows, per_step, examples, warnings = [], {}, {}, []
    for cell, record in finished:
        key = (cell.label, cell.horizon)
        if "error" in record:
            rows.append({**dict.fromkeys(runner.COLUMNS, math.nan), "model": cell.label,
                         "horizon": cell.horizon, "fit_s": 0.0, "predict_s": 0.0, "params": 0,
                         "epochs_run": 0, "best_epoch": -1, "train_windows": 0,
                         "test_windows": 0, "common_windows": 0,
                         "detail": FAILED + record["error"]})
            warnings.append(f"{cell.label} h={cell.horizon} failed ({record['error']}); rerun "
                            "the same command to run it again")
            continue
        rows.append(record["row"])
        per_step[key] = tuple(np.asarray(v) for v in record["per_step"])
        examples[key] = np.asarray(record["example"])
        warnings += record["warnings"]
    windows = {h: runner.common_windows(job.config, prep, h) for h in job.config.horizons}
    return runner.BenchmarkResult(
        job.data, job.config, prep, pd.DataFrame(rows, columns=runner.COLUMNS), per_step,
        examples, {h: w[1] for h, w in windows.items()}, skipped,
        {h: w[0] for h, w in windows.items()}, warnings)
