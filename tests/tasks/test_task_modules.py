"""The Lightning modules and schedules on their own (fast)."""

from __future__ import annotations

import math
import re

import pytest
import pytorch_lightning as pl
import torch

from s4d_forecast.data import BIDMCDataModule
from s4d_forecast.tasks import ECGClassificationTask, VitalSignRegressionTask
from s4d_forecast.tasks.schedules import lr_factor


def test_cosine_with_warmup_and_step_schedules():
    kw = dict(total_steps=110, steps_per_epoch=10, warmup_steps=10)
    assert lr_factor(0, scheduler="cosine", **kw) == pytest.approx(0.1)
    assert lr_factor(9, scheduler="cosine", **kw) == pytest.approx(1.0)
    assert lr_factor(60, scheduler="cosine", **kw) == pytest.approx(0.5)
    assert lr_factor(110, scheduler="cosine", **kw) == pytest.approx(0.0, abs=1e-12)
    step = dict(scheduler="step", total_steps=1000, steps_per_epoch=10, milestones=(2, 4),
                gamma=0.5)
    assert [lr_factor(s, **step) for s in (0, 19, 20, 39, 40)] == [1, 1, 0.5, 0.5, 0.25]
    assert lr_factor(5, scheduler="constant", total_steps=10, steps_per_epoch=1) == 1.0


@pytest.mark.parametrize("kwargs, fragment", [
    ({"init": "foo"}, "`init` must be one of 'legs'"),
    ({"disc": "bilinear", "init": "dfout"}, "`disc` must be 'zoh' with init='dfout'"),
    ({"pool": "max"}, "`pool` must be one of 'mean', 'last'"),
    ({"pool": None}, "`pool` must be one of 'mean', 'last'"),
    ({"scheduler": "linear"}, "`scheduler` must be one of 'cosine'"),
    ({"lr": -1.0}, "`lr` must be a number > 0"),
    ({"lr": float("inf")}, "`lr` must be a number > 0"),
    ({"ssm_lr": 0}, "`ssm_lr` must be a number > 0 or None"),
    ({"weight_decay": -0.1}, "`weight_decay` must be a number >= 0"),
    ({"warmup_steps": -2}, "`warmup_steps` must be an integer >= 0"),
    ({"milestones": [0]}, "`milestones[]` must be an integer >= 1"),
    ({"milestones": 5}, "`milestones` must be a list of epochs"),
    ({"gamma": 0}, "`gamma` must be a number in (0, 1]"),
    ({"min_lr_ratio": 1.5}, "`min_lr_ratio` must be a number in [0, 1]"),
    ({"d_model": 0}, "`d_model` must be an integer >= 1"),
    ({"dropout": 1.0}, "`dropout` must be a number in [0, 1)"),
    ({"dt_min": -1.0}, "`dt_min` must be a number > 0"),
    ({"standardize_target": "yes"}, "`standardize_target` must be True or False"),
    ({"predictions_dir": 3}, "`predictions_dir` must be a folder path or None"),
])
def test_bad_arguments_are_named(kwargs, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        VitalSignRegressionTask(**{"d_model": 4, "n_layers": 1, "d_state": 4, **kwargs})


def test_forward_shapes_and_param_groups():
    clf = ECGClassificationTask(n_classes=3, d_model=8, n_layers=1, d_state=8)
    assert clf(torch.randn(2, 50, 12)).shape == (2, 3)
    reg = VitalSignRegressionTask(d_model=8, n_layers=1, d_state=8)
    assert reg(torch.randn(2, 40, 2)).shape == (2,)
    lazy = ECGClassificationTask(d_model=8, n_layers=1, d_state=8)
    with pytest.raises(RuntimeError, match="head is built at setup"):
        lazy(torch.randn(1, 10, 12))
    with pytest.raises(ValueError, match="`d_output` must be an integer >= 1"):
        ECGClassificationTask(n_classes=0, d_model=8, n_layers=1, d_state=8)


def test_bf16_mixed_on_cpu(tmp_path, bidmc_zip):
    dm = BIDMCDataModule(root=bidmc_zip, target="HR", batch_size=8)
    model = VitalSignRegressionTask(d_model=8, n_layers=1, d_state=8, lr=0.01,
                                    scheduler="cosine", warmup_steps=2, milestones=())
    trainer = pl.Trainer(accelerator="cpu", precision="bf16-mixed", max_steps=3,
                         limit_val_batches=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=tmp_path)
    trainer.fit(model, datamodule=dm)
    loss = trainer.callback_metrics["train/loss_step"]
    assert math.isfinite(float(loss))
    assert model.target_std > 1  # fitted on the training targets (beats/min)
    groups = trainer.optimizers[0].param_groups
    assert {g["name"] for g in groups} == {"default", "ssm"}
    assert [g["weight_decay"] for g in groups if g["name"] == "ssm"] == [0.0]
