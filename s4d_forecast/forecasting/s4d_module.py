"""The Lightning module behind :class:`~s4d_forecast.forecasting.S4DModel`.

Data flow for one batch (``B`` windows, lookback ``L``, horizon ``O``, ``C`` targets):

1. **Normalise** each window's target (``normalization``): subtract its last value
   (``"last"``, as NLinear) or its mean and divide by its standard deviation (``"rin"``,
   reversible instance normalisation); the forecast is mapped back at the end.
2. **Channels**: with ``channel_independent=True`` every target component becomes its own
   sequence (``B·C`` sequences of one target each, sharing all weights, as PatchTST), with
   the covariates appended to each; otherwise the ``C`` targets and the covariates form one
   ``(B, L, n_in)`` sequence.
3. **Linear path**: a linear map from the ``L`` normalised lookback values of a target to
   its ``O`` forecast values (NLinear's model). With ``linear_init="ols"`` it starts at the
   ridge least-squares solution on the training windows
   (:mod:`s4d_forecast.forecasting.linear_fit`), computed
   when training starts, before the first optimiser step.
4. **S4D branch**: :class:`~s4d_forecast.ssm.S4DEncoder` over the normalised inputs (the
   target divided by ``branch_unit``, set with the least-squares start: per component, the
   RMS of the normalised training lookbacks), ``(B, L, d_model)``; each step is projected
   to ``temporal_width`` features, the ``L`` steps are flattened with the static
   covariates and mapped to one vector per horizon step
   (``head="mlp"``: two residual MLP blocks, then a temporal decoder shared across steps
   that also reads that step's future covariates, as TiDE; ``head="linear"``: one linear
   map from the encoding and the horizon's future covariates; ``head="last"``: as
   ``"mlp"`` but from the final step's encoding only, the S4D readout after the whole
   lookback, instead of every step's; ``head="masked"``: the encoder runs over lookback +
   horizon with the horizon's targets zeroed and flagged, and each horizon step's encoding
   is decoded, as in S4's forecasting). With ``zero_init_branch``
   its last layer starts at zero, so training starts from the linear path and the S4D
   branch learns what the linear model misses. The branch's output is multiplied by
   ``branch_unit`` again.
5. The two paths are added and de-normalised. With ``residual_branch`` the linear path
   trains on its own loss and the branch on the linear path's residual; the branch's
   weight (``branch_scale``) is the validation-MSE-optimal factor in [0, 1], computed in
   closed form from sums gathered over each validation epoch.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import operator

import torch
from darts.models.forecasting.pl_forecasting_module import PLForecastingModule, io_processor
from darts.utils.data.torch_datasets.utils import ModuleStage, PLModuleInput, PLModuleOutput
from darts.utils.likelihood_models import QuantileRegression
from darts.utils.torch import MonteCarloDropout
from torch import nn

from s4d_forecast.forecasting import linear_fit
from s4d_forecast.ssm import S4DEncoder, ssm_param_groups

NORMALIZATIONS = (None, "last", "rin")
#: Weight decay of the S4D branch's non-SSM weights when ``optimizer_kwargs`` sets none.
#: Chosen on the dev suite (benchmarks/RESULTS.md): against 0 it took S4D from 5 to 7 cases
#: of 10 first or within 2% of the best of DLinear/NLinear/TiDE/NHiTS/TSMixer, mostly by
#: curbing the branch's overfitting on short noisy series.
BRANCH_WEIGHT_DECAY = 0.01
HEADS = ("mlp", "linear", "last", "masked")
LINEAR_INITS = ("ols", "random")
#: Windows per batch when the training and validation windows are read for ``"ols"``.
_MOMENT_BATCH = 1024


def sequence_channels(input_dim: int, output_dim: int, channel_independent: bool) -> int:
    """Data channels of each sequence the encoder reads: the covariates plus one target
    (``channel_independent``) or all ``output_dim`` targets."""
    return input_dim - output_dim + (1 if channel_independent else output_dim)


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

    def zero_output(self) -> None:
        """Make the block output exactly zero at initialisation (both output layers)."""
        for layer in (self.dense[2], self.skip):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)


class _S4DModule(PLForecastingModule):
    """Normalised linear path + S4D branch (see the module docstring).

    Parameters
    ----------
    input_dim
        Channels entering the encoder: targets + past covariates + future covariates.
    output_dim
        Number of target components ``C``.
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
        Width of the dense decoder (``head="mlp"``).
    decoder_output_dim
        Per-step vector size produced by the dense decoder (``head="mlp"``).
    temporal_decoder_hidden
        Width of the temporal decoder (``head="mlp"``).
    normalization
        ``None``, ``"last"`` or ``"rin"``: per-window normalisation of the target.
    channel_independent
        One shared model applied to each target component separately.
    head
        ``"mlp"``, ``"linear"``, ``"last"`` or ``"masked"``: how the S4D encoding becomes
        the forecast.
    zero_init_branch
        Start the S4D branch's output at exactly zero.
    residual_branch
        Train the linear path on its own loss, the branch on its residual, and choose the
        branch's weight on the validation windows.
    ssm_lr
        Learning rate for the SSM parameters (A, B, dt); ``None`` uses ``min(lr, 1e-3)``.
    linear_lr
        Learning rate of the linear path; ``None``: see :meth:`resolved_linear_lr`.
    linear_init
        ``"ols"``: start the linear path at the ridge least-squares fit of the training
        windows (see :meth:`on_train_start`); ``"random"``: PyTorch's default init.
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
        normalization: str | None = None,
        channel_independent: bool = False,
        head: str = "mlp",
        zero_init_branch: bool = False,
        residual_branch: bool = False,
        ssm_lr: float | None = None,
        linear_lr: float | None = None,
        linear_init: str = "random",
        ssm_kwargs: dict | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.linear_init = linear_init
        # 1 once the linear path holds its closed-form start (saved with the weights, so a
        # resumed or continued fit does not overwrite trained weights)
        self.register_buffer("linear_fitted", torch.zeros(()))
        self.linear_fit_info: dict = {}
        self.residual_branch = residual_branch
        # weight of the S4D branch in the forecast; chosen on the validation windows when
        # residual_branch (see on_validation_epoch_end), else fixed at 1
        self.register_buffer("branch_scale", torch.ones(()))
        # per target component, the unit the S4D branch reads and writes in (see
        # on_train_start); 1 until the least-squares pass sets it
        self.register_buffer("branch_unit", torch.ones(output_dim))
        # the spread of the training targets (RMS over components of their standard
        # deviations, see on_train_start): the training and validation losses are computed on
        # the series divided by it, so that gradients, and with them Adam's weight decay and
        # eps, do not depend on the series' units; 1 until the least-squares pass sets it
        self.register_buffer("loss_unit", torch.ones(()))
        self._keep_parts = False  # set by _forward_parts: keep the two paths' outputs
        self._parts = None
        self._val_sums = None
        self.output_dim = output_dim
        self.future_cov_dim = future_cov_dim
        self.static_cov_dim = static_cov_dim
        self.nr_params = nr_params
        self.decoder_output_dim = decoder_output_dim
        self.normalization = normalization
        self.channel_independent = channel_independent
        self.head = head
        self.ssm_lr = ssm_lr
        self.linear_lr = linear_lr
        L, O = self.input_chunk_length, self.output_chunk_length
        # per sequence: targets it carries and static features it sees
        self.seq_targets = 1 if channel_independent else output_dim
        seq_input = sequence_channels(input_dim, output_dim, channel_independent)

        if head == "masked":  # + a channel marking horizon steps, + static covariates
            seq_input += 1 + static_cov_dim
        self.encoder = S4DEncoder(
            d_input=seq_input,
            d_model=d_model,
            n_layers=n_layers,
            d_state=d_state,
            init=init,
            disc=disc,
            bidirectional=bidirectional,
            dropout=dropout,
            **(ssm_kwargs or {}),
        )
        # "last" reads only the final step's encoding (the S4D state's readout after the
        # whole lookback); the others flatten every step's projected encoding
        self.step_projection = (None if head in ("last", "masked")
                                else nn.Linear(d_model, temporal_width))
        flat_dim = (d_model if head == "last" else L * temporal_width) + static_cov_dim
        out_per_step = self.seq_targets * nr_params
        if head == "masked":  # the encoder's horizon steps, each mapped to its forecast
            self.dense_decoder = None
            self.temporal_decoder = _MLPBlock(d_model, out_per_step, temporal_decoder_hidden,
                                              dropout)
        elif head in ("mlp", "last"):
            self.dense_decoder = nn.Sequential(
                _MLPBlock(flat_dim, hidden_size, hidden_size, dropout),
                _MLPBlock(hidden_size, O * decoder_output_dim, hidden_size, dropout),
            )
            self.temporal_decoder = _MLPBlock(
                decoder_output_dim + future_cov_dim, out_per_step, temporal_decoder_hidden,
                dropout,
            )
        else:  # the horizon's future covariates are flattened in beside the encoding
            self.dense_decoder = nn.Sequential(
                nn.Dropout(dropout),
                nn.Linear(flat_dim + O * future_cov_dim, O * out_per_step))
            self.temporal_decoder = None
        if zero_init_branch:  # the branch's last layer: the temporal decoder, else the linear
            if self.temporal_decoder is not None:
                self.temporal_decoder.zero_output()
            else:
                nn.init.zeros_(self.dense_decoder[1].weight)
                nn.init.zeros_(self.dense_decoder[1].bias)
        # the linear path maps lookback steps to horizon steps, per target component
        self.lookback_skip = nn.Linear(L, O * nr_params)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # model files written before branch_scale existed: the branch had weight 1
        state_dict.setdefault(prefix + "branch_scale", torch.ones(()))
        # files written before linear_fitted existed hold trained weights
        state_dict.setdefault(prefix + "linear_fitted", torch.ones(()))
        # files written before branch_unit existed: the branch worked in the data's units
        state_dict.setdefault(prefix + "branch_unit", torch.ones_like(self.branch_unit))
        # files written before loss_unit existed: the loss was in the data's units
        state_dict.setdefault(prefix + "loss_unit", torch.ones(()))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- normalisation ---------------------------------------------------------------------
    def _normalize(self, target: torch.Tensor):
        """``(normalised target, shift, scale)``; shift/scale are ``(B, 1, C)``."""
        if self.normalization == "last":
            shift = target[:, -1:, :].detach()
            return target - shift, shift, None
        if self.normalization == "rin":
            shift = target.mean(dim=1, keepdim=True).detach()
            scale = (target.var(dim=1, keepdim=True, unbiased=False) + 1e-5).sqrt().detach()
            return (target - shift) / scale, shift, scale
        return target, None, None

    @io_processor
    def forward(self, x_in: PLModuleInput) -> PLModuleOutput:
        target, shift, scale = self._normalize(x_in.past_target)
        B, L, C = target.shape
        O, P = self.output_chunk_length, self.nr_params
        others = [t for t in (x_in.past_covariates, x_in.historic_future_covariates)
                  if t is not None]
        static = (x_in.static_covariates.flatten(start_dim=1) if self.static_cov_dim
                  else None)
        future = x_in.future_covariates if self.future_cov_dim else None

        unit = self.branch_unit.to(target.dtype)  # (C,); 0: no branch for that component
        seq_target = target / torch.where(unit > 0, unit, torch.ones_like(unit))
        if self.channel_independent:
            # (B, L, C) -> (B·C, L, 1); covariates repeated for every component
            seq_target = seq_target.permute(0, 2, 1).reshape(B * C, L, 1)
            others = [t.repeat_interleave(C, dim=0) for t in others]
            static = None if static is None else static.repeat_interleave(C, dim=0)
            future = None if future is None else future.repeat_interleave(C, dim=0)
        n_seq = seq_target.shape[0]
        if self.head == "masked":
            branch = self._masked_branch(seq_target, others, static, future)
        else:
            branch = self._flat_branch(seq_target, others, static, future)
        branch = branch.view(n_seq, O, self.seq_targets, P)
        if self.channel_independent:
            branch = branch.view(B, C, O, P).transpose(1, 2)  # (B, O, C, P)
        branch = branch * unit.view(C, 1)

        linear = self.lookback_skip(target.transpose(1, 2))  # (B, C, O·P)
        linear = linear.view(B, C, O, P).transpose(1, 2)
        if self.residual_branch:
            if self._keep_parts:
                self._parts = (self._denormalize(linear, shift, scale),
                               self._denormalize(linear + branch, shift, scale))
            if self.training:  # the branch fits what the (separately trained) linear path misses
                linear = linear.detach()
            else:
                branch = branch * self.branch_scale
        return PLModuleOutput(prediction=self._denormalize(linear + branch, shift, scale))

    def _flat_branch(self, seq_target, others, static, future):
        """Heads "mlp", "linear", "last": decode the lookback's encoding."""
        n_seq, O = seq_target.shape[0], self.output_chunk_length
        encoded = self.encoder(torch.cat([seq_target, *others], dim=2))
        if self.step_projection is None:
            encoded = encoded[:, -1]
        else:
            encoded = self.step_projection(encoded).flatten(start_dim=1)
        if static is not None:
            encoded = torch.cat([encoded, static], dim=1)
        if self.head in ("mlp", "last"):
            decoded = self.dense_decoder(encoded).view(n_seq, O, -1)
            if future is not None:
                decoded = torch.cat([decoded, future], dim=2)
            return self.temporal_decoder(decoded)  # (n_seq, O, seq_targets·P)
        if future is not None:
            encoded = torch.cat([encoded, future.flatten(start_dim=1)], dim=1)
        return self.dense_decoder(encoded).view(n_seq, O, -1)

    def _masked_branch(self, seq_target, others, static, future):
        """Head ``"masked"`` (S4's forecasting): the encoder runs over lookback + horizon, the
        horizon's target steps zeroed and flagged by an indicator channel, the future
        covariates at their own steps; each horizon step's encoding is decoded. With
        ``output_chunk_shift`` the ``shift`` steps between lookback and horizon are in the
        sequence too (zero, flagged, no covariates: darts does not provide them)."""
        n_seq, L, _ = seq_target.shape
        O, shift = self.output_chunk_length, self.output_chunk_shift
        past = torch.cat([seq_target, *others], dim=2)  # (n_seq, L, d)
        ahead = past.new_zeros(n_seq, shift + O, past.shape[2])
        if future is not None:  # the historic part of the future covariates is last in past
            ahead[:, shift:, past.shape[2] - future.shape[2]:] = future
        flag = torch.cat([past.new_zeros(n_seq, L, 1), past.new_ones(n_seq, shift + O, 1)],
                         dim=1)
        parts = [torch.cat([past, ahead], dim=1), flag]
        if static is not None:
            parts.append(static.unsqueeze(1).expand(-1, L + shift + O, -1))
        encoded = self.encoder(torch.cat(parts, dim=2))[:, L + shift:]  # (n_seq, O, d_model)
        return self.temporal_decoder(encoded)

    @staticmethod
    def _denormalize(y, shift, scale):
        if scale is not None:
            y = y * scale.unsqueeze(-1)
        if shift is not None:
            y = y + shift.unsqueeze(-1)
        return y

    # -- closed-form start of the linear path ----------------------------------------------
    def on_train_start(self) -> None:
        """With ``linear_init="ols"``, set the linear path to the ridge least-squares fit of
        the training windows (ridge strength chosen on held-out windows: cross-validation
        over the training windows and the validation windows, see
        :mod:`~s4d_forecast.forecasting.linear_fit`), once per
        model: ``linear_fitted`` marks it done, so continued or resumed fits keep their
        trained weights."""
        super().on_train_start()
        if self.linear_init != "ols" or bool(self.linear_fitted):
            return
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is None:
            raise RuntimeError(
                "linear_init='ols' needs the training windows, which S4DModel reads from "
                "darts' TorchDataModule; this trainer was given none. Use "
                "S4DModel.fit/fit_from_dataset, or linear_init='random'.")
        with torch.no_grad():
            folds, square_sum, count, targets = self._moments(datamodule.train_dataset,
                                                              datamodule)
            val = None
            if datamodule.val_dataset is not None and len(datamodule.val_dataset):
                val = functools.reduce(operator.add,
                                       self._moments(datamodule.val_dataset, datamodule)[0])
            # the S4D branch reads the normalised lookback in units of its RMS over the
            # training windows and writes its correction in the same units, so that the
            # model forecasts c·y as c times y (the linear fit already does): a series in
            # nanometres or in billions trains like a standardised one. A component that is
            # constant over every lookback gets unit 0: the branch adds nothing to it.
            rms = (square_sum / max(count, 1)).sqrt()
            ok = torch.isfinite(rms) & (rms > 0)
            self.branch_unit.copy_(torch.where(ok, rms, torch.zeros_like(rms)).to(
                self.branch_unit))
            # the loss unit: sqrt(mean over components of the targets' variance) over the
            # training windows; a series constant over them keeps 1
            total, total_sq, n = targets
            variance = (total_sq / max(n, 1) - (total / max(n, 1)) ** 2).clamp_min(0.0)
            unit = variance.mean().sqrt()
            self.loss_unit.fill_(float(unit) if torch.isfinite(unit) and unit > 0 else 1.0)
            w, alpha, scores, val_scores = linear_fit.fit_linear(folds, val)
            train = functools.reduce(operator.add, folds)
            L, P = self.input_chunk_length, self.nr_params
            weight = w[:L].T.repeat_interleave(P, dim=0)  # (O·P, L): every parameter alike
            bias = w[L].repeat_interleave(P, dim=0)
            self.lookback_skip.weight.copy_(weight.to(self.lookback_skip.weight))
            self.lookback_skip.bias.copy_(bias.to(self.lookback_skip.bias))
            self.linear_fitted.fill_(1.0)
        self.linear_fit_info = {"alpha": alpha, "heldout_mse": scores, "val_mse": val_scores,
                                "cv_folds": len(folds) if len(folds) > 1 else 0,
                                "train_mse": train.mse(w),
                                "branch_unit": self.branch_unit.tolist(),
                                "loss_unit": float(self.loss_unit)}

    def _moments(self, dataset, datamodule
                 ) -> tuple[list[linear_fit.Moments], torch.Tensor, int, tuple]:
        """Second moments of the linear path's (input, target) rows over ``dataset``, in the
        space the linear path works in (after darts' RIN and ``normalization``), each row
        weighted so that its squared error counts as it does in the loss, one
        :class:`~s4d_forecast.forecasting.linear_fit.Moments` per contiguous block of the
        dataset's windows (:func:`~s4d_forecast.forecasting.linear_fit.fold_of`; their sum
        is the whole); with them the per-component sum of squares of those inputs ``(C,)``
        and the number of values behind each of those sums, and the per-component sum and
        sum of squares of the raw future targets with their count per component."""
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=_MOMENT_BATCH, shuffle=False,
            collate_fn=datamodule.dataloader_kwargs.get("collate_fn"))
        folds = min(linear_fit.CV_FOLDS, max(len(dataset), 1))
        total = [None] * folds
        square_sum, count, start = 0.0, 0, 0
        target_sum, target_sq, target_n = 0.0, 0.0, 0
        for batch in loader:
            x, y = batch.past_target.to(self.device), batch.future_target.to(self.device)
            raw = y.double()
            target_sum = target_sum + raw.sum(dim=(0, 1))
            target_sq = target_sq + raw.pow(2).sum(dim=(0, 1))
            target_n += raw.shape[0] * raw.shape[1]
            weight = torch.ones(x.shape[0], 1, x.shape[2], dtype=torch.float64,
                                device=self.device)
            if self.use_reversible_instance_norm:
                x = self.rin(x)
                y = self.rin.transform(y)
                spread = self.rin.stdev.double()
                if self.rin.affine:
                    spread = spread / self.rin.affine_weight.double()
                weight = weight * spread ** 2
            x, shift, scale = self._normalize(x)
            square_sum = square_sum + x.double().pow(2).sum(dim=(0, 1))
            count += x.shape[0] * x.shape[1]
            if shift is not None:
                y = y - shift
            if scale is not None:
                y = y / scale
                weight = weight * scale.double() ** 2
            if batch.sample_weight is not None:  # (B, O, C): each window by its mean weight
                weight = weight * batch.sample_weight.to(self.device).double().mean(
                    dim=1, keepdim=True)
            B, C = x.shape[0], x.shape[2]
            fold = linear_fit.fold_of(torch.arange(start, start + B), len(dataset), folds)
            start += B
            x_rows = x.transpose(1, 2).reshape(-1, x.shape[1])
            y_rows = y.transpose(1, 2).reshape(-1, y.shape[1])
            w_rows = weight.expand(-1, 1, C).reshape(-1)
            fold = fold.repeat_interleave(C).to(x_rows.device)  # rows are (window, component)
            for k in fold.unique().tolist():
                pick = fold == k
                rows = linear_fit.Moments.of(x_rows[pick], y_rows[pick], w_rows[pick])
                total[k] = rows if total[k] is None else total[k] + rows
        return ([m for m in total if m is not None], square_sum, count,
                (target_sum, target_sq, target_n))

    def _compute_loss(self, output: PLModuleOutput, target, criterion, sample_weight):
        """darts' loss, on the forecast and target divided by ``loss_unit`` when they are in
        the series' units (point forecasts and quantile regression): MSE in units of the
        training targets' variance. A series c·y then trains exactly as y does (the
        gradients, which Adam's L2 weight decay and eps are added to, no longer scale with
        c²), and a series in units of 10^20 does not overflow the float32 loss."""
        if self.likelihood is None or isinstance(self.likelihood, QuantileRegression):
            unit = self.loss_unit.to(target.dtype)
            output = dataclasses.replace(output, prediction=output.prediction / unit)
            target = target / unit
        return super()._compute_loss(output, target, criterion, sample_weight)

    # -- residual training and the validation-chosen branch weight ---------------------------
    def _forward_parts(self, batch, stage):
        """The forecast, the linear path alone and linear + full branch (weight 1), all in
        the output space (darts' reversible instance norm undone too)."""
        self._keep_parts = True
        try:
            output = self(batch.to_module_input(stage=stage))
        finally:
            self._keep_parts = False
        (lin, full), self._parts = self._parts, None
        if self.use_reversible_instance_norm:
            lin, full = self.rin.inverse(lin), self.rin.inverse(full)
        return output, lin, full

    def training_step(self, train_batch, batch_idx):
        if not self.residual_branch:
            return super().training_step(train_batch, batch_idx)
        output, lin, _ = self._forward_parts(train_batch, ModuleStage.TRAIN)
        target, weight = train_batch.future_target, train_batch.sample_weight
        branch_loss = self._compute_loss(output, target, self.train_criterion, weight)
        linear_loss = self._compute_loss(PLModuleOutput(prediction=lin), target,
                                         self.train_criterion, weight)
        loss = branch_loss + linear_loss
        self.log("train_loss", loss, batch_size=train_batch.past_target.shape[0],
                 prog_bar=True, sync_dist=True)
        self._update_metrics(output, target, self.train_metrics)
        return loss

    def _chooses_scale(self, batch) -> bool:
        return (self.residual_branch and self.likelihood is None
                and isinstance(self.val_criterion, nn.MSELoss) and batch.sample_weight is None)

    def validation_step(self, val_batch, batch_idx):
        if not self._chooses_scale(val_batch):
            return super().validation_step(val_batch, batch_idx)
        output, lin, full = self._forward_parts(val_batch, ModuleStage.VALIDATE)
        target = val_batch.future_target
        r = target - lin.squeeze(-1)  # what the linear path misses
        b = (full - lin).squeeze(-1)  # the branch at weight 1
        sums = torch.stack([(r * b).sum(), (b * b).sum(), (r * r).sum(),
                            torch.tensor(float(r.numel()), device=r.device)]).double()
        self._val_sums = sums if self._val_sums is None else self._val_sums + sums
        self._update_metrics(output, target, self.val_metrics)

    def on_validation_epoch_end(self):
        sums, self._val_sums = self._val_sums, None
        if sums is not None:
            rb, bb, rr, n = (float(v) for v in sums)
            scale = min(max(rb / bb, 0.0), 1.0) if bb > 0 else 0.0
            if not self.trainer.sanity_checking:
                self.branch_scale.fill_(scale)
            # the validation MSE of the forecast at that weight
            self.log("val_loss", (rr - 2 * scale * rb + scale * scale * bb) / n, prog_bar=True,
                     sync_dist=True)
        super().on_validation_epoch_end()

    def resolved_linear_lr(self, lr: float) -> float:
        """The linear path's learning rate: ``linear_lr``, or when that is ``None``, ``0``
        (kept at its start) for point forecasts started at the least-squares fit, else
        ``lr``. On the dev suite the frozen least-squares path beat the same start trained
        on with the branch (benchmarks/RESULTS.md)."""
        if self.linear_lr is not None:
            return self.linear_lr
        return 0.0 if self.linear_init == "ols" and self.nr_params == 1 else lr

    def configure_optimizers(self):
        """Build the optimiser from :func:`~s4d_forecast.ssm.ssm_param_groups`.

        ``optimizer_kwargs["lr"]`` sets the learning rate (default: the optimiser class's)
        and ``["weight_decay"]`` the weight decay of the S4D branch's non-SSM weights
        (default :data:`BRANCH_WEIGHT_DECAY`). The linear path gets the learning rate of
        :meth:`resolved_linear_lr` (with ``0`` it is left out of the optimiser) and no
        weight decay: on the dev suite, weight decay 0.01 on every weight doubled CO₂'s error
        (0.0030 → 0.0061; benchmarks/RESULTS.md). The SSM parameters (A, B, dt) get
        ``ssm_lr`` and no weight decay. Adam and AdamW run fused unless
        ``optimizer_kwargs`` picks an implementation (``fused``/``foreach``; see
        :func:`_fusable`). Every other optimiser / scheduler argument is passed through as
        darts does.
        """
        kws = dict(self.optimizer_kwargs)
        defaults = _signature_defaults(self.optimizer_cls)
        lr = kws.pop("lr", defaults.get("lr", 1e-3))
        weight_decay = kws.pop("weight_decay", BRANCH_WEIGHT_DECAY)
        ssm_lr = self.ssm_lr if self.ssm_lr is not None else min(lr, 1e-3)
        groups = ssm_param_groups(self, lr=lr, weight_decay=weight_decay, ssm_lr=ssm_lr)
        linear = {id(p) for p in self.lookback_skip.parameters()}
        for group in groups:  # the linear path leaves its group for one without decay
            if group.get("name") == "default":
                group["params"] = [p for p in group["params"] if id(p) not in linear]
        linear_lr = self.resolved_linear_lr(lr)
        for p in self.lookback_skip.parameters():  # lr 0: frozen, no gradient computed
            p.requires_grad_(linear_lr > 0)
        if linear_lr > 0:
            groups.append({"params": list(self.lookback_skip.parameters()), "lr": linear_lr,
                           "weight_decay": 0.0, "name": "linear_path"})
        if _fusable(self.optimizer_cls, kws, groups):
            kws["fused"] = True
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


def _fusable(optimizer_cls, kws: dict, groups: list) -> bool:
    """Whether to ask Adam/AdamW for its fused implementation: the same update as the
    default for-loop one, in one kernel for all parameters instead of about ten small ops per
    parameter tensor (at the default size on one CPU thread, 0.4 against 2.2 ms per training
    step; ``benchmarks/RESULTS.md``). Only when the user chose no implementation and every
    parameter is a floating-point CPU or CUDA tensor."""
    if optimizer_cls not in (torch.optim.Adam, torch.optim.AdamW):
        return False
    if {"fused", "foreach", "capturable", "differentiable"} & kws.keys():
        return False
    return all(p.is_floating_point() and p.device.type in ("cpu", "cuda")
               for group in groups for p in group["params"])


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
