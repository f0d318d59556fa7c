"""Run a suite of cases under one budget and summarise them (``benchmark --suite``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from s4d_forecast.comparison.baseline import data_fingerprint, load_baseline, run_settings
from s4d_forecast.comparison.datasets import check_targets
from s4d_forecast.comparison.runner import (
    BenchmarkConfig,
    check_models_build,
    run_benchmark,
)
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
    settings : dict
        What the rows depend on (:func:`~s4d_forecast.comparison.baseline.run_settings`).
    """

    cases: list
    results: dict
    table: pd.DataFrame
    summary: pd.DataFrame
    config: BenchmarkConfig
    settings: dict


def run_suite(cases: list[Case], config: BenchmarkConfig, root: str | Path | None = None,
              log=print, baseline: str | Path | None = None) -> SuiteResult:
    """Run every case with ``config``'s budget (its horizon, lookback, season and protocol
    replaced by the case's).

    Every dataset is read before any training, so a missing file stops the run at once.

    Parameters
    ----------
    baseline : str or Path, optional
        An earlier suite run's folder: its rows of the models not run now are added to each
        case (:mod:`~s4d_forecast.comparison.baseline`).

    Raises
    ------
    ValueError
        A missing data file (naming it), a bad setting, or a baseline run with other
        settings.
    """
    if not cases:
        raise ValueError("no cases to run")
    data = {}
    for case in cases:
        if case.dataset not in data:
            data[case.dataset] = load_case_data(case, root)
    config.validate()
    fingerprints = {c.name: data_fingerprint(check_targets(data[c.dataset])) for c in cases}
    earlier = None
    if baseline is not None:
        labels = {label for _, label, _ in config.entries()}
        earlier, subset = load_baseline(baseline, run_settings(cases, config, fingerprints),
                                        labels)
        config = dataclasses.replace(config, common_subset=config.common_subset or subset)
        log(f"baseline: {len(earlier)} row(s) of {sorted(set(earlier['model']))} from "
            f"{baseline}")
    case_configs = [dataclasses.replace(config, horizons=[case.horizon],
                                        lookback=case.lookback, season=case.season,
                                        protocol=case.protocol)
                    for case in cases]
    for case, case_config in zip(cases, case_configs, strict=True):
        try:  # every case's models are built once before the first one trains
            check_models_build(case_config)
        except ValueError as exc:
            raise ValueError(f"case {case.name!r}: {exc}") from exc
    results, tables, stat_cache = {}, [], {}
    for i, (case, case_config) in enumerate(zip(cases, case_configs, strict=True), 1):
        log(f"\n=== case {i}/{len(cases)}: {case.name} (h={case.horizon}, lookback "
            f"{case.lookback}, season {case.season or '-'}) ===")
        case_data = dataclasses.replace(data[case.dataset],
                                        notes=[*data[case.dataset].notes, case.note])
        result = run_benchmark(case_data, case_config, log=log, stat_cache=stat_cache)
        if earlier is not None:
            rows = earlier[earlier["case"] == case.name].drop(columns="case")
            result.table = pd.concat([result.table, rows], ignore_index=True)
        results[case.name] = result
        tables.append(result.table.assign(case=case.name))
    table = pd.concat(tables, ignore_index=True)
    table = table[["case", *[c for c in table.columns if c != "case"]]]
    return SuiteResult(list(cases), results, table, summarise(table), config,
                       run_settings(cases, config, fingerprints))

