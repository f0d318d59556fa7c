"""The dev suite of ``s4d-forecast benchmark --suite dev``: real series, one budget, a summary.

Each :class:`Case`'s horizon, lookback, season and protocol were chosen from what the data is
before any run (never from test scores); its ``note`` says why. The files are read from the
data root (:func:`~s4d_forecast.comparison.datasets.data_root`); CO2 ships with statsmodels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from s4d_forecast.comparison import datasets as ds


@dataclass(frozen=True)
class Case:
    """One forecasting problem of a suite: a unique ``name`` (for ``--cases``), a key of
    :data:`LOADERS`, the ``horizon`` and ``lookback`` of every model, the ``season`` in steps
    (statistical models use it when <= 24), why (``note``) and the ``protocol``."""

    name: str
    dataset: str
    horizon: int
    lookback: int
    season: int | None = None
    note: str = ""
    protocol: str = "default"


def _named(data: ds.BenchmarkData, name: str, unit: str | None = None) -> ds.BenchmarkData:
    data.name = name
    data.units.update({data.frame.columns[0]: unit} if unit else {})
    return data


def _weather(relative: str, name: str, targets: list[str] | None):
    return lambda root: _named(ds.load_dataset("weather", ds.need_file(root, relative, name),
                                            target_cols=targets), name)


def _monthly(relative: str, name: str, unit: str):
    return lambda root: _named(ds.load_csv(ds.need_file(root, relative, name), "Month"), name, unit)


def _temperatures(root: Path) -> ds.BenchmarkData:
    """Daily minimum temperatures, Melbourne 1981-1990: the file has no rows for 1984-12-31
    and 1988-12-31; they are inserted and filled by time interpolation."""
    data = ds.load_csv(ds.need_file(root, "series/temps.csv", "temps"), "Date")
    index = data.frame.index
    full = pd.date_range(index[0], index[-1], freq="D", name="date")
    missing = full.difference(index)
    data.frame = ds.check_targets(data).reindex(full).interpolate(method="time")
    data.notes = [f"{len(index)} daily rows {index[0]:%Y-%m-%d} .. {index[-1]:%Y-%m-%d}"]
    if len(missing):
        data.notes.append(f"{len(missing)} missing day(s) "
                          f"({', '.join(f'{d:%Y-%m-%d}' for d in missing)}: no row in the file) "
                          "filled by linear interpolation in time before the split")
    return _named(data, "temps", "degC")


def _heart_rate(root: Path) -> ds.BenchmarkData:
    path = ds.need_file(root, "series/heart_rate.csv", "heart_rate")
    frame = ds.read_csv(path)
    frame.index = pd.Index(np.arange(len(frame)) * 0.5, name="time (s)")
    return ds.BenchmarkData("heart_rate", frame, str(path),
                         [f"{len(frame)} samples at 0.5 s ({len(frame) / 120:.0f} min); the "
                          "file has no time column, so time is counted from 0 s"],
                         {frame.columns[0]: "bpm"})


LOADERS: dict[str, Callable[[Path], ds.BenchmarkData]] = {
    "weather_tlog": _weather("weather/weather_2020_Tlog_OT.csv", "weather_tlog",
                             ["Tlog (degC)"]),
    "weather_head": _weather("weather/weather_2020_head.csv", "weather_head", None),
    "co2": lambda root: ds.load_co2(),
    "airpassengers": _monthly("series/AirPassengers.csv", "airpassengers",
                              "thousands of passengers"),
    "sunspots": _monthly("series/monthly-sunspots.csv", "sunspots",
                         "monthly mean sunspot number"),
    "temps": _temperatures,
    "heart_rate": _heart_rate,
    "etth2": lambda root: ds.load_ett("etth2", root=root),
}

_WEATHER = ("10-minute weather, lookback 96 (16 h) as in the long-horizon benchmark; the daily "
            "season (144 steps) is too long for the statistical models' seasonal terms")
DEV_SUITE: list[Case] = [
    Case("weather_tlog_96", "weather_tlog", 96, 96, 144, "Tlog only, full year; " + _WEATHER),
    Case("weather_tlog_192", "weather_tlog", 192, 96, 144, "Tlog only, full year; " + _WEATHER),
    Case("weather_head_48", "weather_head", 48, 96, 144, "all 21 variables, first 2,999 rows; "
         + _WEATHER),
    Case("weather_head_96", "weather_head", 96, 96, 144, "all 21 variables, first 2,999 rows; "
         + _WEATHER),
    Case("co2_26", "co2", 26, 104, 52, "weekly; half a year ahead from two years (two full "
         "annual cycles); season 52 > 24, so the statistical models are non-seasonal"),
    Case("co2_52", "co2", 52, 104, 52, "weekly; a year ahead from two years; season 52 > 24, "
         "so the statistical models are non-seasonal"),
    Case("airpassengers", "airpassengers", 12, 24, 12, "monthly; a year ahead from two years "
         "(36 would leave 53 training windows instead of 65); seasonal statistical models "
         "(period 12)"),
    Case("sunspots", "sunspots", 12, 132, None, "monthly; a year ahead from one mean solar "
         "cycle (132 months); the cycle varies in length (9-14 years), so no fixed season"),
    Case("temps", "temps", 14, 365, 365, "daily; two weeks ahead from a year; season 365 > 24, "
         "so the statistical models are non-seasonal; 2 missing days filled"),
    Case("heart_rate", "heart_rate", 20, 120, None, "0.5 s steps; 10 s ahead from 60 s: "
         "heart rate moves over seconds, so the level can change within the horizon while "
         "the last minute still informs it (5 s would favour persistence by construction)"),
    *[Case(f"etth2_{h}", "etth2", h, 96, None, "hourly, all 7 columns; the long-horizon "
           "papers' protocol (ETT split 12/4/4 months, lookback 96); non-seasonal statistical "
           "models (with the daily season auto-ARIMA took over 3 CPU minutes per column)",
           "ltsf") for h in (96, 192, 336, 720)],
]
SUITES = {"dev": DEV_SUITE}


def select_cases(suite: str, names: list[str] | None = None) -> list[Case]:
    """The cases of ``suite``, filtered to ``names`` (in the suite's order) when given."""
    if suite not in SUITES:
        raise ValueError(f"--suite={suite!r} is not accepted; use one of {sorted(SUITES)}")
    known = [c.name for c in SUITES[suite]]
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise ValueError(f"--cases: {unknown} not in suite {suite!r}; accepted: "
                         f"{','.join(known)}")
    return [c for c in SUITES[suite] if not names or c.name in names]


def load_case_data(case: Case, root: str | Path | None = None) -> ds.BenchmarkData:
    """Read ``case``'s dataset from the data root."""
    return LOADERS[case.dataset](ds.data_root(root))


@dataclass
class SuiteResult:
    """Every case's ``BenchmarkResult`` by name, all rows in ``table`` (with ``case``) and
    its :func:`~s4d_forecast.comparison.summary.summarise` (``summary``)."""

    cases: list
    results: dict
    table: pd.DataFrame
    summary: pd.DataFrame
    config: object


def run_suite(cases: list[Case], config, root: str | Path | None = None, log=print,
              baseline: str | Path | None = None, output: str | Path | None = None, *,
              overwrite: bool = False, workers: int | None = None,
              address: str | None = None) -> SuiteResult:
    """Run every case with ``config``'s budget, reading every dataset first; ``baseline``: an
    earlier run's folder whose rows of the models not run now are added (:mod:`.baseline`);
    the rest as :func:`~s4d_forecast.comparison.cells.run_jobs`."""
    from s4d_forecast.comparison.baseline import load_baseline, run_settings
    from s4d_forecast.comparison.cells import Job, run_jobs
    from s4d_forecast.comparison.summary import summarise

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
    for case, result in zip(cases, results):
        if earlier is not None:
            rows = earlier[earlier["case"] == case.name].drop(columns="case")
            result.table = pd.concat([result.table, rows], ignore_index=True)
    table = pd.concat([r.table.assign(case=c.name) for c, r in zip(cases, results)],
                      ignore_index=True)
    table = table[["case", *[c for c in table.columns if c != "case"]]]
    return SuiteResult(list(cases), {c.name: r for c, r in zip(cases, results)}, table,
                       summarise(table), config)
