"""A BIDMC Signals or Numerics CSV cut short (a partial download) is refused by name."""

from __future__ import annotations

import zipfile

import pytest
from data_fakes import numerics_csv, signals_csv

from s4d_forecast.data.bidmc_records import read_bidmc_records


def write_zip(path, signals_cut=None, numerics_cut=None):
    with zipfile.ZipFile(path, "w") as zf:
        for rid in (1, 2):
            sig, num = signals_csv(rid), numerics_csv(rid)
            if rid == 2 and signals_cut:
                sig = b"\n".join(sig.split(b"\n")[:signals_cut]) + b"\n"
            if rid == 2 and numerics_cut:
                num = b"\n".join(num.split(b"\n")[:numerics_cut]) + b"\n"
            zf.writestr(f"bidmc_csv/bidmc_{rid:02d}_Signals.csv", sig)
            zf.writestr(f"bidmc_csv/bidmc_{rid:02d}_Numerics.csv", num)
    return path


def test_consistent_records_are_read(tmp_path):
    records = read_bidmc_records(write_zip(tmp_path / "ok.zip"))
    assert [len(r.signals) for r in records] == [7501, 7501]


def test_signals_cut_short_is_refused_naming_the_file(tmp_path):
    path = write_zip(tmp_path / "cut.zip", signals_cut=300)
    with pytest.raises(ValueError, match=r"bidmc_02_Signals\.csv: 299 rows .*cut short.*"
                                         r"60,001 Signals rows"):
        read_bidmc_records(path)


def test_signals_cut_short_in_a_folder(tmp_path):
    folder = tmp_path / "bidmc_csv"
    folder.mkdir()
    (folder / "bidmc_01_Signals.csv").write_bytes(signals_csv(1)[:50_000])
    (folder / "bidmc_01_Numerics.csv").write_bytes(numerics_csv(1))
    with pytest.raises(ValueError, match=r"bidmc_01_Signals\.csv: .*cut short"):
        read_bidmc_records(tmp_path)


def test_numerics_cut_short_is_refused_naming_the_file(tmp_path):
    path = write_zip(tmp_path / "cut.zip", numerics_cut=20)
    with pytest.raises(ValueError, match=r"bidmc_02_Numerics\.csv: 19 rows .*cut short.*481"):
        read_bidmc_records(path)
