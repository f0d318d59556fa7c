"""Run a suite of cases under one budget and summarise them (``benchmark --suite``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from s4d_forecast.comparison.baseline import load_baseline, run_settings
from s4d_forecast.comparison.cells import Job, run_jobs
from s4d_forecast.comparison.runner import BenchmarkConfig
from s4d_forecast.comparison.suite import Case, load_case_data
from s4d_forecast.comparison.summary import summarise


@dataclass
class SuiteResult:
    """Every case's :class:`BenchmarkResult`, all rows in one table, and the summary.

    Attributes
    ----------
    table : pd.DataFrame
        The per-case tables stacked, with a leading ``case`` column.
    summary : pd.DataFrame
        :func:`~s4d_forecast.comparison.summary.summarise` of ``table``.
    """

    cases: list
    results: dict
    table: pd.DataFrame
    summary: pd.DataFrame
    config: BenchmarkConfig


def run_suite(cases: list[Case], config: BenchmarkConfig, root: str | Path | None = None,
              log=print, baseline: str | Path | None = None,
              output: str | Path | None = None, *, overwrite: bool = False,
              workers: int | None = None, address: str | None = None) -> SuiteResult:
    """Run every case with ``config``'s budget (its horizon, lookback, season and protocol
    replaced by the case's), one cell per row (:func:`~s4d_forecast.comparison.cells.run_jobs`).

    Every dataset is read before any training, so a missing file stops the run at once.

    Parameters
    ----------
    baseline : str or Path, optional
        An earlier suite run's folder: its rows of the models not run now are added to each
        case (:mod:`~s4d_forecast.comparison.baseline`).
    output : str or Path, optional
        Keep the settings and every finished cell there, and resume from them
        (:class:`~s4d_forecast.comparison.cells.CellStore`); such a folder can serve as a
        later run's ``baseline`` once its tables are written
        (:func:`~s4d_forecast.comparison.report.write_suite_report`).
    overwrite, workers, address
        As :func:`~s4d_forecast.comparison.cells.run_jobs`.

    Raises
    ------
    ValueError
        A missing data file (naming it), a bad setting, a baseline run with other settings,
        or an output folder holding the cells of other settings.
    """
    if not cases:
        raise ValueError("no cases to run")
    data = {}
    for case in cases:
        if case.dataset not in data:
            data[case.dataset] = load_case_data(case, root)
    config.validate()

    def jobs(config):
        return [Job(case.name,
                    dataclasses.replace(data[case.dataset],
                                        notes=[*data[case.dataset].notes, case.note]),
                    dataclasses.replace(config, horizons=[case.horizon], lookback=case.lookback,
                                        season=case.season, protocol=case.protocol))
                for case in cases]

    earlier = None
    if baseline is not None:
        labels = {label for _, label, _ in config.entries()}
        earlier, subset = load_baseline(baseline, run_settings(jobs(config)), labels)
        config = dataclasses.replace(config, common_subset=config.common_subset or subset)
        log(f"baseline: {len(earlier)} row(s) of {sorted(set(earlier['model']))} from "
            f"{baseline}")
    results = run_jobs(jobs(config), output, overwrite=overwrite, workers=workers,
                       address=address, log=log)
    for case, result in zip(cases, results, strict=True):
        if earlier is not None:
            rows = earlier[earlier["case"] == case.name].drop(columns="case")
            result.table = pd.concat([result.table, rows], ignore_index=True)
    table = pd.concat([r.table.assign(case=c.name) for c, r in zip(cases, results)],
                      ignore_index=True)
    table = table[["case", *[c for c in table.columns if c != "case"]]]
    return SuiteResult(list(cases), {c.name: r for c, r in zip(cases, results)}, table,
                       summarise(table), config)
