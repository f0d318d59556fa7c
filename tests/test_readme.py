"""Every ```python block of README.md runs, in order, in a fresh interpreter without network
(slow: it trains the README's models)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

# Any connection attempt fails: the snippets must use data that ships with the installed
# packages (statsmodels' datasets), never a download.
NO_NETWORK = textwrap.dedent("""
    import socket

    def _offline(*args, **kwargs):
        raise OSError("README test: the network is off; snippets must not download")

    socket.socket.connect = _offline
    socket.socket.connect_ex = _offline
    socket.create_connection = _offline
""")


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_has_the_snippets():
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 4
    assert not any("AirPassengersDataset" in block for block in blocks)


@pytest.mark.slow
def test_readme_python_blocks_run_offline(tmp_path):
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    script = NO_NETWORK + "\n".join(
        f"print('--- README block {i}', flush=True)\n{block}" for i, block in enumerate(blocks)
    )
    (tmp_path / "readme_blocks.py").write_text(script, encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "readme_blocks.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout[-3000:] + done.stderr[-5000:])
    assert f"--- README block {len(blocks) - 1}" in done.stdout
