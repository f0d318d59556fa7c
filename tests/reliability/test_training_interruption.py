"""Interruption and NaN guard: SIGTERM mid-epoch resumes to the same weights; NaN stops cleanly."""

import os
import signal

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from s4d_forecast.callbacks import NonFiniteLossError, NonFiniteLossGuard, RandomStateCheckpoint
from s4d_forecast.ssm import S4DEncoder, ssm_param_groups


class TinyRegressor(pl.LightningModule):
    def __init__(self, nan_at_step: int | None = None):
        super().__init__()
        self.encoder = S4DEncoder(2, 8, n_layers=2, d_state=8, dropout=0.2, pool="mean")
        self.head = torch.nn.Linear(8, 1)
        self.nan_at_step = nan_at_step

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.head(self.encoder(x)).squeeze(-1), y)
        if self.nan_at_step is not None and self.global_step >= self.nan_at_step:
            loss = loss * float("nan")
        return loss

    def configure_optimizers(self):
        return torch.optim.AdamW(ssm_param_groups(self, lr=1e-2, weight_decay=0.01,
                                                  ssm_lr=1e-3))


def _loader():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 64, 2, generator=g)
    y = x[:, -8:, 0].mean(1)  # learnable: the mean of the recent past
    return DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)


def _trainer(tmp_path, max_epochs, extra=()):
    ckpt = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True,
                                        every_n_epochs=1)
    return pl.Trainer(max_epochs=max_epochs, accelerator="cpu", logger=False,
                      enable_progress_bar=False, enable_model_summary=False,
                      callbacks=[ckpt, RandomStateCheckpoint(), NonFiniteLossGuard(), *extra],
                      default_root_dir=tmp_path)


class _SigtermAt(pl.Callback):
    """Send this process SIGTERM in the middle of an epoch, as a scheduler would."""

    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.slow
def test_sigterm_mid_epoch_then_resume_gives_uninterrupted_weights(tmp_path):
    pl.seed_everything(0, verbose=False)
    ref = TinyRegressor()
    _trainer(tmp_path / "ref", 3).fit(ref, _loader())

    pl.seed_everything(0, verbose=False)
    model = TinyRegressor()
    trainer = _trainer(tmp_path / "run", 3, [_SigtermAt(epoch=1, batch=3)])
    with pytest.raises(SystemExit):  # Lightning turns SIGTERM into SIGTERMException
        trainer.fit(model, _loader())
    last = tmp_path / "run" / "ckpt" / "last.ckpt"
    assert last.exists()
    assert torch.load(last, weights_only=True)["epoch"] == 0  # the epoch-0 end checkpoint

    pl.seed_everything(123, verbose=False)  # a fresh process: nothing carried over
    resumed = TinyRegressor()
    _trainer(tmp_path / "run", 3).fit(resumed, _loader(), ckpt_path=str(last))
    for (name, a), b in zip(ref.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_nan_loss_stops_training_and_keeps_last_good_checkpoint(tmp_path):
    pl.seed_everything(0, verbose=False)
    model = TinyRegressor(nan_at_step=8)  # 6 batches per epoch: the NaN comes in epoch 1
    trainer = _trainer(tmp_path, 5)
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch 1, batch 2 "
                                                  r".*last good checkpoint is .*last\.ckpt"):
        trainer.fit(model, _loader())
    ckpt = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)
    assert ckpt["epoch"] == 0
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values())
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "epoch=0-step=6.ckpt", "last.ckpt"]


def test_guard_argument_checked():
    with pytest.raises(ValueError, match="`check_every` must be an integer >= 1"):
        NonFiniteLossGuard(check_every=0)


class _CtrlC(pl.Callback):
    """Sends this process SIGINT, as Ctrl-C does, in the step named by ``at`` (a class
    attribute: darts copies the callbacks it is given)."""

    at = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if _CtrlC.at == "fit":
            os.kill(os.getpid(), signal.SIGINT)

    def on_predict_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        if _CtrlC.at == "predict":
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("step", ["fit", "predict"])
def test_ctrl_c_in_fit_or_predict_is_a_keyboard_interrupt_that_changes_nothing(step):
    import numpy as np
    import pandas as pd

    from s4d_forecast import S4DForecaster

    y = pd.Series(np.sin(np.arange(40) / 3), index=pd.date_range("2021-01-01", periods=40))
    f = S4DForecaster(horizon=4, lookback=8, d_model=4, d_state=4, hidden_size=8, n_epochs=1,
                      random_state=0, pl_trainer_kwargs={
                          "accelerator": "cpu", "enable_progress_bar": False, "logger": False,
                          "enable_checkpointing": False, "callbacks": [_CtrlC()]}).fit(y)
    before, predicted = dict(vars(f)), f.predict()
    # Python's own handler (a process started in the background may begin with SIGINT ignored)
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    _CtrlC.at = step
    try:
        with pytest.raises(KeyboardInterrupt):  # not Lightning's SystemExit(1)
            f.fit(y * 2) if step == "fit" else f.predict()
        # Lightning ignores SIGINT after catching it: the handler is back, Ctrl-C works again
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        _CtrlC.at = None
        signal.signal(signal.SIGINT, outer)
    assert all(value is before[name] for name, value in vars(f).items())
    pd.testing.assert_series_equal(f.predict(), predicted)
