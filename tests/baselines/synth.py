"""Synthetic ECG and PPG windows with a known heart and breathing rate (numpy only)."""

from __future__ import annotations

import numpy as np

FS = 125.0


def synthetic_ecg(hr_bpm: float, seconds: float = 32.0, fs: float = FS, noise: float = 0.01,
                  seed: int = 0) -> np.ndarray:
    """An ECG-like trace: P, QRS and T waves (Gaussians) repeating at ``hr_bpm``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros_like(t)
    period = 60.0 / hr_bpm
    for beat in np.arange(0.3, seconds, period):
        for offset, width, height in ((-0.16, 0.025, 0.12), (-0.025, 0.008, -0.1),
                                      (0.0, 0.010, 1.0), (0.025, 0.008, -0.2),
                                      (0.25, 0.04, 0.3)):
            x += height * np.exp(-0.5 * ((t - beat - offset) / width) ** 2)
    return x + noise * rng.standard_normal(len(t))


def synthetic_ppg(hr_bpm: float, rr_bpm: float, seconds: float = 32.0, fs: float = FS,
                  noise: float = 0.005, seed: int = 0) -> np.ndarray:
    """A pulse wave at ``hr_bpm`` whose baseline, amplitude and beat timing are modulated
    at the breathing rate ``rr_bpm`` (the three variations Karlen et al. use)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    resp = np.sin(2 * np.pi * rr_bpm / 60.0 * t)
    # frequency modulation: the cardiac phase advances faster during inspiration
    f_card = hr_bpm / 60.0 * (1 + 0.05 * resp)
    phase = 2 * np.pi * np.cumsum(f_card) / fs
    pulse = np.sin(phase) + 0.4 * np.sin(2 * phase - 0.8)
    x = (1 + 0.2 * resp) * pulse + 0.5 * resp
    return x + noise * rng.standard_normal(len(t))


def write_synthetic_bidmc_zip(path, records=range(1, 9), seconds: int = 50):
    """A ``bidmc_csv/`` zip whose PPG and ECG carry each record's known HR and RR.

    Record ``r`` beats at ``60 + 5 r`` beats/min and breathes at ``10 + r`` breaths/min;
    the Numerics hold exactly those rates and SpO2 ``90 + r`` %.
    """
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for rid in records:
            hr, rr = 60.0 + 5 * rid, 10.0 + rid
            # as in the release: t = 0 included, seconds * fs + 1 samples, seconds + 1 rows
            ecg = synthetic_ecg(hr, seconds + 1 / FS, seed=rid)
            ppg = synthetic_ppg(hr, rr, seconds + 1 / FS, seed=rid)
            lines = ["Time [s], PLETH, V, II"]
            lines += [f"{i / FS:.6g},{p:.5f},0.1,{e:.5f}" for i, (p, e) in
                      enumerate(zip(ppg, ecg))]
            zf.writestr(f"bidmc_csv/bidmc_{rid:02d}_Signals.csv", "\n".join(lines) + "\n")
            num = ["Time [s], HR, PULSE, RESP, SpO2"]
            num += [f"{t},{hr:g},{hr:g},{rr:g},{90 + rid}" for t in range(seconds + 1)]
            zf.writestr(f"bidmc_csv/bidmc_{rid:02d}_Numerics.csv", "\n".join(num) + "\n")
    return path
