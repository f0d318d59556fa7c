"""Lazy package exports: names resolved from their modules on first access.

Importing a package then costs nothing until a name is used, so ``s4d-forecast --help`` and
``import s4d_forecast.ssm`` do not pay for darts, Lightning or pandas. Pure Python, importable
from every layer.
"""

from __future__ import annotations

import importlib
import sys


def lazy_exports(package: str, names: dict[str, str | tuple[str, str]]):
    """``(__getattr__, __dir__)`` for ``package`` exporting ``names``.

    ``names`` maps an exported name to the module defining it, or to ``(module, attribute)``
    when it is exported under another name. Use in a package's ``__init__``:
    ``__getattr__, __dir__ = lazy_exports(__name__, {"S4D": "s4d_forecast.ssm.layer"})``.
    """

    def __getattr__(name: str):
        if name in names:
            target = names[name]
            module, attribute = target if isinstance(target, tuple) else (target, name)
            return getattr(importlib.import_module(module), attribute)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
