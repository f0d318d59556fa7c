"""``settings.json``: what a run's rows depend on.

Each case's data, horizons, lookback, season and protocol; the budget
(:data:`~s4d_forecast.comparison.baseline.BUDGET_KEYS`); the statistical subset; the rows
(:data:`~s4d_forecast.comparison.baseline.ROW_KEYS`). A run resumes in its --output only with
all of it equal (:mod:`.cells`); ``--baseline DIR`` needs the cases and budget equal and reads
``DIR/results.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

SETTINGS_FILE = "settings.json"
BUDGET_KEYS = ("epochs", "patience", "seed", "max_train_windows", "batch_size", "lr", "rin",
               "stat_windows", "stat_fit_rows")
ROW_KEYS = ("models", "model_kwargs", "s4d_variants", "device")


def run_settings(jobs) -> dict:
    """The settings of a run of ``jobs`` (one budget) as JSON reads them back."""
    from s4d_forecast.comparison.datasets import check_targets
    from s4d_forecast.comparison.runner import uses_stat_subset

    config = jobs[0].config
    settings = {
        "cases": {job.case or job.data.name: {
            "dataset": job.data.name, "horizon": (list(job.config.horizons) if len(
                job.config.horizons) > 1 else job.config.horizons[0]),
            "lookback": job.config.lookback, "season": job.config.season,
            "protocol": job.config.protocol,
            "data": _fingerprint(check_targets(job.data))} for job in jobs},
        **{key: getattr(config, key) for key in BUDGET_KEYS},
        "statistical_subset": uses_stat_subset(config),
        **{key: getattr(config, key) for key in ROW_KEYS},
    }
    return json.loads(json.dumps(settings, default=repr))


def _fingerprint(frame: pd.DataFrame) -> str:
    """A short hash of a frame's columns, time stamps and values."""
    import hashlib

    digest = hashlib.sha256(repr(list(frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def differences(here, there, path: str = "") -> list[str]:
    """``"path: value here, value there"`` for every leaf where two settings differ."""
    if isinstance(here, dict) and isinstance(there, dict):
        return [d for key in [*here, *(k for k in there if k not in here)]
                for d in differences(here.get(key), there.get(key), f"{path}.{key}".strip("."))]
    if isinstance(here, list) and isinstance(there, list) and len(here) == len(there):
        return [d for i, (a, b) in enumerate(zip(here, there))
                for d in differences(a, b, f"{path}[{i}]")]
    return [] if here == there else [f"{path}: {here!r} here, {there!r} there"]


def load_baseline(folder, settings: dict, labels_now: set) -> tuple[pd.DataFrame, bool]:
    """The rows of ``folder``'s run for these cases and the models not in ``labels_now``,
    and whether they were scored on the statistical subset; other settings (each difference
    named), a missing file or a failed row are refused."""
    from s4d_forecast.comparison.cells import FAILED

    folder = Path(folder)
    where = f"--baseline {str(folder)!r}"
    try:
        earlier = json.loads((folder / SETTINGS_FILE).read_text())
        table = pd.read_csv(folder / "results.csv")
    except FileNotFoundError as exc:
        raise ValueError(f"{where}: {exc.filename} does not exist; give the --output folder "
                         "of an earlier, finished `s4d-forecast benchmark --suite` run") from None
    except (json.JSONDecodeError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: unreadable settings or results ({exc})") from None
    differ = differences({k: settings[k] for k in BUDGET_KEYS},
                         {k: earlier.get(k) for k in BUDGET_KEYS})
    for name, case in settings["cases"].items():
        there = earlier.get("cases", {}).get(name)
        differ += ([f"case {name!r} was not run there"] if there is None
                   else differences(case, there, f"cases.{name}"))
    if settings["statistical_subset"] and not earlier.get("statistical_subset"):
        differ.append("statistical models run here, but none ran there, so its rows were "
                      "not scored on their window subset")
    if differ:
        raise ValueError(f"{where} used other settings, so its rows cannot stand beside this "
                         f"run's: {'; '.join(differ)}")
    rows = table[table["case"].isin(settings["cases"]) & ~table["model"].isin(labels_now)]
    failed = rows[rows["detail"].astype(str).str.startswith(FAILED)]
    if len(failed):
        raise ValueError(f"{where}: {', '.join(failed['case'] + ' ' + failed['model'])} failed "
                         "there; rerun that command to finish it, or run those models now")
    note = f"row from {folder / 'results.csv'}"
    rows = rows.assign(detail=[f"{d}; {note}" if isinstance(d, str) and d else note
                               for d in rows["detail"]])
    return rows.reset_index(drop=True), bool(earlier.get("statistical_subset"))
