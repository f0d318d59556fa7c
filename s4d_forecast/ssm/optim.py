"""Optimiser parameter groups: SSM parameters get their own learning rate and no weight decay."""

from __future__ import annotations

from torch import nn

from s4d_forecast._checks import check_float
from s4d_forecast.ssm.kernel import S4DKernel


def ssm_param_groups(module: nn.Module, lr: float, weight_decay: float = 0.0,
                     ssm_lr: float | None = None) -> list[dict]:
    """Split ``module``'s trainable parameters into an SSM group and the rest.

    Every published S4/S4D recipe trains ``A``, ``B`` and ``dt`` with a smaller learning rate
    and no weight decay (``C`` and ``D`` are ordinary weights).

    Parameters
    ----------
    module : nn.Module
        Any module containing :class:`S4DKernel` instances.
    lr, weight_decay : float
        For every parameter that is not an SSM parameter.
    ssm_lr : float, optional
        Learning rate of ``A``, ``B``, ``dt`` (default: ``lr``); their weight decay is 0. A
        kernel built with its own ``S4DKernel(lr=...)`` keeps that rate instead.

    Returns
    -------
    list of dict
        Groups ``"default"`` (``lr``, ``weight_decay``) and ``"ssm"`` (``ssm_lr``, no weight
        decay), plus ``"ssm_lr=<rate>"`` per other rate kernels asked for; empty groups are
        left out, and each trainable parameter is in exactly one.
    """
    lr = check_float("lr", lr, 0, lo_open=True)
    ssm_lr = check_float("ssm_lr", ssm_lr, 0, lo_open=True, none_ok=True)
    weight_decay = check_float("weight_decay", weight_decay, 0)
    default_ssm_lr = lr if ssm_lr is None else ssm_lr
    rate_of = {id(p): default_ssm_lr if getattr(m, "lr", None) is None else m.lr
               for m in module.modules() if isinstance(m, S4DKernel) for p in m.ssm_parameters()}
    ssm: dict[float, list] = {}
    rest = []
    for p in module.parameters():
        if not p.requires_grad:
            continue
        if id(p) in rate_of:
            ssm.setdefault(rate_of[id(p)], []).append(p)
        else:
            rest.append(p)
    groups = []
    if rest:
        groups.append({"params": rest, "lr": lr, "weight_decay": weight_decay, "name": "default"})
    for rate, params in ssm.items():
        name = "ssm" if rate == default_ssm_lr else f"ssm_lr={rate:g}"
        groups.append({"params": params, "lr": rate, "weight_decay": 0.0, "name": name})
    return groups
