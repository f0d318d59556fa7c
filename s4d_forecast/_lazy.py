"""Lazy package exports: names resolved from their modules on first access, so
``s4d-forecast --help`` and ``import s4d_forecast.ssm`` do not pay for darts, Lightning or
pandas (pure Python, importable from every layer)."""

from __future__ import annotations

import importlib
import sys


def lazy_exports(package: str, names: dict[str, str | tuple[str, str]]):
    """``(__getattr__, __dir__)`` for ``package`` exporting ``names``: each name maps to the
    module defining it, or to ``(module, attribute)`` when exported under another name."""

    def __getattr__(name: str):
        if name in names:
            target = names[name]
            module, attribute = target if isinstance(target, tuple) else (target, name)
            return getattr(importlib.import_module(module), attribute)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
