"""The package layers (docs/architecture.md): each package imports only the layers below it.

``ssm`` (torch only) ← ``forecasting`` (darts) and ``tasks`` (Lightning) ← ``comparison`` and
the CLI; ``data`` imports no model code (``tests/data/test_data_package.py`` checks that in a
fresh interpreter). Here every ``import`` statement of a package's source files is read,
including those inside functions (the lazy ones), so a forbidden import fails even where it
would only run on first use.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "s4d_forecast"
PACKAGES = ("ssm", "data", "forecasting", "tasks", "comparison", "baselines")
FORBIDDEN = {
    "ssm": ["darts", "pytorch_lightning", "lightning", "pandas",
            *(f"s4d_forecast.{p}" for p in PACKAGES if p != "ssm")],
    "data": [f"s4d_forecast.{p}" for p in PACKAGES if p != "data"],
    "forecasting": ["s4d_forecast.tasks", "s4d_forecast.comparison", "s4d_forecast.baselines"],
    "tasks": ["darts", "s4d_forecast.forecasting", "s4d_forecast.comparison",
              "s4d_forecast.baselines"],
    "comparison": ["s4d_forecast.tasks"],
}


def imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of the modules ``path`` imports anywhere in its body."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the package
                parts = f"s4d_forecast.{package}".split(".")[: 3 - node.level]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


@pytest.mark.parametrize("package", list(FORBIDDEN))
def test_package_imports_only_the_layers_below(package):
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported_modules(path, package):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package]):
                bad.append(f"{path.relative_to(ROOT.parent)} imports {name}")
    assert not bad, "\n".join(bad)


def test_the_check_sees_lazy_and_relative_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("from .bidmc import x\n\ndef f():\n    import darts.models\n")
    assert {"s4d_forecast.data.bidmc", "darts.models"} <= imported_modules(src, "data")
