"""S4DModel persistence, reproducibility, precision, optimiser groups, historical forecasts."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from darts.utils.likelihood_models import GaussianLikelihood
from forecasting_helpers import IN_LEN, OUT_LEN, TINY, trainer_kwargs

from s4d_forecast import S4DModel
from s4d_forecast.ssm import S4DKernel


def make_model(**kwargs) -> S4DModel:
    params = {"input_chunk_length": IN_LEN, "output_chunk_length": OUT_LEN, "n_epochs": 1,
              "random_state": 0, **TINY, **trainer_kwargs()}
    params.update(kwargs)
    return S4DModel(**params)


@pytest.fixture(scope="module")
def fitted(air):
    model = make_model()
    model.fit(air["train"])
    return model


def test_save_load_gives_identical_predictions(fitted, air, tmp_path):
    expected = fitted.predict(12)
    path = str(tmp_path / "s4d.pt")
    fitted.save(path)
    fitted.save(str(tmp_path / "s4d_clean.pt"), clean=True)

    loaded = S4DModel.load(path)  # no trusted=True: the classes are allow-listed
    assert isinstance(loaded, S4DModel)
    np.testing.assert_array_equal(loaded.predict(12).values(), expected.values())
    clean = S4DModel.load(str(tmp_path / "s4d_clean.pt"))
    assert clean.training_series is None
    np.testing.assert_array_equal(clean.predict(12, series=air["train"]).values(),
                                  expected.values())


@pytest.mark.slow
def test_a_fresh_process_loads_the_file_and_ssm_alone_imports_no_darts(fitted, tmp_path):
    """A new interpreter that imports only the package loads the file safely (no
    trusted=True) and predicts the same; importing ``s4d_forecast.ssm`` does not import darts."""
    path = str(tmp_path / "s4d.pt")
    fitted.save(path)
    np.save(tmp_path / "expected.npy", fitted.predict(6).values())
    code = (
        "import sys, numpy as np, s4d_forecast.ssm;"
        "assert 'darts' not in sys.modules, 'darts imported';"
        "from s4d_forecast import S4DModel;"
        f"m = S4DModel.load({path!r});"
        f"assert np.array_equal(m.predict(6).values(), np.load({str(tmp_path / 'expected.npy')!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]


def test_load_from_checkpoint(air, tmp_path):
    kw = trainer_kwargs()
    kw["pl_trainer_kwargs"].pop("enable_checkpointing")
    model = make_model(model_name="s4d_ckpt", work_dir=str(tmp_path), save_checkpoints=True,
                       force_reset=True, **kw)
    model.fit(air["train"], val_series=air["val"])
    expected = model.predict(12)
    best = S4DModel.load_from_checkpoint("s4d_ckpt", work_dir=str(tmp_path), best=True)
    last = S4DModel.load_from_checkpoint("s4d_ckpt", work_dir=str(tmp_path), best=False)
    assert isinstance(best, S4DModel)
    np.testing.assert_allclose(last.predict(12, series=air["train"]).values(), expected.values(),
                               rtol=1e-6)
    assert np.isfinite(best.predict(12, series=air["train"]).values()).all()


def test_same_seed_same_predictions(air):
    preds = []
    for seed in (7, 7, 8):
        model = make_model(random_state=seed, n_epochs=1)
        model.fit(air["train"])
        preds.append(model.predict(12).values())
    np.testing.assert_array_equal(preds[0], preds[1])
    assert not np.allclose(preds[0], preds[2])


def test_bf16_mixed_on_cpu(air):
    model = make_model(n_epochs=1, **trainer_kwargs(precision="bf16-mixed"))
    with pytest.raises(ValueError, match="float32"):
        model.fit(air["train"].astype(np.float64))
    model = make_model(n_epochs=1, **trainer_kwargs(precision="bf16-mixed"))
    model.fit(air["train"].astype(np.float32))
    assert model.trainer.precision == "bf16-mixed"
    pred = model.predict(12)
    assert np.isfinite(pred.values()).all()
    assert next(model.model.parameters()).dtype == torch.float32  # weights stay float32


def test_ssm_parameter_groups_and_scheduler(air):
    model = make_model(
        n_epochs=1,
        optimizer_cls=torch.optim.AdamW,
        optimizer_kwargs={"lr": 3e-3, "weight_decay": 0.05, "betas": (0.8, 0.9)},
        ssm_lr=5e-4,
        lr_scheduler_cls=torch.optim.lr_scheduler.StepLR,
        lr_scheduler_kwargs={"step_size": 10, "gamma": 0.5, "interval": "step"},
        likelihood=GaussianLikelihood(),  # a trained linear path (point forecasts freeze it)
    )
    model.fit(air["train"])
    optimizer = model.model.trainer.optimizers[0]
    assert isinstance(optimizer, torch.optim.AdamW)
    groups = {g["name"]: g for g in optimizer.param_groups}
    assert groups["default"]["lr"] == 3e-3 and groups["default"]["weight_decay"] == 0.05
    assert groups["ssm"]["lr"] == 5e-4 and groups["ssm"]["weight_decay"] == 0.0
    assert groups["ssm"]["betas"] == (0.8, 0.9)
    # the linear path is trained without weight decay
    linear_ids = {id(model.model.linear)}
    assert {id(p) for p in groups["linear_path"]["params"]} == linear_ids
    assert groups["linear_path"]["weight_decay"] == 0.0 and groups["linear_path"]["lr"] == 3e-3
    assert not linear_ids & {id(p) for p in groups["default"]["params"]}
    ssm_ids = {id(p) for m in model.model.modules() if isinstance(m, S4DKernel)
               for p in m.ssm_parameters()}
    assert {id(p) for p in groups["ssm"]["params"]} == ssm_ids
    n_grouped = sum(len(g["params"]) for g in optimizer.param_groups)
    assert n_grouped == len(list(model.model.parameters()))
    (config,) = model.model.trainer.lr_scheduler_configs
    assert isinstance(config.scheduler, torch.optim.lr_scheduler.StepLR)
    assert config.interval == "step"


def test_branch_weight_decay_default(air):
    from s4d_forecast.forecasting.s4d_module import BRANCH_WEIGHT_DECAY

    fitted = make_model()
    fitted.fit(air["train"])
    groups = {g["name"]: g for g in fitted.model.trainer.optimizers[0].param_groups}
    assert groups["default"]["weight_decay"] == BRANCH_WEIGHT_DECAY > 0
    assert groups["ssm"]["weight_decay"] == 0.0
    # by default the linear path stays at its least-squares start: in no group, no gradient
    grouped = {id(p) for g in groups.values() for p in g["params"]}
    assert id(fitted.model.linear) not in grouped and not fitted.model.linear.requires_grad
    assert float(fitted.model.linear_fitted) == 1.0
    assert all(g["fused"] for g in groups.values())  # Adam runs fused unless told otherwise


def test_default_ssm_lr_is_capped(air):
    model = make_model(n_epochs=1, optimizer_kwargs={"lr": 1e-2})
    model.fit(air["train"])
    groups = {g["name"]: g for g in model.model.trainer.optimizers[0].param_groups}
    assert groups["default"]["lr"] == 1e-2 and groups["ssm"]["lr"] == 1e-3


def test_historical_forecasts_without_retrain_use_the_optimised_path(fitted, air, monkeypatch):
    calls = []
    original = S4DModel._optimized_historical_forecasts

    def spy(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(S4DModel, "_optimized_historical_forecasts", spy)
    kwargs = {"series": air["series"], "start": -36, "forecast_horizon": 12, "stride": 6,
              "retrain": False, "last_points_only": False, "verbose": False}
    fast = fitted.historical_forecasts(**kwargs)
    assert calls, "darts did not take its optimised historical-forecasts path"
    slow = fitted.historical_forecasts(**kwargs, enable_optimization=False)
    assert len(fast) == len(slow) == 5
    for a, b in zip(fast, slow):
        assert a.time_index.equals(b.time_index)
        np.testing.assert_allclose(a.values(), b.values(), rtol=1e-5, atol=1e-6)


def test_historical_forecasts_with_retrain(air):
    model = make_model(n_epochs=1)
    forecasts = model.historical_forecasts(
        air["series"], start=-24, forecast_horizon=12, stride=12, retrain=True,
        last_points_only=False, verbose=False,
    )
    assert len(forecasts) == 2
    assert forecasts[0].start_time() == air["series"].time_index[-24]
    err = model.backtest(air["series"], historical_forecasts=forecasts)
    assert np.isfinite(err)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_bf16(air):
    model = make_model(n_epochs=2, pl_trainer_kwargs={
        "accelerator": "gpu", "devices": 1, "precision": "bf16-mixed",
        "enable_progress_bar": False, "logger": False, "enable_checkpointing": False})
    model.fit(air["train"])
    assert np.isfinite(model.predict(12).values()).all()


def test_adam_runs_unfused_when_an_implementation_is_chosen(air):
    model = make_model(n_epochs=1, optimizer_kwargs={"foreach": False})
    model.fit(air["train"])
    (optimizer,) = model.model.trainer.optimizers
    assert not any(g["fused"] or g["foreach"] for g in optimizer.param_groups)
    model = make_model(n_epochs=1, optimizer_cls=torch.optim.SGD, optimizer_kwargs={"lr": 0.01})
    model.fit(air["train"])
    assert "fused" not in {k for g in model.model.trainer.optimizers[0].param_groups
                           for k, v in g.items() if v}
