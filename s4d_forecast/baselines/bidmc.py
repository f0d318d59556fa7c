"""Signal-processing baselines for BIDMC32 HR / RR / SpO2, scored on the models' test windows.

The windows, their targets and the splits are those of the training pipeline
(:func:`~s4d_forecast.data.bidmc.make_bidmc_windows`,
:func:`~s4d_forecast.data.bidmc.bidmc_splits`), so the numbers sit beside the S4D runs'
``test/rmse`` on exactly the same windows.

Estimators
----------
Heart rate (``HR``, beats/min)
    R-peaks of ECG lead II detected in each 32-s window alone with ``wfdb``'s XQRS
    (:func:`wfdb.processing.xqrs_detect`). Every R-R interval gives an instantaneous rate
    ``60 / RR`` (intervals outside 30-220 beats/min are ignored, as
    :func:`wfdb.processing.calc_hr` bounds them). The target is the mean of the monitor's 1-Hz
    HR rows at seconds ``0, 1, ..., 31`` of the window, so the estimate is built the same way:
    the instantaneous rate in force at each of those 32 seconds (the R-R interval that
    contains it; the first or last interval before the first or after the last peak),
    averaged.
Breathing rate (``RR``, breaths/min)
    Karlen et al.'s PPG estimator (W. Karlen, S. Raman, J. M. Ansermino, G. A. Dumont,
    "Multiparameter respiratory rate estimation from the photoplethysmogram", IEEE Trans.
    Biomed. Eng. 60(7):1946-1953, 2013), which was designed for 32-s windows: three
    beat-by-beat respiratory-induced variations of the PPG -- intensity (RIIV, the pulse
    peak's height), amplitude (RIAV, peak minus the preceding trough) and frequency (RIFV,
    the peak-to-peak interval) -- are each interpolated to 4 Hz, and each gives the frequency
    of its largest power-spectrum peak in 0.1-0.7 Hz (6-42 breaths/min). "Smart fusion":
    when the three estimates' standard deviation is below 4 breaths/min their mean is the
    estimate. Karlen et al. discard the other windows; to score every test window the
    median of the three is used there instead, and the fraction of windows that passed the
    fusion test is reported with the RMSE on those windows alone.
SpO2 (%)
    No baseline: oxygen saturation is computed by pulse oximeters from the ratio of the red
    and infrared absorbances, and the BIDMC release carries one PPG waveform (no red/IR
    pair), so no single-channel estimator exists. Only predict-the-mean is reported.

Every target also gets predict-the-mean: the training split's mean target for every test
window (what a model that learned nothing scores).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s4d_forecast._checks import check_float

log = logging.getLogger(__name__)

FS = 125.0
HR_RANGE = (30.0, 220.0)
RESP_BAND_HZ = (0.1, 0.7)
RESAMPLE_HZ = 4.0
FUSION_STD = 4.0
SCHEMES = ("reshuffled", "patient")
OUTPUT_FILES = ("results.csv", "results.md", "summary.json", "predictions.csv")


# --------------------------------------------------------------------------- heart rate
def r_peaks(ecg: np.ndarray, fs: float = FS) -> np.ndarray:
    """R-peak sample indices of one ECG segment, detected with ``wfdb``'s XQRS.

    Parameters
    ----------
    ecg : np.ndarray
        ``(L,)`` ECG samples (any unit).
    fs : float
        Sampling rate in Hz.

    Returns
    -------
    np.ndarray
        Sorted ``int64`` indices of the detected QRS complexes (possibly empty).
    """
    from wfdb import processing

    ecg, fs = np.asarray(ecg, dtype=np.float64), check_float("fs", fs, 0, lo_open=True)
    if ecg.ndim != 1:
        raise ValueError(f"ecg must be 1-D (L,), got shape {ecg.shape}")
    if not np.isfinite(ecg).all() or np.ptp(ecg) == 0:
        return np.zeros(0, dtype=np.int64)
    peaks = processing.xqrs_detect(sig=ecg, fs=fs, verbose=False)
    return np.sort(np.asarray(peaks, dtype=np.int64))


def hr_from_peaks(peaks: np.ndarray, fs: float = FS, window_s: float = 32.0,
                  rows_hz: float = 1.0, hr_range: tuple[float, float] = HR_RANGE) -> float:
    """Window heart rate built like the BIDMC target: the mean of per-second rates.

    Parameters
    ----------
    peaks : np.ndarray
        R-peak (or pulse-peak) sample indices within the window.
    fs : float
        Sampling rate of the indices (Hz).
    window_s : float
        Window length (s); the rates are read at ``0, 1/rows_hz, ...`` below ``window_s``.
    rows_hz : float
        Rate of the monitor's numerics rows (BIDMC: 1 Hz).
    hr_range : (float, float)
        Instantaneous rates (beats/min) outside this range are treated as detection errors.

    Returns
    -------
    float
        Beats/min; ``NaN`` when fewer than two peaks give a plausible interval.
    """
    for name, value in (("fs", fs), ("window_s", window_s), ("rows_hz", rows_hz)):
        check_float(name, value, 0, lo_open=True)
    peaks = np.sort(np.asarray(peaks, dtype=np.float64))
    if len(peaks) < 2:
        return float("nan")
    t = peaks / fs
    rate = 60.0 / np.diff(t)
    ok = (rate >= hr_range[0]) & (rate <= hr_range[1])
    if not ok.any():
        return float("nan")
    # interval i spans [t[i], t[i+1]); keep the plausible ones
    start, rate = t[:-1][ok], rate[ok]
    rows = np.arange(0.0, window_s - 1e-9, 1.0 / rows_hz)
    # the interval in force at each row: the last one starting at or before it
    # (rows before the first peak take the first interval)
    idx = np.clip(np.searchsorted(start, rows, side="right") - 1, 0, len(rate) - 1)
    return float(np.mean(rate[idx]))


def ecg_heart_rate(ecg: np.ndarray, fs: float = FS, window_s: float | None = None) -> float:
    """Heart rate (beats/min) of one ECG window: :func:`r_peaks` then :func:`hr_from_peaks`.

    Parameters
    ----------
    ecg : np.ndarray
        ``(L,)`` ECG samples.
    fs : float
        Sampling rate (Hz).
    window_s : float, optional
        Window length; default ``len(ecg) / fs``.

    Returns
    -------
    float
        ``NaN`` when no rate could be measured.
    """
    ecg = np.asarray(ecg)
    window_s = len(ecg) / fs if window_s is None else window_s
    return hr_from_peaks(r_peaks(ecg, fs), fs, window_s)


# --------------------------------------------------------------------------- breathing rate
def ppg_beats(ppg: np.ndarray, fs: float = FS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pulse peaks and the trough before each, on a 0.5-8 Hz band-passed PPG.

    Parameters
    ----------
    ppg : np.ndarray
        ``(L,)`` PPG samples.
    fs : float
        Sampling rate (Hz).

    Returns
    -------
    peaks, troughs : np.ndarray
        Sample indices of matched pulse peaks and the trough preceding each (same length).
    smooth : np.ndarray
        The PPG low-passed at 8 Hz (baseline kept), on which the beat features are read.
    """
    from scipy import signal

    x, fs = np.asarray(ppg, dtype=np.float64), check_float("fs", fs, 0, lo_open=True)
    if x.ndim != 1:
        raise ValueError(f"ppg must be 1-D (L,), got shape {x.shape}")
    lo = signal.butter(3, 8.0, btype="lowpass", fs=fs, output="sos")
    band = signal.butter(3, (0.5, 8.0), btype="bandpass", fs=fs, output="sos")
    smooth = signal.sosfiltfilt(lo, x)
    beat = signal.sosfiltfilt(band, x)
    # at most 220 beats/min; a pulse must stand out by a quarter of the typical swing
    dist = max(1, int(round(fs * 60.0 / HR_RANGE[1])))
    prom = 0.25 * (np.percentile(beat, 95) - np.percentile(beat, 5))
    if not prom > 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, smooth
    pk, _ = signal.find_peaks(beat, distance=dist, prominence=prom)
    tr, _ = signal.find_peaks(-beat, distance=dist, prominence=prom)
    peaks, troughs = [], []
    for p in pk:
        j = np.searchsorted(tr, p) - 1  # last trough before the peak
        if j >= 0 and (not peaks or tr[j] > peaks[-1]):
            peaks.append(p)
            troughs.append(tr[j])
    return np.asarray(peaks, dtype=np.int64), np.asarray(troughs, dtype=np.int64), smooth


