"""Let ``torch.load(weights_only=True)`` (Lightning's default) read the DataModules' fitted
scalers, saved as numpy arrays: ``TaskCLI`` and ``EncoderTask.load_from_checkpoint`` call
:func:`allow_numpy_arrays` (code calling ``torch.load`` on a task checkpoint calls it first).
It adds numeric arrays only to torch's process-wide safe globals (object arrays and arbitrary
classes are still refused) and is idempotent.
"""

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
