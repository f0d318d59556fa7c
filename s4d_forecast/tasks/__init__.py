"""Lightning tasks on the S4D encoder: PTB-XL classification and BIDMC regression.

- :class:`ECGClassificationTask`: multi-label ECG classification (BCE with logits, macro
  AUC over records after max-over-windows aggregation).
- :class:`VitalSignRegressionTask`: vital-sign regression (MSE loss, RMSE).
- ``BIDMCData``: :class:`~s4d_forecast.data.BIDMCDataModule` under the name the shipped BIDMC
  configs use (``data.class_path: s4d_forecast.tasks.BIDMCData``).
- ``s4d-forecast fit|validate|test|predict`` (:mod:`s4d_forecast.tasks.cli`): LightningCLI
  on the shipped configs in ``s4d_forecast/configs/``.
- ``s4d-forecast cv`` (:mod:`s4d_forecast.tasks.cross_validation`): patient-fold
  cross-validation of a regression config and its fold ensemble.
"""

from s4d_forecast._lazy import lazy_exports

_LAZY = {
    "BIDMCData": ("s4d_forecast.data.bidmc_datamodule", "BIDMCDataModule"),
    "EncoderTask": ("s4d_forecast.tasks.base", "EncoderTask"),
    "ECGClassificationTask": ("s4d_forecast.tasks.classification", "ECGClassificationTask"),
    "VitalSignRegressionTask": ("s4d_forecast.tasks.regression", "VitalSignRegressionTask"),
}

__all__ = ["EncoderTask", "ECGClassificationTask", "VitalSignRegressionTask", "BIDMCData"]


# resolved on first use, so `s4d-forecast --help` does not pay for torch/darts/Lightning
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
