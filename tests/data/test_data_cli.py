"""Downloads against a local HTTP server (resume, checksums, no partial files) and the CLI."""

from __future__ import annotations

import argparse
import hashlib
import http.server
import io
import re
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_fakes import local_http_server, write_bidmc_zip, write_weather_csv  # noqa: E402

import s4d_forecast.data  # noqa: E402
from s4d_forecast.data import cli as data_cli  # noqa: E402
from s4d_forecast.data.download import (  # noqa: E402
    SOURCES,  # noqa: E402
    ChecksumError,
    DownloadError,
    download_file,
    verify_sha256sums,
)

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    ranges: list[str | None] = []
    ignore_range = False
    short_by = 0

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        data = self.files.get(self.path)
        rng = self.headers.get("Range")
        type(self).ranges.append(rng)
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        if rng and not self.ignore_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) - self.short_by])


@pytest.fixture()
def server():
    handler = type("H", (_Handler,), {"files": {}, "ranges": [], "ignore_range": False,
                                      "short_by": 0})
    with local_http_server(handler) as handler.base:
        yield handler


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# -- download_file --------------------------------------------------------------------------
def test_full_download_with_checksum(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    out = download_file(server.base + "/f.bin", tmp_path / "f.bin", sha256=_sha(PAYLOAD),
                        progress=False)
    assert out.read_bytes() == PAYLOAD and not (tmp_path / "f.bin.part").exists()
    assert server.ranges == [None]
    # present and matching: not fetched again
    download_file(server.base + "/f.bin", out, sha256=_sha(PAYLOAD), progress=False)
    assert len(server.ranges) == 1


def test_resume_sends_range_and_appends(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:300_000])
    out = download_file(server.base + "/f.bin", tmp_path / "f.bin", sha256=_sha(PAYLOAD),
                        progress=False)
    assert server.ranges == ["bytes=300000-"]
    assert out.read_bytes() == PAYLOAD


def test_complete_part_file_answered_416(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD)
    out = download_file(server.base + "/f.bin", tmp_path / "f.bin", md5=hashlib.md5(
        PAYLOAD).hexdigest(), progress=False)
    assert out.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts(server, tmp_path, caplog):
    server.files["/f.bin"] = PAYLOAD
    server.ignore_range = True
    (tmp_path / "f.bin.part").write_bytes(b"garbage" * 10)
    out = download_file(server.base + "/f.bin", tmp_path / "f.bin", progress=False)
    assert out.read_bytes() == PAYLOAD
    assert "ignored the Range request; restarting" in caplog.text


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    with pytest.raises(ChecksumError, match=r"sha256 of the downloaded file is [0-9a-f]{64}, "
                                            r"expected 0{64}; the partial file was deleted"):
        download_file(server.base + "/f.bin", tmp_path / "f.bin", sha256="0" * 64,
                      progress=False)
    assert list(tmp_path.iterdir()) == []


