"""Benchmark cells: every (case, horizon, model, seed) trained and scored on its own, kept in
the output folder as it finishes, run in this process or as Ray tasks.

A cell is :func:`~s4d_forecast.comparison.runner.run_benchmark` restricted to one row
(:class:`OneRow`): the split, the scaler, the common test windows and the example window are
those of the whole run, and the model is built, seeded, trained and scored as in a run of
every model one after another. darts seeds each model from its ``random_state`` in a torch
random context of its own, and the statistical fits only depend on the data, so a cell gives
the same numbers whatever ran before it in the process and wherever it runs (a Ray worker
trains on one torch thread; more threads change float sums in the last digits only).

Each finished cell is written atomically to ``OUTPUT/cells/`` as one JSON file (its table
row, MSE and MAE by lead time, the example forecast, its log lines and warnings, and the Ray
node that ran it), after the run's ``OUTPUT/settings.json`` (:mod:`.baseline`: the cases, a
hash of their data, the budget and the rows). Rerunning the same command with the same
``--output`` runs only the cells not found there (a failed cell is never stored, so it is run
again); other settings are refused. A cell that fails is a row whose ``detail`` starts with
``failed:``; the other cells go on. Without an output folder (the Python API's default) the
cells run the same way and are not kept.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from s4d_forecast.atomic_files import write_bytes_atomic
from s4d_forecast.comparison.baseline import SETTINGS_FILE, differences, run_settings
from s4d_forecast.comparison.datasets import BenchmarkData
from s4d_forecast.comparison.distributed import ray_session, worker_setup
from s4d_forecast.comparison.models import skip_reason
from s4d_forecast.comparison.runner import (
    COLUMNS,
    BenchmarkConfig,
    BenchmarkResult,
    check_models_build,
    common_windows,
    prepare_data,
    run_benchmark,
)

FAILED = "failed: "
CELL_FOLDER = "cells"  # the finished cells of a benchmark run, under --output


@dataclass
class OneRow(BenchmarkConfig):
    """A run's budget restricted to the row ``label``: ``entries()`` yields that row only,
    while ``models`` (which sets the common test windows) stays the whole run's."""

    label: str = ""

    def entries(self):
        return [e for e in super().entries() if e[1] == self.label]


@dataclass(frozen=True)
class Cell:
    """One table row to compute: job index, case name ("" for a ``--dataset`` run), horizon,
    model name, row label and seed."""

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
    config: BenchmarkConfig


def run_cell(data: BenchmarkData, config: BenchmarkConfig, label: str, horizon: int,
             stat_cache: dict | None = None, echo=None) -> dict:
    """Train and score row ``label`` at ``horizon``; a JSON-ready record.

    Returns ``{"row", "per_step", "example", "warnings", "log", "seconds"}``, or
    ``{"error", "log", "seconds"}`` when it failed. ``echo`` also receives each log line.
    """
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(BenchmarkConfig)}
    one = OneRow(**{**fields, "horizons": [horizon]}, label=label)
    lines = []

    def log(line):
        lines.append(line)
        if echo is not None:
            echo(line)

    start = time.perf_counter()
    try:
        result = run_benchmark(data, one, log=log,
                               stat_cache={} if stat_cache is None else stat_cache)
    except Exception as exc:  # the cell's failure is its row; the run goes on
        return {"error": f"{type(exc).__name__}: {exc}", "log": lines,
                "seconds": time.perf_counter() - start}
    mse, mae = result.per_step[(label, horizon)]
    example = result.examples.get((label, horizon))
    return {"row": {k: _plain(v) for k, v in result.table.iloc[0].items()},
            "per_step": [mse.tolist(), mae.tolist()],
            "example": None if example is None else np.asarray(example).tolist(),
            "warnings": list(result.warnings), "log": lines,
            "seconds": time.perf_counter() - start}


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _ray_cell(data, config, label, horizon):
    import ray

    worker_setup()
    return {**run_cell(data, config, label, horizon),
            "node": ray.get_runtime_context().get_node_id()}


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
        self.folder = Path(output) / CELL_FOLDER

    def open(self, settings: dict, overwrite: bool = False) -> dict[str, dict]:
        """Start or resume: the stored records by file name (none for a new run).

        Raises
        ------
        ValueError
            The folder holds the cells of a run with other settings (named), or an unreadable
            settings or cell file.
        """
        if overwrite:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.settings.unlink(missing_ok=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.settings.is_file():
            write_bytes_atomic(self.settings, json.dumps(settings, indent=1).encode())
            return {}
        stored = _read(self.settings)
        if stored != settings:
            diff = differences(settings, stored)
            raise ValueError(
                f"--output {str(self.folder.parent)!r} holds the cells of a run with other "
                f"settings ({'; '.join(diff[:4])}{'; ...' if len(diff) > 4 else ''}); rerun "
                "that command to finish it, pass --overwrite to start afresh, or choose another "
                "folder")
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
             workers: int | None = None, address: str | None = None,
             log=print) -> list[BenchmarkResult]:
    """Run every cell of ``jobs`` not yet in ``output``'s cell store, keep each as it finishes,
    and assemble one :class:`~s4d_forecast.comparison.runner.BenchmarkResult` per job (the
    table of a sequential run).

    Parameters
    ----------
    output : str or Path, optional
        The run's folder (:class:`CellStore`); ``None``: the cells are not kept.
    overwrite : bool
        Start afresh in ``output`` instead of resuming.
    workers, address : optional
        Run the cells as Ray tasks on a local instance with ``workers`` CPUs, or on the
        cluster at ``address``; neither: one after another in this process.

    Raises
    ------
    ValueError
        A bad setting or a data set too short (before any cell runs; a suite case is named),
        or a store holding another run's cells.
    """
    preps = []
    for job in jobs:
        try:
            job.config.validate()
            preps.append(prepare_data(job.data, job.config))
            check_models_build(job.config)
        except ValueError as exc:
            raise ValueError(f"case {job.case!r}: {exc}" if job.case else str(exc)) from exc
    cells, skipped = plan(jobs)
    store = None if output is None else CellStore(output)
    found = {} if store is None else store.open(run_settings(jobs), overwrite)
    records = {c: found[c.file] for c in cells if c.file in found}
    todo = [c for c in cells if c not in records]
    if records:
        log(f"resuming: {len(records)} of {len(cells)} cells are in {store.folder} (an earlier "
            f"run of these settings); {len(todo)} to run")
    for j, lines in enumerate(skipped):
        for line in lines:
            log(f"{_prefix(jobs[j])}skip {line}")
    printed = [set() for _ in jobs]

    def echo(job: int, line: str) -> None:
        if line not in printed[job]:
            printed[job].add(line)
            log(f"{_prefix(jobs[job])}{line}")

    first, done = None, 0  # the time left is estimated from the cells after the first
    if workers or address:
        finished = _on_ray(jobs, preps, todo, workers, address)
    else:
        finished = _here(jobs, todo, echo)
    for cell, record in finished:
        if store is not None and "error" not in record:
            store.write(cell, record)
        records[cell] = record
        for line in record["log"]:
            echo(cell.job, line)
        done, left = done + 1, len(todo) - done - 1
        first = time.perf_counter() if first is None else first
        eta = (time.perf_counter() - first) / (done - 1) * left if done > 1 else None
        outcome = (f"FAILED ({record['error']})" if "error" in record
                   else f"MSE {record['row']['mse']:.4f}")
        log(f"[{len(records)}/{len(cells)}] {_prefix(jobs[cell.job])}{cell.label} "
            f"h={cell.horizon}: {outcome} in {record['seconds']:.1f} s; {left} left"
            + (f", about {_duration(eta)} to go" if left and eta is not None else ""))
    return [assemble(job, preps[j], [(c, records[c]) for c in cells if c.job == j],
                     skipped[j]) for j, job in enumerate(jobs)]


