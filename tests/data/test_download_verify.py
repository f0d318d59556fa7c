"""`data download`: a body cut short without Content-Length never lands under the final name,
and a truncated file already there is downloaded again, never accepted."""

from __future__ import annotations

import http.server
import io
import zipfile

import pytest
from data_fakes import local_http_server

from s4d_forecast.data.download import DownloadError, download_file


def make_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(5):
            zf.writestr(f"bidmc_csv/file_{i}.csv", ("0,1,2\n" * 5000 + str(i)).encode())
    return buffer.getvalue()


ZIP = make_zip()


class _NoLength(http.server.BaseHTTPRequestHandler):
    """HTTP/1.0 without Content-Length: the end of the body is the end of the connection."""

    body = b""
    requests = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests += 1
        self.send_response(200)
        self.end_headers()
        self.wfile.write(self.body)


@pytest.fixture()
def serve():
    handler = type("H", (_NoLength,), {"body": ZIP, "requests": 0})
    with local_http_server(handler) as base:
        handler.url = f"{base}/data.zip"
        yield handler


def test_zip_cut_short_without_content_length_is_not_kept(serve, tmp_path):
    serve.body = ZIP[: len(ZIP) // 2]
    dest = tmp_path / "data.zip"
    with pytest.raises(DownloadError, match="not a complete zip archive"):
        download_file(serve.url, dest, progress=False)
    assert not dest.exists() and not (tmp_path / "data.zip.part").exists()
    serve.body = ZIP
    assert download_file(serve.url, dest, progress=False).read_bytes() == ZIP


def test_rerun_does_not_accept_a_previously_truncated_file(serve, tmp_path, caplog):
    dest = tmp_path / "data.zip"
    dest.write_bytes(ZIP[:-100])  # left by an older version under the final name
    download_file(serve.url, dest, progress=False)
    assert serve.requests == 1 and dest.read_bytes() == ZIP
    assert "downloading it again" in caplog.text
    download_file(serve.url, dest, progress=False)  # complete now: kept, not fetched again
    assert serve.requests == 1


def test_corrupt_member_is_checked(serve, tmp_path):
    corrupt = bytearray(ZIP)
    corrupt[60:80] = bytes(20)  # inside the first member's compressed data
    serve.body = bytes(corrupt)
    with pytest.raises(DownloadError, match="CRC|not a complete zip"):
        download_file(serve.url, tmp_path / "a.zip", progress=False)
    assert list(tmp_path.iterdir()) == []
