"""S4DEncoder: a residual stack of S4D layers over ``(B, L, d_input)`` sequences."""

from __future__ import annotations

import torch
from torch import nn

from s4d_forecast._checks import check_bool, check_choice, check_int, fail
from s4d_forecast.ssm.layer import S4D, TiedDropout, check_input

POOLS = (None, "mean", "last")


def encoder_size(d_input: int, d_model: int, n_layers: int, d_state: int,
                 bidirectional: bool = False) -> int:
    """Parameters and buffers of an :class:`S4DEncoder` of these sizes, counted without building
    it: per layer an ``H → 2H`` mixing (``2H² + 2H``), ``D`` and a LayerNorm (``3H``), and per
    kernel channel ``log dt``, ``A``, ``B``, ``C`` (``1 + 3N`` values)."""
    kernel = d_model * (1 + 3 * d_state) * (2 if bidirectional else 1)
    return (d_input + 3) * d_model + n_layers * (kernel + 2 * d_model**2 + 5 * d_model)


class S4DBlock(nn.Module):
    """``x + dropout(S4D(norm(x)))`` (prenorm) or ``norm(x + dropout(S4D(x)))`` (postnorm)."""

    def __init__(self, d_model: int, d_state: int, prenorm: bool, dropout: float, **layer_kwargs):
        super().__init__()
        self.prenorm = prenorm
        self.norm = nn.LayerNorm(d_model)
        self.layer = S4D(d_model, d_state, dropout=dropout, **layer_kwargs)
        self.dropout = TiedDropout(dropout)

    def forward(self, x, state=None, return_state=False):
        z = self.norm(x) if self.prenorm else x
        out = self.layer(z, state=state, return_state=return_state)
        z, new_state = out if return_state else (out, None)
        mask = self.dropout.mask(z)
        x = x + z if mask is None else torch.addcmul(x, z, mask)  # one pass for both
        if not self.prenorm:
            x = self.norm(x)
        return (x, new_state) if return_state else x

    def step(self, x_t, state):
        z = self.norm(x_t) if self.prenorm else x_t
        z, state = self.layer.step(z, state)
        x_t = x_t + self.dropout(z.unsqueeze(1)).squeeze(1)
        if not self.prenorm:
            x_t = self.norm(x_t)
        return x_t, state


class S4DEncoder(nn.Module):
    """Residual stack of S4D blocks with an input projection and optional pooling.

    ``x (B, L, d_input) → Linear → n_layers × S4DBlock → LayerNorm (prenorm) → pool``.

    Parameters
    ----------
    d_input : int
        Features per time step of the input.
    d_model, n_layers : int
        Width ``H`` of every S4D layer, and the number of residual blocks.
    d_state, init, disc, bidirectional, **kernel_kwargs
        As for :class:`~s4d_forecast.ssm.layer.S4D`.
    prenorm : bool
        LayerNorm before each layer (and once at the end) instead of after the residual sum.
    dropout : float
        Dropout tied over time, inside each layer and on each residual branch.
    pool : {None, "mean", "last"}
        ``None`` returns ``(B, L, d_model)``; ``"mean"``/``"last"`` return ``(B, d_model)``.
    """

    def __init__(self, d_input: int, d_model: int = 128, n_layers: int = 4, d_state: int = 64,
                 init: str = "legs", disc: str = "zoh", bidirectional: bool = False,
                 prenorm: bool = True, dropout: float = 0.0, pool: str | None = None,
                 **kernel_kwargs):
        super().__init__()
        d_input, d_model, n_layers = (check_int(name, value, 1) for name, value in (
            ("d_input", d_input), ("d_model", d_model), ("n_layers", n_layers)))
        bidirectional = check_bool("bidirectional", bidirectional)
        prenorm = check_bool("prenorm", prenorm)
        check_choice("pool", pool, POOLS)
        self.d_input, self.d_model, self.pool = d_input, d_model, pool
        self.bidirectional = bidirectional
        self.encoder = nn.Linear(d_input, d_model)
        self.blocks = nn.ModuleList(
            S4DBlock(d_model, d_state, prenorm, dropout, init=init, disc=disc,
                     bidirectional=bidirectional, **kernel_kwargs)
            for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model) if prenorm else nn.Identity()

    def forward(self, x: torch.Tensor, state: list | None = None, return_state: bool = False):
        """Encode ``x`` ``(B, L, d_input)``; optionally continue from / return per-layer states."""
        check_input(x, self.d_input, self.encoder.weight.dtype, module="encoder")
        if state is not None:
            self._check_states(state)
        h = self.encoder(x)
        new_states = []
        for i, block in enumerate(self.blocks):
            out = block(h, state=None if state is None else state[i], return_state=return_state)
            h, s = out if return_state else (out, None)
            new_states.append(s)
        h = self.norm(h)
        h = h.mean(dim=1) if self.pool == "mean" else h[:, -1] if self.pool == "last" else h
        return (h, new_states) if return_state else h

    def _check_states(self, state) -> None:
        """One state per layer, as a list or tuple (each layer checks its own)."""
        if not isinstance(state, (list, tuple)) or len(state) != len(self.blocks):
            fail("state", f"a list of {len(self.blocks)} states, one per layer (see "
                 "default_state)", got=type(state).__name__
                 if not isinstance(state, (list, tuple)) else f"{len(state)} states")

    def default_state(self, batch_size: int, device=None) -> list[torch.Tensor]:
        """Zero states, one ``(B, H, N/2)`` complex tensor per layer."""
        return [b.layer.default_state(batch_size, device) for b in self.blocks]

    def step(self, x_t: torch.Tensor, state: list[torch.Tensor]):
        """One step: ``x_t`` ``(B, d_input)`` → ``(features (B, d_model), new state)``.

        The features are the unpooled output at this step (``pool="last"`` of a full pass).
        """
        check_input(x_t, self.d_input, self.encoder.weight.dtype, name="x_t", dims=2,
                    module="encoder")
        self._check_states(state)
        h = self.encoder(x_t)
        new_states = []
        for block, s in zip(self.blocks, state):
            h, s = block.step(h, s)
            new_states.append(s)
        return self.norm(h), new_states
