"""The models of ``s4d-forecast benchmark``, built with one shared training budget.

Every neural model gets the same lookback, horizon (one direct multi-step model per horizon),
epochs, batch size, learning rate, seed, early stopping (best weights restored) and device;
everything else is the model's own default. PatchTST, iTransformer and TimeMixer are
neuralforecast's through darts' ``NeuralForecastModel``, each with its paper's architecture
and learning rate for ETTh2 at lookback 96 (:data:`RIVAL_SETTINGS`; sources in
docs/benchmark_protocols.md) and its own instance normalisation (``--rin`` leaves them alone).
"""

from __future__ import annotations

import copy

import pytorch_lightning as pl

from s4d_forecast.comparison.names import MODELS, NEURALFORECAST

# name: (neuralforecast class, its architecture, learning rate): see the module docstring
RIVAL_SETTINGS = {
    "patchtst": ("PatchTST", {"encoder_layers": 3, "n_heads": 4, "hidden_size": 16,
                              "linear_hidden_size": 128, "dropout": 0.3, "fc_dropout": 0.3,
                              "head_dropout": 0.0, "patch_len": 16, "stride": 8,
                              "revin": True, "revin_affine": False,
                              "revin_subtract_last": False}, 1e-4),
    "itransformer": ("iTransformer", {"hidden_size": 128, "n_heads": 8, "e_layers": 2,
                                      "d_ff": 128, "dropout": 0.1, "use_norm": True}, 1e-4),
    "timemixer": ("TimeMixer", {"d_model": 16, "d_ff": 32, "e_layers": 2, "dropout": 0.1,
                                "top_k": 5, "moving_avg": 25, "channel_independence": 1,
                                "down_sampling_layers": 3, "down_sampling_window": 2,
                                "down_sampling_method": "avg", "use_norm": True}, 1e-2),
}
DARTS_MODELS = {"tide": "TiDEModel", "tsmixer": "TSMixerModel", "nhits": "NHiTSModel",
                "dlinear": "DLinearModel", "nlinear": "NLinearModel", "tcn": "TCNModel"}


class BestWeights(pl.Callback):
    """Keep the weights of the epoch with the lowest ``val_loss``; load them when fit ends."""

    def __init__(self):
        self.best, self.state, self.best_epoch = float("inf"), None, -1

    def on_validation_end(self, trainer, pl_module) -> None:
        value = trainer.callback_metrics.get("val_loss")
        if not trainer.sanity_checking and value is not None and float(value) < self.best:
            self.best, self.best_epoch = float(value), trainer.current_epoch
            self.state = copy.deepcopy({k: v.detach().cpu() if hasattr(v, "detach") else v
                                        for k, v in pl_module.state_dict().items()})

    def on_fit_end(self, trainer, pl_module) -> None:
        if self.state is not None:
            pl_module.load_state_dict(self.state)


def skip_reason(name: str, lookback: int, horizon: int) -> str | None:
    """Why ``name`` cannot run at this lookback/horizon, or ``None``."""
    if name == "tcn" and horizon >= lookback:
        return f"darts' TCN needs horizon < lookback (horizon {horizon}, lookback {lookback})"
    if name == "timemixer" and lookback % 8:
        return (f"TimeMixer's three down-samplings by 2 need a lookback divisible by 8 "
                f"(lookback {lookback})")
    return None


def build_model(name: str, *, lookback: int, horizon: int, epochs: int, batch_size: int,
                lr: float, seed: int, device: str, patience: int, rin: bool = False,
                progress: bool = False, extra: dict | None = None):
    """A fresh darts model ``name`` with the shared budget, and its :class:`BestWeights`.

    Parameters
    ----------
    extra : dict, optional
        Model-specific keyword arguments (e.g. ``{"d_model": 32}`` for S4D); for the
        neuralforecast models, ``model_kwargs`` entries update :data:`RIVAL_SETTINGS` and
        ``optimizer_kwargs`` replaces the paper's learning rate.
    """
    from pytorch_lightning.callbacks import EarlyStopping

    best = BestWeights()
    trainer = {"accelerator": device, "devices": 1, "logger": False,
               "enable_checkpointing": False, "enable_model_summary": False,
               "enable_progress_bar": progress,
               "callbacks": [EarlyStopping("val_loss", patience=patience, mode="min"), best]}
    common = {"input_chunk_length": lookback, "output_chunk_length": horizon,
              "n_epochs": epochs, "batch_size": batch_size, "random_state": seed,
              "optimizer_kwargs": {"lr": lr}, "use_reversible_instance_norm": rin,
              "pl_trainer_kwargs": trainer}
    extra = dict(extra or {})
    if name == "s4d":
        from s4d_forecast.forecasting.s4d_model import S4DModel as cls
    elif name in NEURALFORECAST:
        from darts.models import NeuralForecastModel as cls

        nf_class, architecture, paper_lr = RIVAL_SETTINGS[name]
        common.update(model=nf_class, optimizer_kwargs={"lr": paper_lr},
                      use_reversible_instance_norm=False)
        extra["model_kwargs"] = {**architecture, **extra.get("model_kwargs", {})}
    elif name in DARTS_MODELS:
        import darts.models

        cls = getattr(darts.models, DARTS_MODELS[name])
    else:
        raise ValueError(f"model {name!r} is not a trainable model; accepted: {MODELS[:-4]}")
    return cls(**{**common, **extra}), best


def count_parameters(model) -> int:
    """Trainable parameters of a fitted darts torch model."""
    return int(sum(p.numel() for p in model.model.parameters() if p.requires_grad))
