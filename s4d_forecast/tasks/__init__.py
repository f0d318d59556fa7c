"""Lightning tasks on the S4D encoder: PTB-XL classification and BIDMC regression.

- :class:`ECGClassificationTask`: multi-label ECG classification (BCE with logits, macro
  AUC over records after max-over-windows aggregation).
- :class:`VitalSignRegressionTask`: vital-sign regression (MSE loss, RMSE).
- :class:`BIDMCData`: the BIDMC DataModule with ``root`` and a predict loader, for the CLI.
- ``s4d-forecast fit|validate|test|predict`` (:mod:`s4d_forecast.tasks.cli`): LightningCLI
  on the shipped configs in ``s4d_forecast/configs/``.
"""

from s4d_forecast.tasks.base import EncoderTask
from s4d_forecast.tasks.classification import ECGClassificationTask
from s4d_forecast.tasks.data import BIDMCData
from s4d_forecast.tasks.regression import VitalSignRegressionTask

__all__ = ["EncoderTask", "ECGClassificationTask", "VitalSignRegressionTask", "BIDMCData"]
