"""Lightning tasks on the S4D encoder: ECG classification and vital-sign regression.

:class:`ECGClassificationTask` (PTB-XL, BCE, macro AUC over records) and
:class:`VitalSignRegressionTask` (BIDMC, MSE, RMSE) are trained by ``s4d-forecast fit``
(and ``validate``, ``test``, ``predict``) on the configs in ``s4d_forecast/configs/``
(:mod:`~s4d_forecast.tasks.cli`) and cross-validated by ``s4d-forecast cv``. Names are
imported on first use, so ``s4d-forecast --help`` does not pay for torch or Lightning.
"""

from s4d_forecast._lazy import lazy_exports

__all__ = ["EncoderTask", "ECGClassificationTask", "VitalSignRegressionTask",
           "allow_numpy_arrays"]
__getattr__, __dir__ = lazy_exports(__name__, {
    "EncoderTask": "s4d_forecast.tasks.base", "allow_numpy_arrays": "s4d_forecast.tasks.base",
    "ECGClassificationTask": "s4d_forecast.tasks.classification",
    "VitalSignRegressionTask": "s4d_forecast.tasks.regression"})
