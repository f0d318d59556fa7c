"""The Lightning module behind :class:`~s4d_forecast.forecasting.S4DModel`.

Data flow for one batch (``B`` windows, lookback ``L``, horizon ``O``):

1. past target, past covariates and the historic part of the future covariates are
   concatenated along channels, ``(B, L, n_in)``;
2. :class:`~s4d_forecast.ssm.S4DEncoder` lifts them to ``d_model`` channels and runs the
   residual S4D stack, ``(B, L, d_model)``;
3. each step's encoding is projected to ``temporal_width`` features and the ``L`` steps are
   flattened (TiDE flattens the raw lookback; we flatten its S4D encoding), then the static
   covariates are appended;
4. a dense decoder (two residual MLP blocks) maps that vector to one ``decoder_output_dim``
   vector per horizon step, ``(B, O, decoder_output_dim * nr_params)``;
5. a temporal decoder, shared across steps, combines each step's vector with that step's
   future covariates and emits ``n_targets * nr_params`` values;
6. a linear skip from the lookback to the horizon (per target, as in TiDE) is added.
"""

from __future__ import annotations

import inspect

import torch
from darts.models.forecasting.pl_forecasting_module import PLForecastingModule, io_processor
from darts.utils.data.torch_datasets.utils import PLModuleInput, PLModuleOutput
from darts.utils.torch import MonteCarloDropout
from torch import nn

from s4d_forecast.ssm import S4DEncoder, ssm_param_groups


class _MLPBlock(nn.Module):
    """``Linear -> GELU -> Linear -> dropout`` plus a linear skip, optionally LayerNorm-ed."""

    def __init__(self, d_in: int, d_out: int, hidden: int, dropout: float, norm: bool = False):
        super().__init__()
        self.dense = nn.Sequential(
            nn.Linear(d_in, hidden),
            nn.GELU(),
            nn.Linear(hidden, d_out),
            MonteCarloDropout(dropout),
        )
        self.skip = nn.Linear(d_in, d_out)
        self.norm = nn.LayerNorm(d_out) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.dense(x) + self.skip(x))