def respiratory_variations(ppg: np.ndarray, fs: float = FS) -> dict[str, tuple]:
    """Karlen et al.'s three beat-by-beat respiratory-induced variations of a PPG.

    Parameters
    ----------
    ppg : np.ndarray
        ``(L,)`` PPG samples.
    fs : float
        Sampling rate (Hz).

    Returns
    -------
    dict
        ``{"RIIV": (t, v), "RIAV": (t, v), "RIFV": (t, v)}``: beat times (s) and the pulse
        peak's intensity, its amplitude above the preceding trough, and the interval from
        the previous peak (s). Empty arrays when fewer than three beats are found.
    """
    peaks, troughs, smooth = ppg_beats(ppg, fs)
    if len(peaks) < 3:
        e = np.zeros(0)
        return {"RIIV": (e, e), "RIAV": (e, e), "RIFV": (e, e)}
    t = peaks / fs
    return {
        "RIIV": (t, smooth[peaks]),
        "RIAV": (t, smooth[peaks] - smooth[troughs]),
        "RIFV": (t[1:], np.diff(t)),
    }


def dominant_rate(t: np.ndarray, v: np.ndarray, duration_s: float,
                  band_hz: tuple[float, float] = RESP_BAND_HZ,
                  resample_hz: float = RESAMPLE_HZ) -> float:
    """Frequency (per minute) of the largest spectral peak of an irregularly sampled series.

    The series is linearly interpolated to ``resample_hz`` over ``[0, duration_s)`` (held
    constant outside its first and last sample), its mean and linear trend removed, a Hann
    window applied, and the periodogram (zero-padded to 2**12 points) searched in
    ``band_hz``.

    Parameters
    ----------
    t, v : np.ndarray
        Sample times (s, increasing) and values.
    duration_s : float
        Window length (s).
    band_hz : (float, float)
        Search band (Hz); 0.1-0.7 Hz is 6-42 breaths/min.
    resample_hz : float
        Interpolation rate (Hz).

    Returns
    -------
    float
        Cycles per minute; ``NaN`` with fewer than 3 samples or a flat series.
    """
    from scipy import signal

    check_float("duration_s", duration_s, 0, lo_open=True)
    check_float("resample_hz", resample_hz, 0, lo_open=True)
    t, v = np.asarray(t, dtype=np.float64), np.asarray(v, dtype=np.float64)
    if len(t) < 3:
        return float("nan")
    grid = np.arange(0.0, duration_s, 1.0 / resample_hz)
    y = signal.detrend(np.interp(grid, t, v))
    if not np.ptp(y) > 1e-9 * (1.0 + np.max(np.abs(v))):
        return float("nan")
    nfft = max(4096, len(y))
    f, p = signal.periodogram(y, fs=resample_hz, window="hann", nfft=nfft, detrend=False)
    sel = (f >= band_hz[0]) & (f <= band_hz[1])
    return float(60.0 * f[sel][np.argmax(p[sel])])


