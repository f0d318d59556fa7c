"""The Lightning module behind :class:`~s4d_forecast.forecasting.S4DModel`.

One batch (``B`` windows, lookback ``L``, horizon ``O``, ``C`` targets, ``P`` likelihood
parameters): the target minus each window's last value (not for a parametric likelihood) ->
**linear path**, per component ``[lookback, covariates, 1] -> O`` values, set to the ridge fit
of the training windows when training starts (:mod:`~s4d_forecast.forecasting.linear_fit`)
+ ``branch_weight`` x **S4D branch**, the normalised target (in ``branch_unit``), its
standardised level and the covariates through :class:`~s4d_forecast.ssm.S4DEncoder` and a
TiDE-style dense + temporal decoder -> plus the last value again. ``branch_weight`` is the
validation-MSE minimiser in [0, 1], set in closed form after every validation epoch (the
logged ``val_loss`` is the MSE at that weight); 1 without validation windows, with a
likelihood or another loss. S4DModel's docstring has the design in full.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import operator

import torch
from darts.models.forecasting.pl_forecasting_module import PLForecastingModule, io_processor
from darts.utils.data.torch_datasets.utils import ModuleStage, PLModuleInput, PLModuleOutput
from darts.utils.likelihood_models import QuantileRegression
from darts.utils.torch import MonteCarloDropout
from torch import nn

from s4d_forecast.forecasting import linear_fit
from s4d_forecast.ssm import S4DEncoder, ssm_param_groups

#: Weight decay of the branch's non-SSM weights when ``optimizer_kwargs`` sets none (chosen
#: on the dev suite: it curbs the branch's overfitting on short noisy series).
BRANCH_WEIGHT_DECAY = 0.01
#: Most linear-path features (``L + covariate features + 1``) fitted by least squares (cost
#: ``rows * features**2``); beyond, covariates stay out of the path, or it starts at random.
MAX_LINEAR_FEATURES = 4097
#: Windows per batch when the training and validation windows are read for the ridge fit.
_MOMENT_BATCH = 1024
#: Most float64 values the ridge statistics kept for online updates may hold (64 MiB: a
#: lookback of about 1,300 without covariates); larger fits keep none and cannot be updated.
MAX_STATISTICS = 8 * 2**20


_KEYS = ("xx", "xy", "yy", "n")


def _stacked(moments: list) -> dict:
    """``moments[group][fold]`` as float64 tensors ``(groups, folds, ...)`` per statistic."""
    return {key: torch.stack([torch.stack([getattr(m, key) for m in group])
                              for group in moments]).double().cpu() for key in _KEYS}


class _MLPBlock(nn.Module):
    """``Linear -> GELU -> Linear -> dropout`` plus a linear skip."""

    def __init__(self, d_in: int, d_out: int, hidden: int, dropout: float):
        super().__init__()
        self.dense = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, d_out),
                                   MonteCarloDropout(dropout))
        self.skip = nn.Linear(d_in, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(x) + self.skip(x)


class _S4DModule(PLForecastingModule):
    """Normalised linear path + S4D branch (see the module docstring).

    Parameters
    ----------
    input_dim
        Channels of the past inputs: targets + past covariates + historic future covariates.
    output_dim, future_cov_dim, static_cov_dim, nr_params
        Target components ``C``, future covariate components, flattened static covariates,
        parameters per output value (1 without a likelihood).
    d_model, n_layers, d_state, init, disc, bidirectional, dropout, ssm_kwargs
        The S4D encoder's (:class:`~s4d_forecast.ssm.S4DEncoder`); ``dropout`` also in the
        decoders.
    temporal_width, hidden_size, decoder_output_dim, temporal_decoder_hidden, ssm_lr,
    level_input
        As in :class:`~s4d_forecast.forecasting.S4DModel`.
    **kwargs
        Arguments of darts' ``PLForecastingModule``.
    """

    def __init__(self, input_dim: int, output_dim: int, future_cov_dim: int,
                 static_cov_dim: int, nr_params: int, d_model: int, n_layers: int,
                 d_state: int, init: str, disc: str, bidirectional: bool, dropout: float,
                 temporal_width: int, hidden_size: int, decoder_output_dim: int,
                 temporal_decoder_hidden: int, ssm_lr: float | None = None,
                 ssm_kwargs: dict | None = None, level_input: bool = True, **kwargs):
        super().__init__(**kwargs)
        L, O, C = self.input_chunk_length, self.output_chunk_length, output_dim
        self.output_dim, self.nr_params = C, nr_params
        self.future_cov_dim, self.static_cov_dim = future_cov_dim, static_cov_dim
        self.ssm_lr, self.level_input = ssm_lr, level_input
        # point forecasts and quantiles are values of the series: normalised by the last
        # value and started at the ridge fit; a distribution's parameters are neither
        self.fits_values = self.likelihood is None or isinstance(self.likelihood,
                                                                 QuantileRegression)
        n_cov = (input_dim - C) * L + future_cov_dim * O
        self.linear_covariates = n_cov > 0 and L + n_cov + 1 <= MAX_LINEAR_FEATURES
        # the linear path starts at the ridge fit for values of the series, and stays there
        # for point forecasts (quantiles train on from it: they cannot all be the mean fit)
        self.ridge = self.fits_values and L + 1 <= MAX_LINEAR_FEATURES
        self.frozen = self.ridge and self.likelihood is None
        groups = C if self.linear_covariates and C > 1 else 1
        n_features = L + 1 + (n_cov if self.linear_covariates else 0)
        # the linear path: (groups, features, O·P), the last feature the constant 1
        bound = 1 / math.sqrt(n_features)
        self.linear = nn.Parameter(torch.empty(groups, n_features, O * nr_params).uniform_(
            -bound, bound))
        # buffers set by the ridge pass (saved with the weights): 1 once the linear path holds
        # the fit; the branch's unit per component; the loss unit; the targets' level
        for name, value in (("linear_fitted", torch.zeros(())), ("branch_unit", torch.ones(C)),
                            ("loss_unit", torch.ones(())), ("level_shift", torch.zeros(C)),
                            ("level_scale", torch.ones(C)), ("branch_weight", torch.ones(()))):
            self.register_buffer(name, value)
        self.linear_fit_info: dict = {}
        # the ridge fit's sufficient statistics per group and cross-validation fold, kept for
        # online updates (get_extra_state: saved with the weights, never cast to float32)
        self.statistics: dict | None = None
        self._parts = None
        self._val_sums = None

        # the encoder: (B, L, n_in) -> every step's encoding projected to temporal_width
        # features, flattened: (B, L * temporal_width)
        self.encoder = nn.Sequential(
            S4DEncoder(d_input=input_dim + (C if level_input else 0), d_model=d_model,
                       n_layers=n_layers, d_state=d_state, init=init, disc=disc,
                       bidirectional=bidirectional, dropout=dropout, **(ssm_kwargs or {})),
            nn.Linear(d_model, temporal_width), nn.Flatten())
        self.dense_decoder = nn.Sequential(
            _MLPBlock(L * temporal_width + static_cov_dim, hidden_size, hidden_size, dropout),
            _MLPBlock(hidden_size, O * decoder_output_dim, hidden_size, dropout))
        self.temporal_decoder = _MLPBlock(decoder_output_dim + future_cov_dim, C * nr_params,
                                          temporal_decoder_hidden, dropout)

    # -- forward ---------------------------------------------------------------------------
    def _inputs(self, x_in: PLModuleInput):
        """``(target, shift, covariates over the lookback, future covariates)``."""
        target = x_in.past_target
        shift = target[:, -1:, :].detach() if self.fits_values else None
        if shift is not None:
            target = target - shift
        past = [t for t in (x_in.past_covariates, x_in.historic_future_covariates)
                if t is not None]
        past = torch.cat(past, dim=2) if past else None
        future = x_in.future_covariates if self.future_cov_dim else None
        return target, shift, past, future

    def _features(self, target, past, future) -> torch.Tensor:
        """Linear-path features ``(B, C, n_features)``."""
        B, _, C = target.shape
        parts = [target.transpose(1, 2)]
        if self.linear_covariates:
            covs = [t.flatten(start_dim=1) for t in (past, future) if t is not None]
            parts.append(torch.cat(covs, dim=1).unsqueeze(1).expand(B, C, -1))
        parts.append(target.new_ones(B, C, 1))
        return torch.cat(parts, dim=2)

    def _feature_blocks(self) -> torch.Tensor:
        """Ridge block of each linear-path feature but the constant: the target's lags, then
        one block per covariate component (its lags over the lookback and its steps over the
        horizon)."""
        L, O = self.input_chunk_length, self.output_chunk_length
        blocks = [torch.zeros(L, dtype=torch.long)]
        if self.linear_covariates:
            n_past = (self.linear.shape[1] - 1 - L - self.future_cov_dim * O) // L
            # past features are flattened (L, n_past): component j at positions j, j + n_past..
            blocks.append(1 + torch.arange(n_past).repeat(L))
            blocks.append(1 + n_past + torch.arange(self.future_cov_dim).repeat(O))
        return torch.cat(blocks)

    @io_processor
    def forward(self, x_in: PLModuleInput) -> PLModuleOutput:
        target, shift, past, future = self._inputs(x_in)
        B, L, C = target.shape
        O, P = self.output_chunk_length, self.nr_params
        weight = self.linear if self.linear.shape[0] > 1 else self.linear[0]
        eq = "bcf,cfo->bco" if self.linear.shape[0] > 1 else "bcf,fo->bco"
        linear = torch.einsum(eq, self._features(target, past, future), weight)
        linear = linear.view(B, C, O, P).transpose(1, 2)  # (B, O, C, P)

        unit = self.branch_unit.to(target.dtype)  # 0: no branch for that component
        seq = [target / torch.where(unit > 0, unit, torch.ones_like(unit))]
        if self.level_input:
            seq.append((x_in.past_target - self.level_shift) / self.level_scale)
        if past is not None:
            seq.append(past)
        encoded = self.encoder(torch.cat(seq, dim=2))
        if self.static_cov_dim:
            encoded = torch.cat([encoded, x_in.static_covariates.flatten(start_dim=1)], dim=1)
        decoded = self.dense_decoder(encoded).view(B, O, -1)
        if future is not None:
            decoded = torch.cat([decoded, future], dim=2)
        branch = self.temporal_decoder(decoded).view(B, O, C, P) * unit.view(C, 1)

        if shift is not None:
            linear = linear + shift.unsqueeze(-1)
        weight = 1.0 if self.training else self.branch_weight
        if self._parts is not None:  # validation: both parts for the branch weight
            self._parts = (linear, branch)
        return PLModuleOutput(prediction=linear + weight * branch)

    # -- the ridge fit of the linear path --------------------------------------------------
    def on_train_start(self) -> None:
        """Set the linear path to the ridge fit of the training windows (the ridge strength
        chosen on held-out windows, :mod:`~s4d_forecast.forecasting.linear_fit`), and the
        branch's units, the loss unit and the level statistics from the same pass; once per
        model: ``linear_fitted`` marks it done, so continued or resumed fits keep their
        weights."""
        super().on_train_start()
        if not self.fits_values or bool(self.linear_fitted):
            return
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is None:
            raise RuntimeError(
                "S4DModel reads its training windows for the ridge fit from darts' "
                "TorchDataModule; this trainer was given none. Use S4DModel.fit/"
                "fit_from_dataset.")
        with torch.no_grad():
            folds, stats = self._moments(datamodule.train_dataset, datamodule)
            val = None
            if datamodule.val_dataset is not None and len(datamodule.val_dataset):
                val = self._moments(datamodule.val_dataset, datamodule)[0]
                val = [functools.reduce(operator.add, [f for f in group if f is not None])
                       for group in val]
            self._set_units(*stats)
            info = {}
            if self.ridge:
                fits = [linear_fit.fit_linear([f for f in group if f is not None],
                                              None if val is None else val[g],
                                              self._feature_blocks())
                        for g, group in enumerate(folds)]
                self._keep_statistics(folds, [fit[1] for fit in fits])
                self._set_linear(torch.stack([fit[0] for fit in fits]))
                info = {"alpha": [fit[1] for fit in fits], "heldout_mse": [f[2] for f in fits],
                        "val_mse": [fit[3] for fit in fits]}
                if len(info["alpha"]) == 1:
                    info = {k: v[0] for k, v in info.items()}
            self.linear_fitted.fill_(1.0)
        self.linear_fit_info = {**info, "covariates": self.linear_covariates,
                                "branch_unit": self.branch_unit.tolist(),
                                "loss_unit": float(self.loss_unit)}

    def _set_units(self, lookback_sq, lookback_n, target_sum, target_sq, target_n) -> None:
        # the branch reads the normalised target in units of its RMS over the training
        # lookbacks and writes its correction in the same units, so that c·y is forecast as c
        # times y's forecast; a component constant over every lookback gets no branch (0)
        rms = (lookback_sq / max(lookback_n, 1)).sqrt()
        ok = torch.isfinite(rms) & (rms > 0)
        self.branch_unit.copy_(torch.where(ok, rms, torch.zeros_like(rms)))
        mean = target_sum / max(target_n, 1)
        var = (target_sq / max(target_n, 1) - mean**2).clamp_min(0.0)
        std = var.sqrt()
        self.level_shift.copy_(torch.where(torch.isfinite(mean), mean, torch.zeros_like(mean)))
        self.level_scale.copy_(torch.where(torch.isfinite(std) & (std > 0), std,
                                           torch.ones_like(std)))
        # the loss unit: sqrt(mean over components of the targets' variance)
        unit = var.mean().sqrt()
        self.loss_unit.fill_(float(unit) if torch.isfinite(unit) and unit > 0 else 1.0)

    def _rows(self, batch):
        """A darts training batch as the linear path's float64 rows (after darts' RIN and the
        last-value shift): features ``(B, C, F)``, targets ``(B, C, O)``, weights ``(B, C)``
        as the loss counts them; and the normalised lookback ``(B, L, C)``."""
        batch = batch.replace(**{f.name: getattr(batch, f.name).to(self.device)
                                 for f in dataclasses.fields(batch)
                                 if isinstance(getattr(batch, f.name), torch.Tensor)})
        x_in = batch.to_module_input(stage=ModuleStage.TRAIN)
        y = batch.future_target.double()
        weight = torch.ones(y.shape[0], 1, y.shape[2], dtype=torch.float64, device=y.device)
        if self.use_reversible_instance_norm:
            x_in = x_in.replace(past_target=self.rin(x_in.past_target.clone()))
            y = self.rin.transform(batch.future_target).double()
            spread = self.rin.stdev.double()
            if self.rin.affine:
                spread = spread / self.rin.affine_weight.double()
            weight = weight * spread**2
        target, shift, past, future = self._inputs(x_in)
        if batch.sample_weight is not None:  # (B, O, C): each window by its mean weight
            weight = weight * batch.sample_weight.double().mean(dim=1, keepdim=True)
        feats = self._features(target, past, future).double()
        ys = (y - shift.double()).transpose(1, 2)
        return feats, ys, weight.squeeze(1).expand(-1, feats.shape[1]), target

    def _add_rows(self, moments: list, folds: torch.Tensor, feats, ys, ws) -> None:
        """Add each window's rows (``feats`` ``(B, C, F)`` ...) to ``moments[group][fold]``."""
        groups = len(moments)
        for g in range(groups):
            pick = slice(None) if groups == 1 else slice(g, g + 1)
            for k in folds.unique().tolist():
                sel = folds == k
                m = linear_fit.Moments.of(feats[sel][:, pick].reshape(-1, feats.shape[2]),
                                          ys[sel][:, pick].reshape(-1, ys.shape[2]),
                                          ws[sel][:, pick].reshape(-1))
                moments[g][k] = m if moments[g][k] is None else moments[g][k] + m

    def _moments(self, dataset, datamodule):
        """Per group of the linear path and contiguous block of the dataset's windows
        (:func:`~s4d_forecast.forecasting.linear_fit.fold_of`) the second moments of its
        rows (:meth:`_rows`); and the sums behind the branch unit and the level statistics."""
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=_MOMENT_BATCH, shuffle=False,
            collate_fn=datamodule.dataloader_kwargs.get("collate_fn"))
        n_folds = min(linear_fit.CV_FOLDS, max(len(dataset), 1))
        moments = [[None] * n_folds for _ in range(self.linear.shape[0])]
        lookback_sq, lookback_n, start = 0.0, 0, 0
        target_sum, target_sq, target_n = 0.0, 0.0, 0
        for batch in loader:
            y = batch.future_target.double()
            target_sum = target_sum + y.sum(dim=(0, 1))
            target_sq = target_sq + y.pow(2).sum(dim=(0, 1))
            target_n += y.shape[0] * y.shape[1]
            feats, ys, ws, target = self._rows(batch)
            lookback_sq = lookback_sq + target.double().pow(2).sum(dim=(0, 1))
            lookback_n += target.shape[0] * target.shape[1]
            if self.ridge:
                B = feats.shape[0]
                folds = linear_fit.fold_of(torch.arange(start, start + B), len(dataset), n_folds)
                self._add_rows(moments, folds, feats, ys, ws)
                start += B
        return moments, (lookback_sq, lookback_n, target_sum, target_sq, target_n)

    def _set_linear(self, w: torch.Tensor) -> None:
        """Set the linear path to ``w`` ``(groups, features, O)``, the same map for every
        likelihood parameter."""
        with torch.no_grad():
            self.linear.copy_(w.repeat_interleave(self.nr_params, dim=2).to(self.linear))

    def _keep_statistics(self, folds: list, alphas: list) -> None:
        """Keep the fit's moments per group and fold, and the ridge strengths, for
        :meth:`update_linear` (none beyond :data:`MAX_STATISTICS` values)."""
        G, K, D = len(folds), len(folds[0]), self.linear.shape[1]
        self.statistics = None if G * K * D * (D + self.output_chunk_length) > MAX_STATISTICS \
            else {**_stacked(folds), "alpha": torch.tensor(alphas, dtype=torch.float64),
                  "windows": torch.zeros((), dtype=torch.long)}

    def get_extra_state(self):
        return self.statistics

    def set_extra_state(self, state) -> None:
        self.statistics = state

    def update_linear(self, batch, forget: float = 1.0, reselect_ridge: bool = False) -> list:
        """Add the windows of ``batch`` (new windows, oldest first) to the kept statistics,
        one fold each round-robin, multiplying the statistics by ``forget`` before each; set
        the path to the ridge solution of all of them (the ridge chosen again over the folds
        with ``reselect_ridge``). Returns each group's ridge strength."""
        st = self.statistics
        feats, ys, ws, _ = self._rows(batch)
        B, (G, K) = feats.shape[0], st["xx"].shape[:2]
        ws = ws.cpu() * forget ** torch.arange(B - 1, -1, -1, dtype=torch.float64)[:, None]
        moments = [[linear_fit.Moments(*(st[key][g, k] * forget**B for key in _KEYS))
                    for k in range(K)] for g in range(G)]
        self._add_rows(moments, (st["windows"] + torch.arange(B)) % K, feats.cpu(), ys.cpu(), ws)
        st.update(_stacked(moments), windows=st["windows"] + B)
        blocks, solutions = self._feature_blocks(), []
        for g, group in enumerate(moments):
            if reselect_ridge:
                w, st["alpha"][g], _, _ = linear_fit.fit_linear(group, None, blocks)
            else:
                w = linear_fit.ridge_solution(functools.reduce(operator.add, group),
                                              float(st["alpha"][g]), blocks)
            solutions.append(w)
        self._set_linear(torch.stack(solutions))
        return st["alpha"].tolist()

    # -- loss, validation and the branch weight --------------------------------------------
    def _compute_loss(self, output: PLModuleOutput, target, criterion, sample_weight):
        """darts' loss, on the forecast and target divided by ``loss_unit`` for point
        forecasts and quantiles: a series c·y then trains exactly as y does (the gradients,
        which Adam's weight decay and eps are added to, do not scale with c), and a series in
        units of 10^20 does not overflow the float32 loss."""
        if self.fits_values:
            unit = self.loss_unit.to(target.dtype)
            output = dataclasses.replace(output, prediction=output.prediction / unit)
            target = target / unit
        return super()._compute_loss(output, target, criterion, sample_weight)

    def _weighs_branch(self, batch) -> bool:
        return (self.likelihood is None and batch.sample_weight is None
                and isinstance(self.val_criterion, nn.MSELoss))

    def validation_step(self, val_batch, batch_idx):
        if not self._weighs_branch(val_batch):
            return super().validation_step(val_batch, batch_idx)
        self._parts = ()
        try:
            output = self(val_batch.to_module_input(stage=ModuleStage.VALIDATE))
            linear, branch = self._parts
        finally:
            self._parts = None
        if self.use_reversible_instance_norm:  # the parts in the series' units
            full = self.rin.inverse(linear + branch)
            linear = self.rin.inverse(linear)
            branch = full - linear
        unit = self.loss_unit.double()
        r = (val_batch.future_target.double() - linear.squeeze(-1).double()) / unit
        b = branch.squeeze(-1).double() / unit
        sums = torch.stack([(r * b).sum(), (b * b).sum(), (r * r).sum(),
                            torch.tensor(float(r.numel()), dtype=torch.float64,
                                         device=r.device)])
        self._val_sums = sums if self._val_sums is None else self._val_sums + sums
        self._update_metrics(output, val_batch.future_target, self.val_metrics)

    def on_validation_epoch_end(self):
        sums, self._val_sums = self._val_sums, None
        if sums is not None:
            rb, bb, rr, n = (float(v) for v in sums)
            w = min(max(rb / bb, 0.0), 1.0) if bb > 0 else 0.0
            if not self.trainer.sanity_checking:
                self.branch_weight.fill_(w)
            self.log("val_loss", (rr - 2 * w * rb + w * w * bb) / n, prog_bar=True,
                     sync_dist=True)
        super().on_validation_epoch_end()

    def configure_optimizers(self):
        """:func:`~s4d_forecast.ssm.ssm_param_groups` with ``optimizer_kwargs``' ``lr`` (default:
        the class's), ``weight_decay`` on the branch's non-SSM weights (default
        :data:`BRANCH_WEIGHT_DECAY`), ``ssm_lr`` and no decay for A, B, dt; the linear path
        left out for point forecasts, else at ``lr`` without decay. Adam(W) runs fused (one
        kernel, not ~10 ops per tensor) unless ``optimizer_kwargs`` picks an implementation."""
        kws = dict(self.optimizer_kwargs)
        default = inspect.signature(self.optimizer_cls).parameters.get("lr")
        lr = kws.pop("lr", 1e-3 if default is None or default.default is default.empty
                     else default.default)
        weight_decay = kws.pop("weight_decay", BRANCH_WEIGHT_DECAY)
        ssm_lr = self.ssm_lr if self.ssm_lr is not None else min(lr, 1e-3)
        self.linear.requires_grad_(not self.frozen)
        groups = ssm_param_groups(self, lr=lr, weight_decay=weight_decay, ssm_lr=ssm_lr)
        for group in groups:  # the linear path leaves its group for one without decay
            group["params"] = [p for p in group["params"] if p is not self.linear]
        if not self.frozen:
            groups.append({"params": [self.linear], "lr": lr, "weight_decay": 0.0,
                           "name": "linear_path"})
        if (self.optimizer_cls in (torch.optim.Adam, torch.optim.AdamW)
                and not {"fused", "foreach", "capturable", "differentiable"} & kws.keys()
                and all(p.device.type in ("cpu", "cuda") for g in groups for p in g["params"])):
            kws["fused"] = True
        optimizer = _build(self.optimizer_cls, {"params": groups, "lr": lr, **kws})
        if self.lr_scheduler_cls is None:
            return optimizer
        sched_kws = dict(self.lr_scheduler_kwargs)
        lr_config = {"monitor": "val_loss", "interval": "epoch", "frequency": 1,
                     "strict": True, "name": None}
        lr_config = {k: sched_kws.pop(k, v) for k, v in lr_config.items()}
        scheduler = _build(self.lr_scheduler_cls, {"optimizer": optimizer, **sched_kws})
        return [optimizer], {"scheduler": scheduler, **lr_config}


def _build(cls, kwargs: dict):
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        shown = {k: v for k, v in kwargs.items() if k not in ("params", "optimizer")}
        raise ValueError(
            f"could not build {getattr(cls, '__name__', cls)} with arguments {shown}: {err}. "
            "Check `optimizer_cls`/`optimizer_kwargs` or `lr_scheduler_cls`/`lr_scheduler_kwargs`."
        ) from err
