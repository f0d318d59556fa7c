"""``S4DModel``: a darts ``MixedCovariatesTorchModel`` with an S4D encoder."""

from __future__ import annotations

import numpy as np
from darts.models.forecasting.torch_forecasting_model import MixedCovariatesTorchModel
from darts.utils.data.torch_datasets.utils import TorchTrainingSample
from darts.utils.serialization import add_safe_globals

from s4d_forecast.allocator import tune_cpu_allocator
from s4d_forecast.forecasting import _validation, model_files
from s4d_forecast.forecasting.s4d_module import _S4DModule

#: Encoder width for sequences of one channel / of several (``d_model=None``), and the state
#: size ``N`` that goes with it (``d_state=None``). Chosen on the dev suite (docs/decisions):
#: on its univariate cases 16 channels scored 0.99x the MSE of 32 at 15-30% less time per
#: training step; on the 21-variable weather head 32 did 4-13% better.
AUTO_D_MODEL_SINGLE = 16
AUTO_D_MODEL = 32


class S4DModel(_validation.CheckedCallsMixin, MixedCovariatesTorchModel):
    def __init__(
        self,
        input_chunk_length: int,
        output_chunk_length: int,
        output_chunk_shift: int = 0,
        d_model: int | None = None,
        n_layers: int = 1,
        d_state: int | None = None,
        init: str = "legs",
        disc: str = "zoh",
        bidirectional: bool = False,
        dropout: float = 0.1,
        temporal_width: int = 4,
        hidden_size: int = 128,
        decoder_output_dim: int = 16,
        temporal_decoder_hidden: int = 32,
        ssm_lr: float | None = None,
        level_input: bool = True,
        ssm_kwargs: dict | None = None,
        use_static_covariates: bool = True,
        **kwargs,
    ):
        """Diagonal state space (S4D) forecaster: a ridge-fitted linear model that an S4D
        branch corrects (code: :mod:`s4d_forecast.forecasting.s4d_module`).

        Both paths read each window's target minus its last value (as NLinear), added back
        to the forecast.

        * **Linear path**: per target component, a map from the normalised lookback and the
          covariates (past and historic future covariates over the lookback, future
          covariates over the horizon) to the horizon, set when training starts to the ridge
          fit of the training windows, the ridge chosen on held-out windows (five-fold
          cross-validation pooled with the validation windows;
          :mod:`~s4d_forecast.forecasting.linear_fit`). Point forecasts keep it there;
          quantiles train on from it; parametric likelihoods start at random. One map serves
          every component, or each has its own when there are covariates.
        * **S4D branch**: the normalised target, its standardised level (``level_input``) and
          the covariates through ``n_layers`` residual S4D blocks
          (:class:`~s4d_forecast.ssm.S4DEncoder`), every step's encoding projected to
          ``temporal_width`` features and flattened with the static covariates, then a dense
          decoder and a temporal decoder that reads each horizon step's future covariates (as
          TiDE [1]_). It learns what the fixed path misses; its weight in the forecast
          (``model.model.branch_weight``, in [0, 1]) is set after every validation epoch to
          the validation-MSE minimiser (1 without ``val_series``, with a likelihood or
          another loss), so a branch that does not help on held-out windows is switched off.

        The branch's unit, the level statistics and the loss's unit come from the training
        windows, so a series multiplied by c trains as the original and is forecast c times
        as large. A, B, dt get their own optimiser group (``ssm_lr``, no weight decay), as in
        the S4D recipe [2]_. The ridge statistics are kept: :meth:`update` adds observations
        without a refit. ``save``/``load`` need no ``trusted=True``.

        Why this default (``s4d-forecast benchmark --suite dev``; docs/decisions/
        branch_design.md, benchmarks/RESULTS.md): the ridge path carries most of the accuracy;
        the branch wins where a nonlinear model is needed (21 interacting weather variables,
        heart rate) and, weighted on validation, is switched off where it does not generalise
        (ETTh2). Reading the level lets it learn mean reversion (heart rate 0.99 against 1.08
        without it, over two seeds).

        Parameters
        ----------
        input_chunk_length
            Lookback: number of past time steps fed to the model.
        output_chunk_length
            Number of time steps predicted at once; also how many future covariate steps are
            read.
        output_chunk_shift
            Steps between the end of the lookback and the start of the output chunk. With a
            shift, ``n`` in ``predict`` may not exceed ``output_chunk_length``.
        d_model
            Channels of the S4D encoder. Default (``None``): ``AUTO_D_MODEL_SINGLE`` (16) when
            the encoder reads one channel (one target, ``level_input=False``, no covariates),
            else ``AUTO_D_MODEL`` (32).
        n_layers
            Number of residual S4D blocks.
        d_state
            State size ``N`` per channel (counting conjugate pairs, as in the S4D paper).
            Default (``None``): the same number as ``d_model`` (rounded up to even).
        init
            Initialisation of ``A``: ``"legs"``, ``"inv"``, ``"lin"``, ``"real"``, ``"dss"`` or
            ``"dfout"`` (see :mod:`s4d_forecast.ssm`).
        disc
            Discretisation: ``"zoh"``, ``"bilinear"`` or ``"dss"``.
        bidirectional
            Run each S4D layer forwards and backwards over the lookback.
        dropout
            Dropout in the encoder and the decoders; the decoders' dropout stays active at
            prediction time with ``predict(..., mc_dropout=True)`` (Monte Carlo dropout).
        temporal_width, hidden_size, decoder_output_dim, temporal_decoder_hidden
            The decoder: features kept per lookback step before flattening, the dense
            decoder's width, its vector per horizon step, the temporal decoder's width.
        ssm_lr
            Learning rate of the SSM parameters (A, B, dt). Default: ``min(lr, 1e-3)``.
        level_input
            Give the branch the target's level (standardised) besides the window minus its
            last value. With it forecasts no longer move exactly with a level shift of the
            input; without it they do.
        ssm_kwargs
            Extra keyword arguments for the S4D kernel (e.g. ``dt_min``, ``dt_max``).
        use_static_covariates
            Whether to use the static covariates of the target series, if they have any.
        **kwargs
            Arguments of darts' ``TorchForecastingModel`` (as for ``TiDEModel``): ``n_epochs``,
            ``batch_size``, ``likelihood``, ``loss_fn``, ``optimizer_kwargs`` (``lr``;
            ``weight_decay``, default ``BRANCH_WEIGHT_DECAY`` = 0.01, applies to the branch's
            non-SSM weights only), ``pl_trainer_kwargs`` (e.g. ``{"accelerator": "gpu",
            "precision": "bf16-mixed"}``), ``random_state``, ``add_encoders``, ...

        References
        ----------
        .. [1] A. Das et al. "Long-term Forecasting with TiDE: Time-series Dense Encoder",
               https://arxiv.org/abs/2304.08424
        .. [2] A. Gu et al. "On the Parameterization and Initialization of Diagonal State Space
               Models", https://arxiv.org/abs/2206.11893

        Examples
        --------
        >>> from darts import TimeSeries
        >>> from darts.dataprocessing.transformers import Scaler
        >>> from statsmodels.datasets import co2          # ships with statsmodels
        >>> from s4d_forecast import S4DModel
        >>> monthly = co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
        >>> series = Scaler().fit_transform(TimeSeries.from_series(monthly.astype("float32")))
        >>> model = S4DModel(input_chunk_length=36, output_chunk_length=12, n_epochs=5)
        >>> model.fit(series[:-12])
        >>> forecast = model.predict(12)
        """
        _validation.validate_model_args(locals())

        super().__init__(**self._extract_torch_model_params(**self.model_params))
        self.pl_module_params = self._extract_pl_module_params(**self.model_params)

        self.d_model, self.n_layers, self.d_state = d_model, n_layers, d_state
        self.init, self.disc, self.bidirectional = init, disc, bidirectional
        self.dropout, self.temporal_width, self.hidden_size = dropout, temporal_width, hidden_size
        self.decoder_output_dim = decoder_output_dim
        self.temporal_decoder_hidden = temporal_decoder_hidden
        self.ssm_lr, self.level_input = ssm_lr, level_input
        self.ssm_kwargs = dict(ssm_kwargs or {})
        self._considers_static_covariates = use_static_covariates

    def _create_model(self, train_sample: TorchTrainingSample) -> _S4DModule:
        tune_cpu_allocator()  # training-sized blocks stay in the heap (s4d_forecast.allocator)
        precision = str(self.trainer_params.get("precision", ""))
        if "mixed" in precision and train_sample.past_target.dtype == np.float64:
            raise ValueError(
                f"pl_trainer_kwargs precision={precision!r} needs float32 series, got float64; "
                "convert the target and covariates with `series.astype(np.float32)`."
            )
        dims = train_sample.component_dims()
        future_cov_dim = dims["future_covariates"] or 0
        static = train_sample.static_covariates
        static_cov_dim = static.shape[0] * static.shape[1] if static is not None else 0
        input_dim = (
            dims["past_target"]
            + (dims["past_covariates"] or 0)
            + (dims["historic_future_covariates"] or 0)
        )
        nr_params = 1 if self.likelihood is None else self.likelihood.num_parameters
        # channels the encoder reads: targets, covariates and the targets' level
        d_model, d_state = self._resolved_width(
            input_dim + (dims["future_target"] if self.level_input else 0))
        return _S4DModule(
            input_dim=input_dim, output_dim=dims["future_target"],
            future_cov_dim=future_cov_dim, static_cov_dim=static_cov_dim, nr_params=nr_params,
            d_model=d_model, n_layers=self.n_layers, d_state=d_state, init=self.init,
            disc=self.disc, bidirectional=self.bidirectional, dropout=self.dropout,
            temporal_width=self.temporal_width, hidden_size=self.hidden_size,
            decoder_output_dim=self.decoder_output_dim,
            temporal_decoder_hidden=self.temporal_decoder_hidden, ssm_lr=self.ssm_lr,
            ssm_kwargs=self.ssm_kwargs, level_input=self.level_input, **self.pl_module_params,
        )

    def update(self, series, past_covariates=None, future_covariates=None,
               forget: float = 1.0, reselect_ridge: bool = False,
               refresh_branch_every: int | None = None) -> dict:
        """Add the observations that follow the fitted series without a refit: every
        training window they complete enters the linear path's ridge statistics and the ridge
        is solved again, equal to a fit from scratch on all windows, at a cost per
        observation that does not depend on the history (docs/online.md,
        :mod:`~s4d_forecast.forecasting.online`). The next :meth:`predict` starts after
        them; the model keeps only the recent rows it needs (``training_series``).

        Parameters
        ----------
        series
            The new values: a ``TimeSeries`` with the fitted series' components, frequency
            and dtype, starting one step after the model's series ends.
        past_covariates, future_covariates
            Their new values, continuing those the model was fitted with (required exactly
            when it was fitted with them), covering at least the new target values.
        forget
            In (0, 1]: the statistics are multiplied by it before each new window is added
            (exponentially weighted least squares, for drifting series).
        reselect_ridge
            Choose the ridge strength again by cross-validation over the kept statistics;
            by default it stays as chosen at fit.
        refresh_branch_every
            Every this many updates, a few optimiser steps of the S4D branch on the most
            recent windows.

        Returns
        -------
        dict
            ``windows`` added, the ridge strength ``alpha`` per group, ``branch_refreshed``.

        Raises
        ------
        ValueError, TypeError
            Checked before anything changes: an unfitted model or one without statistics,
            values that do not continue the series or are not finite, missing covariates.
        """
        from s4d_forecast.forecasting import online

        return online.update(self, series, past_covariates, future_covariates, forget,
                             reselect_ridge, refresh_branch_every)

    def save(self, path: str | None = None, clean: bool = False) -> None:
        """Save the model as ``path`` and its weights as ``path + ".ckpt"``, one transaction
        (:mod:`s4d_forecast.forecasting.model_files`): the pair is replaced completely or not
        at all, also after a kill (the next save or load settles the leftovers, with a
        warning), and only files of an earlier save are replaced. ``path`` defaults to
        ``"S4DModel_{YYYY-mm-dd_HH_MM_SS}.pt"`` in an existing folder; ``clean`` drops the
        training series and trainer settings (as in darts).

        Raises
        ------
        TypeError, ValueError, OSError
            ``path`` is not a path or empty; ``path`` or its ``.ckpt`` is a folder, link,
            FIFO, device or a file no S4DModel save wrote; the folder is missing or not
            writable. Checked before anything is written.
        """
        model_files.save_model(self, path, clean=clean)

    @staticmethod
    def load(path: str, pl_trainer_kwargs: dict | None = None, trusted: bool = False,
             **kwargs) -> S4DModel:
        """Load a model written by :meth:`save` (``path`` and ``path + ".ckpt"``), checking
        both files before unpickling; ``pl_trainer_kwargs``, ``trusted`` and ``**kwargs`` as in
        darts' ``TorchForecastingModel.load``.

        Raises
        ------
        s4d_forecast.forecasting.model_files.ModelFileError
            A file is a folder, damaged, a bare pickle, not written by :meth:`save`, or the
            two files come from different saves.
        """
        return model_files.load_model(
            MixedCovariatesTorchModel.load, path, pl_trainer_kwargs=pl_trainer_kwargs,
            trusted=trusted, **kwargs,
        )

    def _resolved_width(self, seq_channels: int) -> tuple[int, int]:
        """``(d_model, d_state)`` with ``None`` resolved for sequences of ``seq_channels``."""
        d_model = self.d_model
        if d_model is None:
            d_model = AUTO_D_MODEL_SINGLE if seq_channels == 1 else AUTO_D_MODEL
        if self.d_state is not None:
            return d_model, self.d_state
        return d_model, max(2, d_model + d_model % 2)  # N is even: conjugate pairs

    @property
    def supports_static_covariates(self) -> bool:
        return True

    @property
    def supports_multivariate(self) -> bool:
        return True


add_safe_globals([S4DModel, _S4DModule])