@dataclass(frozen=True)
class RespiratoryEstimate:
    """One window's PPG breathing-rate estimate.

    Attributes
    ----------
    rate : float
        Breaths/min: the fused mean when ``fused``, else the median of the three parts.
    fused : bool
        The three estimates agreed (standard deviation below :data:`FUSION_STD`).
    parts : dict
        ``{"RIIV": .., "RIAV": .., "RIFV": ..}`` breaths/min (``NaN`` where not measured).
    """

    rate: float
    fused: bool
    parts: dict


def ppg_respiratory_rate(ppg: np.ndarray, fs: float = FS,
                         fusion_std: float = FUSION_STD) -> RespiratoryEstimate:
    """Breathing rate of one PPG window by Karlen et al. (2013)'s smart fusion.

    Parameters
    ----------
    ppg : np.ndarray
        ``(L,)`` PPG samples.
    fs : float
        Sampling rate (Hz).
    fusion_std : float
        The three estimates are fused when their standard deviation is below this
        (breaths/min; Karlen et al. use 4).

    Returns
    -------
    RespiratoryEstimate
        ``rate`` is ``NaN`` when none of the three variations could be measured.
    """
    check_float("fusion_std", fusion_std, 0, lo_open=True)
    duration = len(ppg) / check_float("fs", fs, 0, lo_open=True)
    parts = {k: dominant_rate(t, v, duration)
             for k, (t, v) in respiratory_variations(ppg, fs).items()}
    vals = np.array([x for x in parts.values() if np.isfinite(x)])
    if len(vals) == 0:
        return RespiratoryEstimate(float("nan"), False, parts)
    fused = len(vals) == 3 and float(np.std(vals)) < fusion_std
    rate = float(np.mean(vals)) if fused else float(np.median(vals))
    return RespiratoryEstimate(rate, fused, parts)


