"""Crafted pickles in model files and checkpoints are refused, never executed.

Each payload would create a trace file when unpickled; the tests check that loading raises
and that the trace never appears.
"""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch


class _Payload:
    """Unpickling this calls ``Path.touch(trace)``: a harmless, visible side effect."""

    def __init__(self, trace: Path):
        self.trace = trace

    def __reduce__(self):
        return (Path.touch, (self.trace,))


def _evil_pickle(path: Path, trace: Path) -> None:
    with open(path, "wb") as f:
        pickle.dump({"model": _Payload(trace)}, f)


def test_payload_really_runs_under_plain_pickle(tmp_path):
    """Sanity check of the payload itself: plain pickle executes it."""
    trace = tmp_path / "trace"
    _evil_pickle(tmp_path / "x.pkl", trace)
    with open(tmp_path / "x.pkl", "rb") as f:
        pickle.load(f)  # noqa: S301 - deliberately unsafe, to prove the payload works
    assert trace.exists()


@pytest.mark.parametrize("forged_id", [False, True])
def test_darts_model_file_with_payload_is_refused(tmp_path, forged_id):
    """Without our save id the file is refused before unpickling; with a forged one, darts'
    restricted unpickler refuses the payload."""
    from s4d_forecast import S4DModel
    from s4d_forecast.forecasting import model_files

    trace = tmp_path / "trace"
    path = tmp_path / "model.pt"
    torch.save(_Payload(trace), path)  # darts writes its model file with torch.save
    torch.save({}, str(path) + ".ckpt")
    if forged_id:
        for target in (path, Path(str(path) + ".ckpt")):
            model_files._stamp(target, "0" * 32)
    with pytest.raises(model_files.ModelFileError,
                       match="refused as unsafe" if forged_id else "not written by"):
        S4DModel.load(str(path))
    assert not trace.exists(), "the payload was executed"


def test_darts_checkpoint_with_payload_is_refused(tmp_path):
    from s4d_forecast import S4DModel

    trace = tmp_path / "trace"
    ckpt_dir = tmp_path / "evil_model" / "checkpoints"
    ckpt_dir.mkdir(parents=True)
    torch.save(_Payload(trace), tmp_path / "evil_model" / "_model.pth.tar")
    torch.save({"epoch": 0, "payload": _Payload(trace)}, ckpt_dir / "last-epoch=0.ckpt")
    with pytest.raises(Exception, match="not allow-listed"):  # darts' UnpicklingError
        S4DModel.load_from_checkpoint("evil_model", work_dir=str(tmp_path), best=False)
    assert not trace.exists(), "the payload was executed"


def test_task_checkpoint_with_payload_is_refused(tmp_path):
    from s4d_forecast.tasks import VitalSignRegressionTask, allow_numpy_arrays

    allow_numpy_arrays()  # what the tasks CLI enables: numeric arrays only, still no objects
    trace = tmp_path / "trace"
    ckpt = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"x": _Payload(trace)},
                "pytorch-lightning_version": "2.6.0"}, ckpt)
    with pytest.raises(Exception, match="(?i)weights_only|unsupported global|Weights only"):
        VitalSignRegressionTask.load_from_checkpoint(ckpt)
    assert not trace.exists(), "the payload was executed"


def test_scaler_file_with_object_array_is_refused(tmp_path):
    from s4d_forecast.data.scaling import SignalScaler

    trace = tmp_path / "trace"
    path = tmp_path / "scaler.npz"
    np.savez(path, mean=np.array([_Payload(trace)], dtype=object))
    with pytest.raises(ValueError, match="(?i)pickle|object"):
        SignalScaler.load(path)
    assert not trace.exists(), "the payload was executed"
