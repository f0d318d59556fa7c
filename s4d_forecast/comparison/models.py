"""The models of ``s4d-forecast benchmark``, built with one shared training budget.

Each neural model gets the same lookback (``input_chunk_length``), horizon
(``output_chunk_length``: one direct multi-step model per horizon), epochs, batch size,
learning rate, seed, early stopping on the validation loss (patience in epochs, best weights
restored at the end) and device; everything else is the model's own darts default.
``naive`` repeats the last observed value (persistence) and needs no training.
"""

from __future__ import annotations

import copy

import pytorch_lightning as pl

from s4d_forecast.comparison.names import MODELS


class BestWeights(pl.Callback):
    """Keep the weights of the epoch with the lowest ``val_loss``; load them when fit ends."""

    def __init__(self, monitor: str = "val_loss"):
        self.monitor = monitor
        self.best = float("inf")
        self.state = None
        self.best_epoch = -1

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is not None and float(value) < self.best:
            self.best = float(value)
            self.best_epoch = trainer.current_epoch
            self.state = copy.deepcopy({k: v.detach().cpu() for k, v in
                                        pl_module.state_dict().items()})

    def on_fit_end(self, trainer, pl_module) -> None:
        if self.state is not None:
            pl_module.load_state_dict(self.state)


def skip_reason(name: str, lookback: int, horizon: int) -> str | None:
    """Why ``name`` cannot run at this lookback/horizon, or ``None``."""
    if name == "tcn" and horizon >= lookback:
        return (f"darts' TCN needs horizon < lookback (horizon {horizon}, "
                f"lookback {lookback})")
    return None


def build_model(name: str, *, lookback: int, horizon: int, epochs: int, batch_size: int,
                lr: float, seed: int, device: str, patience: int, rin: bool = False,
                progress: bool = False, extra: dict | None = None):
    """A fresh darts model ``name`` with the shared budget, plus its :class:`BestWeights`.

    Parameters
    ----------
    extra : dict, optional
        Model-specific keyword arguments (e.g. ``{"d_model": 32}`` for S4D) on top of the
        defaults.

    Returns
    -------
    (model, BestWeights)
    """
    from pytorch_lightning.callbacks import EarlyStopping

    best = BestWeights()
    trainer = {
        "accelerator": device, "devices": 1, "logger": False,
        "enable_checkpointing": False, "enable_model_summary": False,
        "enable_progress_bar": progress,
        "callbacks": [EarlyStopping("val_loss", patience=patience, mode="min"), best],
    }
    common = {
        "input_chunk_length": lookback, "output_chunk_length": horizon, "n_epochs": epochs,
        "batch_size": batch_size, "random_state": seed, "optimizer_kwargs": {"lr": lr},
        "use_reversible_instance_norm": rin, "pl_trainer_kwargs": trainer,
        **(extra or {}),
    }
    if name == "s4d":
        from s4d_forecast.forecasting.s4d_model import S4DModel as cls
    elif name == "tide":
        from darts.models import TiDEModel as cls
    elif name == "tsmixer":
        from darts.models import TSMixerModel as cls
    elif name == "nhits":
        from darts.models import NHiTSModel as cls
    elif name == "dlinear":
        from darts.models import DLinearModel as cls
    elif name == "nlinear":
        from darts.models import NLinearModel as cls
    elif name == "tcn":
        from darts.models import TCNModel as cls
    else:
        raise ValueError(f"model {name!r} is not a trainable model; accepted: {MODELS[:-1]}")
    return cls(**common), best


def count_parameters(model) -> int:
    """Trainable parameters of a fitted darts torch model (0 for anything else)."""
    module = getattr(model, "model", None)
    if module is None:
        return 0
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))