class _S4DModule(PLForecastingModule):
    """S4D encoder + TiDE-style dense/temporal decoder (see the module docstring).

    Parameters
    ----------
    input_dim
        Channels entering the encoder: targets + past covariates + future covariates.
    output_dim
        Number of target components.
    future_cov_dim
        Number of future covariate components (0 if none).
    static_cov_dim
        Length of the flattened static covariates (0 if none or unused).
    nr_params
        Parameters per output value (1 without a likelihood).
    d_model, n_layers, d_state, init, disc, bidirectional, dropout
        Passed to :class:`~s4d_forecast.ssm.S4DEncoder`; ``dropout`` also in the decoders.
    temporal_width
        Features kept per lookback step before flattening.
    hidden_size
        Width of the dense decoder.
    decoder_output_dim
        Per-step vector size produced by the dense decoder.
    temporal_decoder_hidden
        Width of the temporal decoder.
    ssm_lr
        Learning rate for the SSM parameters (A, B, dt); ``None`` uses ``min(lr, 1e-3)``.
    ssm_kwargs
        Extra keyword arguments for the S4D kernel (forwarded to ``S4DEncoder``).
    **kwargs
        Arguments of :class:`darts.models.forecasting.pl_forecasting_module.PLForecastingModule`.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        future_cov_dim: int,
        static_cov_dim: int,
        nr_params: int,
        d_model: int,
        n_layers: int,
        d_state: int,
        init: str,
        disc: str,
        bidirectional: bool,
        dropout: float,
        temporal_width: int,
        hidden_size: int,
        decoder_output_dim: int,
        temporal_decoder_hidden: int,
        ssm_lr: float | None = None,
        ssm_kwargs: dict | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.output_dim = output_dim
        self.future_cov_dim = future_cov_dim
        self.static_cov_dim = static_cov_dim
        self.nr_params = nr_params
        self.decoder_output_dim = decoder_output_dim
        self.ssm_lr = ssm_lr
        out_len = self.output_chunk_length

        self.encoder = S4DEncoder(
            d_input=input_dim,
            d_model=d_model,
            n_layers=n_layers,
            d_state=d_state,
            init=init,
            disc=disc,
            bidirectional=bidirectional,
            dropout=dropout,
            **(ssm_kwargs or {}),
        )
        self.step_projection = nn.Linear(d_model, temporal_width)
        flat_dim = self.input_chunk_length * temporal_width + static_cov_dim
        self.dense_decoder = nn.Sequential(
            _MLPBlock(flat_dim, hidden_size, hidden_size, dropout),
            _MLPBlock(
                hidden_size, out_len * decoder_output_dim * nr_params, hidden_size, dropout
            ),
        )
        self.temporal_decoder = _MLPBlock(
            decoder_output_dim * nr_params + future_cov_dim,
            output_dim * nr_params,
            temporal_decoder_hidden,
            dropout,
        )
        self.lookback_skip = nn.Linear(self.input_chunk_length, out_len * nr_params)

    @io_processor
    def forward(self, x_in: PLModuleInput) -> PLModuleOutput:
        past_target = x_in.past_target
        batch = past_target.shape[0]
        out_len = self.output_chunk_length

        encoded = self.encoder(x_in.concatenate_past_features())
        encoded = self.step_projection(encoded).flatten(start_dim=1)
        if self.static_cov_dim:
            encoded = torch.cat([encoded, x_in.static_covariates.flatten(start_dim=1)], dim=1)
        decoded = self.dense_decoder(encoded).view(batch, out_len, -1)

        if self.future_cov_dim:
            decoded = torch.cat([decoded, x_in.future_covariates], dim=2)
        y = self.temporal_decoder(decoded)

        # the skip maps lookback steps to horizon steps, per target component
        skip = self.lookback_skip(past_target.transpose(1, 2)).transpose(1, 2)
        y = y + skip.reshape_as(y)
        return PLModuleOutput(
            prediction=y.view(batch, out_len, self.output_dim, self.nr_params)
        )

    def configure_optimizers(self):
        """Build the optimiser from :func:`~s4d_forecast.ssm.ssm_param_groups`.

        ``optimizer_kwargs["lr"]`` and ``["weight_decay"]`` set the regular group (defaults:
        the optimiser class's own); the SSM parameters (A, B, dt) get ``ssm_lr`` and no weight
        decay. Every other optimiser / scheduler argument is passed through as darts does.
        """
        kws = dict(self.optimizer_kwargs)
        defaults = _signature_defaults(self.optimizer_cls)
        lr = kws.pop("lr", defaults.get("lr", 1e-3))
        weight_decay = kws.pop("weight_decay", defaults.get("weight_decay", 0.0))
        ssm_lr = self.ssm_lr if self.ssm_lr is not None else min(lr, 1e-3)
        groups = ssm_param_groups(self, lr=lr, weight_decay=weight_decay, ssm_lr=ssm_lr)
        optimizer = _build(self.optimizer_cls, {"params": groups, "lr": lr, **kws})

        if self.lr_scheduler_cls is None:
            return optimizer
        sched_kws = dict(self.lr_scheduler_kwargs)
        lr_config = {
            "monitor": "val_loss",
            "interval": "epoch",
            "frequency": 1,
            "strict": True,
            "name": None,
        }
        lr_config = {k: sched_kws.pop(k, v) for k, v in lr_config.items()}
        scheduler = _build(self.lr_scheduler_cls, {"optimizer": optimizer, **sched_kws})
        return [optimizer], {"scheduler": scheduler, **lr_config}


def _signature_defaults(cls) -> dict:
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _build(cls, kwargs: dict):
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        shown = {k: v for k, v in kwargs.items() if k not in ("params", "optimizer")}
        raise ValueError(
            f"could not build {getattr(cls, '__name__', cls)} with arguments {shown}: {err}. "
            "Check `optimizer_cls`/`optimizer_kwargs` or `lr_scheduler_cls`/`lr_scheduler_kwargs`."
        ) from err