def test_short_read_keeps_part_for_resume(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    server.short_by = 1000
    with pytest.raises(DownloadError, match=r"run again to resume"):
        download_file(server.base + "/f.bin", tmp_path / "f.bin", progress=False, timeout=5)
    assert not (tmp_path / "f.bin").exists()
    assert (tmp_path / "f.bin.part").stat().st_size == len(PAYLOAD) - 1000
    server.short_by = 0
    out = download_file(server.base + "/f.bin", tmp_path / "f.bin", sha256=_sha(PAYLOAD),
                        progress=False)
    assert out.read_bytes() == PAYLOAD and server.ranges[-1] == f"bytes={len(PAYLOAD) - 1000}-"


@pytest.mark.parametrize("kwargs, fragment", [
    ({"url": "ftp://x"}, "`url` must be an http:// or https:// address"),
    ({"timeout": 0}, "`timeout` must be a number > 0"),
    ({"timeout": float("inf")}, "`timeout` must be a number > 0"),
    ({"timeout": float("nan")}, "`timeout` must be a number > 0"),
    ({"timeout": "60"}, "`timeout` must be a number > 0"),
    ({"deadline": -1}, "`deadline` must be a number > 0 or None"),
    ({"deadline": float("inf")}, "`deadline` must be a number > 0 or None"),
])
def test_download_file_refuses_bad_arguments_before_writing(tmp_path, kwargs, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        download_file(**{"url": "http://127.0.0.1:9/f", "dest": tmp_path / "d" / "f", **kwargs})
    assert not (tmp_path / "d").exists()


def test_http_errors_and_an_existing_file_of_another_digest(server, tmp_path):
    with pytest.raises(DownloadError, match=r"HTTP 404"):
        download_file(server.base + "/missing", tmp_path / "m", progress=False)
    (tmp_path / "old").write_bytes(b"old")
    with pytest.raises(ChecksumError, match=r"exists but its sha256 is not"):
        download_file(server.base + "/missing", tmp_path / "old", sha256="1" * 64)


# -- SHA256SUMS -------------------------------------------------------------------------------
def test_verify_sha256sums_folder_and_zip(tmp_path):
    files = {"a.csv": b"1,2\n", "records/b.dat": b"\x00\x01"}
    sums = "".join(f"{_sha(v)}  {k}\n" for k, v in files.items())
    root = tmp_path / "root"
    for k, v in files.items():
        (root / k).parent.mkdir(parents=True, exist_ok=True)
        (root / k).write_bytes(v)
    assert verify_sha256sums(root, sums) == 2
    z = tmp_path / "d.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for k, v in files.items():
            zf.writestr(f"dataset-1.0.0/{k}", v)
    assert verify_sha256sums(z, sums) == 2
    (root / "records/b.dat").write_bytes(b"\x00")
    (root / "a.csv").unlink()
    with pytest.raises(ChecksumError, match=r"1 file\(s\) differ from SHA256SUMS: "
                                            r"\['records/b.dat'\]; 1 listed file\(s\) missing"):
        verify_sha256sums(root, sums)
    with pytest.raises(ValueError, match=r"SHA256SUMS line 1 is not 'HASH  path'"):
        verify_sha256sums(root, "0" * 64 + "\n")


# -- CLI ----------------------------------------------------------------------------------------
def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="s4d-forecast")
    data_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def _serve_physionet(server, name: str, payload: bytes, members: dict[str, bytes]):
    src = SOURCES[name]
    from urllib.parse import urlparse

    server.files[urlparse(src.url).path] = payload
    sums = "".join(f"{_sha(v)}  {k}\n" for k, v in members.items())
    server.files[urlparse(src.sha256sums_url).path] = sums.encode()


def _bidmc_zip_and_members(tmp_path, records=(1,)):
    """A BIDMC release zip laid out as PhysioNet serves it, and its members by the names
    SHA256SUMS uses."""
    z = write_bidmc_zip(tmp_path / "src.zip", records=records, seconds=40)
    with zipfile.ZipFile(z) as zf:
        members = {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in members.items():
            zf.writestr(f"bidmc-ppg-and-respiration-dataset-1.0.0/bidmc_csv/{k}", v)
    return buf.getvalue(), {f"bidmc_csv/{k}": v for k, v in members.items()}


def test_cli_download_and_info_bidmc(server, tmp_path, capsys):
    payload, full = _bidmc_zip_and_members(tmp_path, records=(1, 2, 3))
    _serve_physionet(server, "bidmc", payload, full)
    root = tmp_path / "dl"
    assert _run("data", "download", "bidmc", "--root", str(root), "--mirror", server.base,
                "--no-progress") == 0
    out = capsys.readouterr().out
    assert "verified 9 file(s)" in out
    assert not list(root.glob("*.part"))
    assert _run("data", "info", "bidmc", "--root", str(root)) == 0
    out = capsys.readouterr().out
    assert "3 records" in out and "reshuffled" in out and "patient" in out
    # 40-s records: (5001 - 4000) // 375 + 1 = 3 windows each, 9 per target
    assert any(line.split()[:3] == ["HR", "reshuffled", "9"] for line in out.splitlines())


def test_cli_download_ptbxl_extracts_and_verifies(server, tmp_path, capsys):
    members = {"ptbxl_database.csv": b"ecg_id\n1\n", "records100/00000/00001_lr.hea": b"h"}
    top = "ptb-xl-a-large-publicly-available-electrocardiography-dataset-1.0.3"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in members.items():
            zf.writestr(f"{top}/{k}", v)
    _serve_physionet(server, "ptbxl", buf.getvalue(), members)
    assert _run("data", "download", "ptbxl", "--root", str(tmp_path), "--mirror", server.base,
                "--no-progress") == 0
    assert (tmp_path / top / "ptbxl_database.csv").read_bytes() == b"ecg_id\n1\n"
    assert f"use --root {tmp_path / top}" in capsys.readouterr().out
    # a corrupted extracted file is caught on the next run
    (tmp_path / top / "ptbxl_database.csv").write_bytes(b"x")
    (tmp_path / "ptbxl_SHA256SUMS.txt").unlink()
    members["ptbxl_database.csv"] = b"different"
    _serve_physionet(server, "ptbxl", buf.getvalue(), members)
    with pytest.raises(ChecksumError, match=r"differ from SHA256SUMS: \['ptbxl_database.csv'\]"):
        _run("data", "download", "ptbxl", "--root", str(tmp_path), "--mirror", server.base,
             "--no-progress")


def test_cli_download_weather_md5_mismatch(server, tmp_path):
    from urllib.parse import urlparse

    server.files[urlparse(SOURCES["weather"].url).path] = b"date,OT\n"
    with pytest.raises(ChecksumError, match=r"md5 of the downloaded file .* expected "
                                            r"a2942a05638ba311bc7935bcc087a30f"):
        _run("data", "download", "weather", "--root", str(tmp_path), "--mirror", server.base,
             "--no-progress")
    assert list(tmp_path.iterdir()) == []


def test_cli_info_weather(tmp_path, capsys):
    write_weather_csv(tmp_path / "weather.csv", n=100, duplicate_row=5, sentinel_rows=(7,))
    assert _run("data", "info", "weather", "--root", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "101 rows x 11 variables" in out
    assert "1 duplicated time stamp(s)" in out and "-9999" in out
    assert [line.split()[:2] for line in out.splitlines()[2:5]] == [
        ["train", "70"], ["val", "11"], ["test", "20"]]


def test_cli_info_real_weather(shared_data, capsys):
    head = shared_data("weather", "weather_2020_head.csv")
    assert _run("data", "info", "weather", "--root", str(head)) == 0
    assert "2999 rows x 21 variables" in capsys.readouterr().out


def test_cli_info_ptbxl_calls_loader_lazily(tmp_path, capsys, monkeypatch):
    labels = np.array([[1, 0], [0, 1], [1, 1], [1, 0]])
    ds = type("Dataset", (), {"labels": labels, "classes": ["NORM", "MI"],
                              "__len__": lambda self: len(labels)})()
    fake = types.ModuleType("s4d_forecast.data.ptbxl")
    calls = {}

    def load_ptbxl(root, sampling_rate=100, task="all", cache=True):
        calls.update(root=root, sampling_rate=sampling_rate, task=task)
        return ds

    fake.load_ptbxl = load_ptbxl
    fake.PTBXL_TASKS = {"all": 71, "superdiagnostic": 5}
    fake.ptbxl_splits = lambda d: [types.SimpleNamespace(labels=labels[i])
                                   for i in ([0, 3], [1], [2])]
    monkeypatch.setitem(sys.modules, "s4d_forecast.data.ptbxl", fake)
    monkeypatch.setattr(s4d_forecast.data, "ptbxl", fake, raising=False)
    assert _run("data", "info", "ptbxl", "--root", str(tmp_path), "--task", "superdiagnostic",
                "--sampling-rate", "500") == 0
    assert calls == {"root": tmp_path, "sampling_rate": 500, "task": "superdiagnostic"}
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("PTB-XL at") and "2 classes" in out[0]
    rows = {line.split()[0]: line.split()[1:] for line in out[2:]}
    assert rows == {"records": ["2", "1", "1"], "NORM": ["2", "0", "1"], "MI": ["0", "1", "1"]}


def test_cli_registered_in_main_parser():
    try:
        from s4d_forecast.cli import build_parser

        parser = build_parser()
    except ImportError as exc:  # another area's command module is not there yet
        pytest.skip(f"main CLI not importable: {exc}")
    args = parser.parse_args(["data", "info", "weather", "--root", "x"])
    assert args.func is data_cli._info


@pytest.mark.parametrize("rows, words", [
    (0, "file has no data rows"),
    (1, "leave the train/test split(s) empty"),
    (None, "1 infinite cell(s)"),
])
def test_cli_info_weather_short_or_infinite_file_is_one_error_line(tmp_path, capsys, rows,
                                                                   words):
    from s4d_forecast.cli import main

    p = write_weather_csv(tmp_path / "w.csv", n=20)
    lines = p.read_text().splitlines()
    if rows is None:
        lines[5] = lines[5].rsplit(",", 1)[0] + ",inf"
    else:
        lines = lines[: 1 + rows]
    p.write_text("\n".join(lines) + "\n")
    assert main(["data", "info", "weather", "--root", str(p)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("s4d-forecast data: error:")
    assert words in err[0] and "w.csv" in err[0]


# -- checked before the final name, stalls, CLI options ------------------------------------------
def test_sha256sums_mismatch_keeps_no_zip_and_a_rerun_fixes_it(server, tmp_path, capsys,
                                                               caplog):
    payload, members = _bidmc_zip_and_members(tmp_path)
    wrong = dict(members)
    first = next(iter(wrong))
    wrong[first] = b"not this"
    _serve_physionet(server, "bidmc", payload, wrong)
    root = tmp_path / "dl"
    zip_name = Path(SOURCES["bidmc"].url).name
    with pytest.raises(ChecksumError, match=rf"differ from SHA256SUMS: \['{first}'\].*"
                                            rf"nothing was saved as .*{zip_name}"):
        _run("data", "download", "bidmc", "--root", str(root), "--mirror", server.base,
             "--no-progress")
    assert not (root / zip_name).exists() and not list(root.glob("*.part"))
    # a zip left under the final name by an older version is checked, not "already present"
    (root / zip_name).write_bytes(payload)
    _serve_physionet(server, "bidmc", payload, members)
    good = len(server.ranges)
    assert _run("data", "download", "bidmc", "--root", str(root), "--mirror", server.base,
                "--no-progress") == 0
    assert len(server.ranges) == good + 1  # SHA256SUMS only: the zip matches now
    (root / zip_name).write_bytes(payload)
    _serve_physionet(server, "bidmc", payload, wrong)
    with pytest.raises(ChecksumError):
        _run("data", "download", "bidmc", "--root", str(root), "--mirror", server.base,
             "--no-progress")
    assert "does not pass its check" in caplog.text and "downloading it again" in caplog.text
    assert not (root / zip_name).exists()
    _serve_physionet(server, "bidmc", payload, members)
    capsys.readouterr()
    assert _run("data", "download", "bidmc", "--root", str(root), "--mirror", server.base,
                "--no-progress") == 0
    out = capsys.readouterr().out
    assert f"{server.base}/static/" in out and "(mirror of https://physionet.org" in out
    assert f"against {server.base}/files/bidmc/1.0.0/SHA256SUMS.txt" in out


def test_ptbxl_zip_failing_sha256sums_is_not_extracted(server, tmp_path):
    top = "ptb-xl-a-large-publicly-available-electrocardiography-dataset-1.0.3"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{top}/ptbxl_database.csv", b"ecg_id\n1\n")
    _serve_physionet(server, "ptbxl", buf.getvalue(), {"ptbxl_database.csv": b"other"})
    with pytest.raises(ChecksumError, match=r"differ from SHA256SUMS"):
        _run("data", "download", "ptbxl", "--root", str(tmp_path), "--mirror", server.base,
             "--no-progress")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ptbxl_SHA256SUMS.txt"]


def test_html_page_as_sha256sums_names_the_url(server, tmp_path):
    payload, _ = _bidmc_zip_and_members(tmp_path)
    _serve_physionet(server, "bidmc", payload, {})
    from urllib.parse import urlparse

    path = urlparse(SOURCES["bidmc"].sha256sums_url).path
    server.files[path] = b"<!DOCTYPE html>\n<html>not found</html>\n"
    with pytest.raises(ValueError, match=rf"SHA256SUMS \({server.base}{path}\) line 1 is not "
                                         r"'HASH  path': '<!DOCTYPE html>'"):
        _run("data", "download", "bidmc", "--root", str(tmp_path / "dl"), "--mirror",
             server.base, "--no-progress")
    assert not (tmp_path / "dl" / Path(SOURCES["bidmc"].url).name).exists()


class _Stalling(http.server.BaseHTTPRequestHandler):
    """Announces 100 kB, then sends ``trickle`` bytes every 0.2 s (or nothing)."""

    trickle = 1

    def log_message(self, *args):
        pass

    def do_GET(self):
        import time

        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(200):
                if self.trickle:
                    self.wfile.write(b"x" * self.trickle)
                    self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass


@pytest.fixture()
def stalling():
    handler = type("S", (_Stalling,), {"trickle": 1})
    with local_http_server(handler) as handler.base:
        yield handler


def test_stalled_server_is_given_up_and_empty_part_removed(stalling, tmp_path):
    import time

    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"stalled, \d+ bytes in the last 1 s "
                                            r"\(timeout 0.8 s\); run again to resume"):
        download_file(stalling.base + "/w.csv", tmp_path / "w.csv", progress=False,
                      timeout=0.8)
    assert time.monotonic() - start < 10
    assert not (tmp_path / "w.csv").exists()
    stalling.trickle = 0  # headers, then silence: socket timeout, nothing to resume from
    with pytest.raises(DownloadError, match=r"after 0 bytes"):
        download_file(stalling.base + "/w.csv", tmp_path / "v.csv", progress=False,
                      timeout=0.5)
    assert list(tmp_path.iterdir()) == [tmp_path / "w.csv.part"]  # 1-byte trickle: resumable
    stalling.trickle = 4096  # fast enough, but over the whole-file deadline
    with pytest.raises(DownloadError, match=r"not finished within the deadline of 0.5 s"):
        download_file(stalling.base + "/w.csv", tmp_path / "u.csv", progress=False,
                      timeout=5, deadline=0.5)


def test_cli_download_timeout_option(stalling, tmp_path):
    with pytest.raises(DownloadError, match=r"stalled.*timeout 0.6 s"):
        _run("data", "download", "weather", "--root", str(tmp_path), "--mirror", stalling.base,
             "--no-progress", "--timeout", "0.6")


@pytest.mark.parametrize("options, fragment", [
    (["--timeout", "0"], "`--timeout` must be a number > 0"),
    (["--timeout", "inf"], "`--timeout` must be a number > 0"),
    (["--timeout", "nan"], "`--timeout` must be a number > 0"),
    (["--timeout", "-1"], "`--timeout` must be a number > 0"),
    (["--deadline", "0"], "`--deadline` must be a number > 0 or None"),
    (["--deadline", "inf"], "`--deadline` must be a number > 0 or None"),
    (["--mirror", "ftp://h/x"], "`--mirror` must be an http:// or https:// base URL"),
    (["--mirror", "example.org"], "`--mirror` must be an http:// or https:// base URL"),
    (["--root", "{afile}"], "`--root` must be a folder to download into"),
    (["--root", "{afile}/sub"], "afile' is a file"),
])
def test_cli_download_refuses_bad_options_before_creating_anything(tmp_path, options,
                                                                   fragment):
    afile = tmp_path / "afile"
    afile.write_text("x")
    options = [o.format(afile=afile) for o in options]
    root = [] if "--root" in options else ["--root", str(tmp_path / "new")]
    with pytest.raises(ValueError, match=re.escape(fragment)):
        _run("data", "download", "weather", *root, *options)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.parametrize("options, fragment", [
    (["ptbxl", "--task", "diag"], "`--task` must be one of"),
    (["ptbxl", "--sampling-rate", "250"], "`--sampling-rate` must be one of 100, 500"),
    (["bidmc", "--stride-s", "0"], "`--stride-s` must be a number > 0"),
    (["bidmc", "--stride-s", "inf"], "`--stride-s` must be a number > 0"),
])
def test_cli_info_refuses_bad_options(tmp_path, options, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        _run("data", "info", *options[:1], "--root", str(tmp_path), *options[1:])


def test_cli_corrupt_existing_weather_says_overwrite_and_overwrite_works(server, tmp_path):
    from urllib.parse import urlparse

    (tmp_path / "weather.csv").write_text("date,OT\n")
    with pytest.raises(ChecksumError, match=r"exists but its md5 is not .*--overwrite"):
        _run("data", "download", "weather", "--root", str(tmp_path), "--mirror", server.base,
             "--no-progress")
    server.files[urlparse(SOURCES["weather"].url).path] = b"date,OT\n1,2\n"
    with pytest.raises(ChecksumError, match=r"md5 of the downloaded file"):
        _run("data", "download", "weather", "--root", str(tmp_path), "--mirror", server.base,
             "--no-progress", "--overwrite")
    assert len(server.ranges) == 1  # --overwrite fetched it again
