"""Let ``torch.load(weights_only=True)`` (Lightning's default with torch >= 2.6) read the
DataModules' fitted scalers, which are saved as plain numpy arrays.

Called where the tasks load checkpoints, not at import: by ``TaskCLI`` before it builds the
trainer (``--ckpt_path``, ``--auto_resume``, ``--test_after_fit``) and by
:meth:`EncoderTask.load_from_checkpoint <s4d_forecast.tasks.base.EncoderTask.load_from_checkpoint>`.
Code that calls ``torch.load`` on a task checkpoint itself calls :func:`allow_numpy_arrays`
first. It changes torch's process-wide safe-globals list (numeric arrays only; object arrays
and arbitrary classes are still refused) and is idempotent.
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