# --------------------------------------------------------------------------- scoring
def score_target(records, target: str, scheme: str, seed: int = 0) -> tuple[list, object]:
    """Score predict-the-mean and the target's signal-processing baseline on its test split.

    Parameters
    ----------
    records : list of BIDMCRecord
        From :func:`~s4d_forecast.data.bidmc_records.read_bidmc_records`.
    target : {"HR", "RR", "SpO2"}
    scheme : {"reshuffled", "patient"}
        Split convention (the training pipeline's, with ``seed`` for ``"patient"``).
    seed : int
        Random state of the patient split (the DataModule's ``seed``, default 0).

    Returns
    -------
    rows : list of dict
        One per method: target, scheme, method, rmse, mae, n_test, n_estimated, note.
    predictions : pandas.DataFrame
        Per test window: record, start_s, target value and each method's prediction.
    """
    import pandas as pd

    from s4d_forecast.data.bidmc import bidmc_splits, make_bidmc_windows
    from s4d_forecast.metrics import mae as _mae
    from s4d_forecast.metrics import rmse as _rmse

    ds = make_bidmc_windows(records, target)
    splits = bidmc_splits(ds, scheme, seed=seed)
    test, y = splits.test, splits.test.targets.astype(np.float64)
    mean = float(np.mean(splits.train.targets.astype(np.float64)))
    n = len(y)
    pred = {"mean": np.full(n, mean)}
    rows = [{"target": ds.target, "scheme": scheme, "method": "predict-the-mean",
             "rmse": _rmse(y, pred["mean"]), "mae": _mae(y, pred["mean"]), "n_test": n,
             "n_estimated": n, "note": f"training mean {mean:.3f}"}]
    ch = {c: i for i, c in enumerate(ds.channels)}
    fs = ds.fs
    if ds.target == "HR":
        est = np.array([ecg_heart_rate(w[:, ch["II"]], fs) for w in test.windows])
        ok = np.isfinite(est)
        p = np.where(ok, est, mean)
        pred["ecg_rpeak"] = p
        rows.append({"target": ds.target, "scheme": scheme, "method": "ECG R-peaks (XQRS)",
                     "rmse": _rmse(y, p), "mae": _mae(y, p), "n_test": n,
                     "n_estimated": int(ok.sum()),
                     "note": f"{int((~ok).sum())} windows without 2 plausible R-peaks get "
                             "the training mean"})
    elif ds.target == "RR":
        ests = [ppg_respiratory_rate(w[:, ch["PLETH"]], fs) for w in test.windows]
        est = np.array([e.rate for e in ests])
        fused = np.array([e.fused for e in ests])
        ok = np.isfinite(est)
        p = np.where(ok, est, mean)
        pred["ppg_karlen"] = p
        pred["ppg_karlen_fused"] = fused
        for k in ("RIIV", "RIAV", "RIFV"):
            pred[f"ppg_{k}"] = np.array([e.parts[k] for e in ests])
        note = (f"smart fusion accepted {int(fused.sum())}/{n} windows "
                f"(RMSE on those {_rmse(y[fused], p[fused]):.3f}); median of the three "
                f"elsewhere; {int((~ok).sum())} without an estimate get the training mean")
        rows.append({"target": ds.target, "scheme": scheme,
                     "method": "PPG respiratory modulation (Karlen 2013)",
                     "rmse": _rmse(y, p), "mae": _mae(y, p), "n_test": n,
                     "n_estimated": int(ok.sum()), "note": note})
    df = pd.DataFrame({"target": ds.target, "record": test.record_ids, "start_s": test.start_s,
                       "y": y, **{f"pred_{k}": v for k, v in pred.items()}})
    for r in rows:
        log.info("%s %s %s: RMSE %.3f (n=%d)", r["target"], r["scheme"], r["method"],
                 r["rmse"], r["n_test"])
    return rows, df


