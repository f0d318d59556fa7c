"""Put this folder on ``sys.path`` so the tests import the synthetic-signal helpers."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
