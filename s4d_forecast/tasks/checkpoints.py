"""Let ``torch.load(weights_only=True)`` (Lightning's default with torch >= 2.6) read the
DataModules' fitted scalers, which are saved as plain numpy arrays."""

from __future__ import annotations

import numpy as np
import torch


def allow_numpy_arrays() -> None:
    """Allowlist numpy array reconstruction and the numeric dtypes (no arbitrary objects)."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    dtypes = [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")
              and n not in ("ObjectDType", "VoidDType")]
    torch.serialization.add_safe_globals([_reconstruct, np.ndarray, np.dtype, *dtypes])
