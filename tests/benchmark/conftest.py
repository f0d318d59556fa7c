"""Tests of the measuring scripts in ``benchmarks/`` (layer_speed, kernel_options)."""

from __future__ import annotations

import sys
from pathlib import Path

# the scripts in benchmarks/ (layer_speed, kernel_options, reference_s4d) import by name
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
