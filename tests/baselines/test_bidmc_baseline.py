"""The BIDMC signal-processing baselines on synthetic signals with known rates."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from synth import FS, synthetic_ecg, synthetic_ppg, write_synthetic_bidmc_zip

from s4d_forecast.baselines import bidmc
from s4d_forecast.cli import main as cli_main


@pytest.mark.parametrize("hr", [45.0, 72.0, 110.0, 160.0])
def test_ecg_heart_rate_recovers_the_beat_rate(hr):
    est = bidmc.ecg_heart_rate(synthetic_ecg(hr), FS)
    assert est == pytest.approx(hr, abs=1.0)


def test_r_peaks_are_at_the_qrs_complexes():
    ecg = synthetic_ecg(60.0)
    peaks = bidmc.r_peaks(ecg, FS)
    expected = np.round((0.3 + np.arange(32)) * FS).astype(int)
    # every detected peak lies within 40 ms of a true R wave
    assert len(peaks) >= 30
    assert np.min(np.abs(peaks[:, None] - expected[None, :]), axis=1).max() <= 0.04 * FS


def test_r_peaks_of_a_flat_or_broken_signal_are_empty():
    assert len(bidmc.r_peaks(np.zeros(4000), FS)) == 0
    x = synthetic_ecg(70.0)
    x[100] = np.nan
    assert len(bidmc.r_peaks(x, FS)) == 0
    with pytest.raises(ValueError, match="ecg must be 1-D"):
        bidmc.r_peaks(np.zeros((10, 2)), FS)


def test_hr_from_peaks_averages_per_second_rates_like_the_target():
    # 60 beats/min for the first 16 s, then 120 beats/min: 32 rows average to 90
    first = np.arange(0, 16, 1.0)
    second = np.arange(16, 32.5, 0.5)
    peaks = np.concatenate([first, second]) * FS
    assert bidmc.hr_from_peaks(peaks, FS, 32.0) == pytest.approx(90.0)
    # an implausible interval (a missed beat giving 20 beats/min) is ignored
    gap = np.array([0.0, 1.0, 2.0, 5.0, 6.0, 7.0]) * FS
    assert bidmc.hr_from_peaks(gap, FS, 8.0) == pytest.approx(60.0)
    assert np.isnan(bidmc.hr_from_peaks(np.array([10]), FS))


@pytest.mark.parametrize(("hr", "rr"), [(72.0, 12.0), (90.0, 20.0), (60.0, 30.0),
                                        (110.0, 8.0)])
def test_ppg_respiratory_rate_recovers_the_breathing_rate(hr, rr):
    est = bidmc.ppg_respiratory_rate(synthetic_ppg(hr, rr), FS)
    assert est.fused
    assert est.rate == pytest.approx(rr, abs=0.5)
    for part in est.parts.values():
        assert part == pytest.approx(rr, abs=0.5)


def test_each_respiratory_variation_alone_carries_the_rate():
    t = np.arange(4000) / FS
    resp = np.sin(2 * np.pi * 0.25 * t)
    phase = 2 * np.pi * 1.2 * t
    # amplitude modulation only: RIAV (and RIIV, the peak height) see it
    am = (1 + 0.3 * resp) * np.sin(phase)
    parts = bidmc.ppg_respiratory_rate(am, FS).parts
    assert parts["RIAV"] == pytest.approx(15.0, abs=0.5)
    # baseline modulation only: RIIV sees it
    bw = np.sin(phase) + 0.5 * resp
    assert bidmc.ppg_respiratory_rate(bw, FS).parts["RIIV"] == pytest.approx(15.0, abs=0.5)


def test_dominant_rate_searches_only_the_band():
    t = np.arange(0, 32, 0.25)
    v = np.sin(2 * np.pi * 0.05 * t) * 5 + np.sin(2 * np.pi * 0.3 * t)
    assert bidmc.dominant_rate(t, v, 32.0) == pytest.approx(18.0, abs=0.5)
    assert np.isnan(bidmc.dominant_rate(t[:2], v[:2], 32.0))
    assert np.isnan(bidmc.dominant_rate(t, np.ones_like(t), 32.0))


def test_flat_ppg_gives_no_estimate():
    est = bidmc.ppg_respiratory_rate(np.zeros(4000), FS)
    assert np.isnan(est.rate) and not est.fused


@pytest.fixture(scope="module")
def fake_zip(tmp_path_factory):
    return write_synthetic_bidmc_zip(tmp_path_factory.mktemp("bidmc") / "bidmc_csv.zip")


@pytest.mark.parametrize("scheme", ["reshuffled", "patient"])
def test_cli_scores_every_target_on_the_test_windows(fake_zip, tmp_path, scheme, capsys):
    out = tmp_path / "out"
    rc = cli_main(["bidmc-baseline", "--root", str(fake_zip), "--scheme", scheme,
                   "--output", str(out)])
    assert rc == 0
    res = pd.read_csv(out / "results.csv")
    by = {(r.target, r.method): r for r in res.itertuples()}
    assert set(res.target) == {"HR", "RR", "SpO2"}
    # the synthetic signals carry the Numerics' rates, so the estimators are near exact
    assert by[("HR", "ECG R-peaks (XQRS)")].rmse < 1.0
    assert by[("RR", "PPG respiratory modulation (Karlen 2013)")].rmse < 1.0
    for target in ("HR", "RR", "SpO2"):
        assert by[(target, "predict-the-mean")].rmse > 1.0
    preds = pd.read_csv(out / "predictions.csv")
    assert len(preds) == res.groupby("target").n_test.first().sum()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scheme"] == scheme
    assert "| HR (beats/min) |" in (out / "results.md").read_text()
    if scheme == "patient":
        # whole records are held out: no test record appears in training
        assert preds.groupby("target").record.nunique().min() >= 1


def test_cli_refuses_to_overwrite_without_the_flag(fake_zip, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["bidmc-baseline", "--root", str(fake_zip), "--scheme", "reshuffled",
            "--output", str(out)]
    assert cli_main(args) == 0
    before = (out / "results.csv").read_text()
    capsys.readouterr()
    assert cli_main(args) == 1
    err = capsys.readouterr().err
    assert "already holds" in err and "--overwrite" in err
    assert cli_main([*args, "--overwrite"]) == 0
    assert (out / "results.csv").read_text() == before


@pytest.mark.parametrize("options, fragment", [
    (["--root", "{tmp}/missing.zip"], "--root '{tmp}/missing.zip' does not exist"),
    (["--output", "{tmp}/afile"], "is a file; pass a folder"),
    (["--output", "{tmp}/afile/sub"], "is a file; pass a folder"),
    (["--seed", "-1"], "`--seed` must be an integer >= 0"),
])
def test_cli_argument_errors_name_the_argument(fake_zip, tmp_path, capsys, options, fragment):
    (tmp_path / "afile").write_text("x")
    args = {"--root": str(fake_zip), "--output": str(tmp_path / "o")}
    args.update(zip(options[::2], [o.format(tmp=tmp_path) for o in options[1::2]]))
    assert cli_main(["bidmc-baseline", *[x for kv in args.items() for x in kv]]) == 1
    err = capsys.readouterr().err.strip()
    assert fragment.format(tmp=tmp_path) in err and err.count("\n") == 0
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="`--scheme` must be one of"):
        bidmc.main(fake_zip, "archive", tmp_path / "o")


@pytest.mark.parametrize("call, fragment", [
    (lambda: bidmc.r_peaks(np.zeros(100), fs=0), "`fs` must be a number > 0"),
    (lambda: bidmc.hr_from_peaks(np.arange(3), fs=float("inf")), "`fs` must be a number > 0"),
    (lambda: bidmc.hr_from_peaks(np.arange(3), window_s=-1), "`window_s` must be a number > 0"),
    (lambda: bidmc.ppg_beats(np.zeros(100), fs="125"), "`fs` must be a number > 0"),
    (lambda: bidmc.dominant_rate(np.arange(3), np.arange(3), 0), "`duration_s` must be"),
    (lambda: bidmc.ppg_respiratory_rate(np.zeros(100), fusion_std=0), "`fusion_std` must be"),
])
def test_estimators_refuse_bad_rates_and_lengths(call, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        call()
