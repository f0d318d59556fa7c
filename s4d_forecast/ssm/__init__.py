"""Diagonal state space models (the S4D family) in pure PyTorch.

Symbols follow the papers and are used throughout the package:

- ``H``: channels (``d_model``); every channel has its own single-input SSM.
- ``N``: state size (``d_state``), counting conjugate pairs as in the S4D paper; ``N/2``
  complex modes are stored and the kernel is twice the real part of their sum.
- ``L``: sequence length; ``B`` in a shape is the batch size.
- ``A``: diagonal continuous-time state matrix, complex ``(H, N/2)`` with ``Re A < 0``.
- ``B``, ``C``: input and output matrices, complex ``(H, N/2)``.
- ``dt``: step size per channel ``(H,)``; ``dA``, ``dB``: the discretised ``A``, ``B``.
- ``D``: the skip term ``y += D·u`` per channel.
- ``K``: the real convolution kernel ``(H, L)``, ``K[h, l] = 2·Re Σ_n C·dB·dA^l``.

Sequences are batch-first, ``(B, L, H)``.
"""

from s4d_forecast._lazy import lazy_exports

_LAZY = {
    "S4DEncoder": "s4d_forecast.ssm.backbone",
    "INITS": "s4d_forecast.ssm.init",
    "DISCS": "s4d_forecast.ssm.kernel",
    "S4DKernel": "s4d_forecast.ssm.kernel",
    "S4D": "s4d_forecast.ssm.layer",
    "ssm_param_groups": "s4d_forecast.ssm.optim",
}

__all__ = ["S4D", "S4DKernel", "S4DEncoder", "ssm_param_groups", "INITS", "DISCS"]


# resolved on first use, so `s4d-forecast --help` does not pay for torch/darts/Lightning
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
