"""Rows of an earlier suite run reused beside a new one (``benchmark --suite --baseline DIR``).

Every suite run writes ``settings.json`` beside its ``results.csv``: each case's dataset,
horizon, lookback, season, protocol and a fingerprint of its data (a hash of the values and
time stamps read), the shared budget (:data:`BUDGET_KEYS`) and whether ``mse_common`` was
scored on the statistical models' window subset. A run given ``--baseline DIR`` reads the
rows of the models it does not run itself from ``DIR/results.csv``, after checking that
every case it runs is in DIR with the same settings and data and that the budget is the
same; the rows are then summarised with the new ones as if they had run together (their
``detail`` says where they come from). Anything that differs is refused before training.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

SETTINGS_FILE = "settings.json"
BUDGET_KEYS = ("epochs", "patience", "seed", "max_train_windows", "batch_size", "lr", "rin",
               "stat_windows", "stat_fit_rows")


def data_fingerprint(frame: pd.DataFrame) -> str:
    """A short hash of a frame's columns, time stamps and values."""
    import hashlib

    digest = hashlib.sha256(repr(list(frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def run_settings(cases, config, fingerprints: dict) -> dict:
    """What a suite run's rows depend on: the cases (with ``fingerprints[case.name]``), the
    budget and ``statistical_subset``."""
    return {
        "cases": {c.name: {"dataset": c.dataset, "horizon": c.horizon, "lookback": c.lookback,
                           "season": c.season, "protocol": c.protocol,
                           "data": fingerprints[c.name]} for c in cases},
        **{key: getattr(config, key) for key in BUDGET_KEYS},
        "statistical_subset": bool(config.common_subset or any(
            m in ("ets", "theta", "arima") for m in config.models)),
    }


def write_settings(output: Path, settings: dict) -> Path:
    path = Path(output) / SETTINGS_FILE
    path.write_text(json.dumps(settings, indent=1) + "\n")
    return path


def load_baseline(folder, settings: dict, labels_now: set) -> tuple[pd.DataFrame, bool]:
    """The rows of ``folder``'s run for this run's cases and models not in ``labels_now``,
    and whether they were scored on the statistical models' subset.

    Raises
    ------
    ValueError
        ``folder`` lacks ``settings.json`` or ``results.csv``, or its settings differ from
        ``settings`` (naming each difference), or this run has statistical models and the
        baseline's common windows were not their subset.
    """
    folder = Path(folder)
    where = f"--baseline {str(folder)!r}"
    try:
        earlier = json.loads((folder / SETTINGS_FILE).read_text())
        table = pd.read_csv(folder / "results.csv")
    except FileNotFoundError as exc:
        raise ValueError(f"{where}: {exc.filename} does not exist; give the --output folder "
                         "of an earlier `s4d-forecast benchmark --suite` run") from None
    except (json.JSONDecodeError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: unreadable settings or results ({exc})") from None
    differ = [f"{key} {settings[key]!r} here, {earlier.get(key)!r} there"
              for key in BUDGET_KEYS if earlier.get(key) != settings[key]]
    for name, case in settings["cases"].items():
        there = earlier.get("cases", {}).get(name)
        if there is None:
            differ.append(f"case {name!r} was not run there")
        elif there != case:
            differ += [f"case {name!r}: {key} {case[key]!r} here, {there.get(key)!r} there"
                       for key in case if there.get(key) != case[key]]
    if settings["statistical_subset"] and not earlier.get("statistical_subset"):
        differ.append("statistical models run here, but none ran there, so its rows were "
                      "not scored on their window subset")
    if differ:
        raise ValueError(f"{where} used other settings, so its rows cannot stand beside this "
                         f"run's: {'; '.join(differ)}")
    rows = table[table["case"].isin(settings["cases"]) & ~table["model"].isin(labels_now)]
    note = f"row from {folder / 'results.csv'}"
    rows = rows.assign(detail=[f"{d}; {note}" if isinstance(d, str) and d else note
                               for d in rows["detail"]])
    return rows.reset_index(drop=True), bool(earlier.get("statistical_subset"))