def _prefix(job: Job) -> str:
    return f"{job.case}: " if job.case else ""


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _here(jobs, todo, echo):
    stat_cache = {}  # the statistical fits of one dataset serve all its horizons and cases
    for cell in todo:
        job = jobs[cell.job]
        yield cell, run_cell(job.data, job.config, cell.label, cell.horizon, stat_cache,
                             echo=lambda line, j=cell.job: echo(j, line))


def _on_ray(jobs, preps, todo, workers, address):
    with ray_session(workers, address) as ray:
        task = ray.remote(_ray_cell)
        data = {}
        for job in jobs:
            if id(job.data) not in data:
                data[id(job.data)] = ray.put(job.data)

        def cost(cell):  # longest first, so no long cell starts last
            job, prep = jobs[cell.job], preps[cell.job]
            windows = prep.bounds[0][1] - job.config.lookback - cell.horizon + 1
            windows = min(windows, job.config.max_train_windows or windows)
            return -(cell.model != "naive") * windows * len(prep.columns) * (
                job.config.lookback + cell.horizon)

        pending = {}
        for cell in sorted(todo, key=cost):
            job = jobs[cell.job]
            gpus = 1 if job.config.device == "gpu" else 0
            ref = task.options(num_cpus=1, num_gpus=gpus).remote(
                data[id(job.data)], job.config, cell.label, cell.horizon)
            pending[ref] = cell
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            cell = pending.pop(ref)
            try:
                record = ray.get(ref)
            except Exception as exc:  # the worker died on every retry
                record = {"error": f"{type(exc).__name__}: {exc}", "log": [], "seconds": 0.0}
            yield cell, record


def _failed_row(cell: Cell, error: str) -> dict:
    row = {c: math.nan for c in COLUMNS}
    row.update(model=cell.label, horizon=cell.horizon, fit_s=0.0, predict_s=0.0, params=0,
               epochs_run=0, best_epoch=-1, train_windows=0, test_windows=0,
               common_windows=0, detail=FAILED + error)
    return row


def assemble(job: Job, prep, finished: list, skipped: list[str]) -> BenchmarkResult:
    """The :class:`~s4d_forecast.comparison.runner.BenchmarkResult` of ``job`` from its
    ``(cell, record)`` pairs in plan order: what
    :func:`~s4d_forecast.comparison.runner.run_benchmark` returns for the same budget, a failed
    cell as a row."""
    config = job.config
    rows, per_step, examples, warnings = [], {}, {}, []
    for cell, record in finished:
        key = (cell.label, cell.horizon)
        if "error" in record:
            rows.append(_failed_row(cell, record["error"]))
            warnings.append(f"{cell.label} h={cell.horizon} failed ({record['error']}); rerun "
                            "the same command to run it again")
            continue
        rows.append(record["row"])
        per_step[key] = tuple(np.asarray(v) for v in record["per_step"])
        examples[key] = None if record["example"] is None else np.asarray(record["example"])
        warnings += record["warnings"]
    common, example_window = {}, {}
    for horizon in config.horizons:
        common[horizon], example_window[horizon] = common_windows(config, prep, horizon)
    return BenchmarkResult(job.data, config, prep, pd.DataFrame(rows, columns=COLUMNS),
                           per_step, examples, example_window, skipped, common, warnings)


def failed_cells(table: pd.DataFrame) -> int:
    """How many rows of a results table are failed cells."""
    return int(table["detail"].astype(str).str.startswith(FAILED).sum())
