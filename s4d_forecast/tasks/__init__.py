"""Lightning tasks on the S4D encoder: PTB-XL classification and BIDMC regression.

- :class:`ECGClassificationTask`: multi-label ECG classification (BCE with logits, macro
  AUC over records after max-over-windows aggregation).
- :class:`VitalSignRegressionTask`: vital-sign regression (MSE loss, RMSE).
- ``s4d-forecast fit|validate|test|predict`` (:mod:`s4d_forecast.tasks.cli`): LightningCLI
  on the shipped configs in ``s4d_forecast/configs/``, whose data are the DataModules of
  :mod:`s4d_forecast.data`.
- ``s4d-forecast cv`` (:mod:`s4d_forecast.tasks.cross_validation`): patient-fold
  cross-validation of a regression config and its fold ensemble.
"""

from s4d_forecast._lazy import lazy_exports

_LAZY = {
    "EncoderTask": ("s4d_forecast.tasks.base", "EncoderTask"),
    "ECGClassificationTask": ("s4d_forecast.tasks.classification", "ECGClassificationTask"),
    "VitalSignRegressionTask": ("s4d_forecast.tasks.regression", "VitalSignRegressionTask"),
}

__all__ = ["EncoderTask", "ECGClassificationTask", "VitalSignRegressionTask"]


# resolved on first use, so `s4d-forecast --help` does not pay for torch/darts/Lightning
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