def _markdown(rows: list[dict]) -> str:
    units = {"HR": "beats/min", "RR": "breaths/min", "SpO2": "%"}
    lines = ["| target | split | method | test RMSE | MAE | test windows | note |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['target']} ({units[r['target']]}) | {r['scheme']} | {r['method']} "
                     f"| {r['rmse']:.3f} | {r['mae']:.3f} | {r['n_test']} | {r['note']} |")
    return "\n".join(lines) + "\n"


def main(root: str | Path, scheme: str, output: str | Path, overwrite: bool = False,
         seed: int = 0, targets: tuple[str, ...] = ("HR", "RR", "SpO2")) -> int:
    """Score the baselines for every target on one split; write ``results.csv``,
    ``results.md``, ``summary.json`` and ``predictions.csv`` (each atomically) to ``output``.

    ``root`` is the BIDMC release (``bidmc_csv.zip`` or its folder); existing result files in
    ``output`` are replaced only with ``overwrite``; ``seed`` is the patient split's random
    state (the DataModule's default, 0). Every argument is checked before anything is read.
    """
    import time

    import pandas as pd

    from s4d_forecast._checks import check_choice, check_int, file_in_the_way
    from s4d_forecast.atomic_files import write_bytes_atomic
    from s4d_forecast.data.bidmc_records import read_bidmc_records

    check_choice("--scheme", scheme, SCHEMES)
    check_int("--seed", seed, min=0)
    root, out = Path(root), Path(output)
    if not root.exists():
        raise FileNotFoundError(f"--root {str(root)!r} does not exist; pass the BIDMC release "
                                "(bidmc_csv.zip or its folder)")
    if file_in_the_way(out) is not None:
        raise FileExistsError(f"--output {str(out)!r}: {str(file_in_the_way(out))!r} is a "
                              "file; pass a folder")
    existing = [f for f in OUTPUT_FILES if (out / f).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"--output {str(out)!r} already holds {existing}; pass "
                              "--overwrite to replace them or choose another folder")
    t0 = time.time()
    records = read_bidmc_records(root)
    rows, preds = [], []
    for target in targets:
        r, p = score_target(records, target, scheme, seed)
        rows += r
        preds.append(p)
    out.mkdir(parents=True, exist_ok=True)
    table = _markdown(rows)
    summary = {"root": str(root), "scheme": scheme, "seed": seed,
               "wall_s": round(time.time() - t0, 1), "results": rows}
    for name, text in (("results.csv", pd.DataFrame(rows).to_csv(index=False)),
                       ("predictions.csv", pd.concat(preds, ignore_index=True).to_csv(
                           index=False)),
                       ("results.md", table), ("summary.json", json.dumps(summary, indent=2))):
        write_bytes_atomic(out / name, text.encode())
    print(table, end="")
    print(f"wrote {', '.join(OUTPUT_FILES)} to {out} ({summary['wall_s']} s)")
    return 0
