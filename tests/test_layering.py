"""The layers import downwards only: hardware sources and carbon intensity know nothing of the
settings, the session or the front ends. Checked on the source text (imports inside functions
count too), since importing any submodule runs the package's ``__init__`` first."""

import ast
from pathlib import Path

import pytest

import jupyter_carbon

PACKAGE = Path(jupyter_carbon.__file__).parent


def imported_modules(package: str) -> dict[str, set[str]]:
    """module → the absolute names it imports, for every module of ``package``."""
    out = {}
    for path in sorted((PACKAGE / package.split(".", 1)[1].replace(".", "/")).rglob("*.py")):
        module = "jupyter_carbon." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        parts = module.split(".") if path.name != "__init__.py" else module.split(".")[:-1] + ["__init__"]
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(parts[: len(parts) - node.level]) if node.level else ""
                name = ".".join(p for p in (base, node.module or "") if p)
                names.add(name)
                names.update(f"{name}.{alias.name}" for alias in node.names)
        out[module] = names
    return out


@pytest.mark.parametrize(
    "package, forbidden",
    [
        ("jupyter_carbon.sources", ("jupyter_carbon.config", "jupyter_carbon.carbon_session", "jupyter_carbon.api", "jupyter_carbon.intensity", "jupyter_carbon.display", "IPython")),
        ("jupyter_carbon.intensity", ("jupyter_carbon.config", "jupyter_carbon.sources", "jupyter_carbon.carbon_session", "jupyter_carbon.api", "jupyter_carbon.display", "IPython")),
    ],
)
def test_lower_layers_do_not_import_upper_ones(package, forbidden):
    modules = imported_modules(package)
    assert len(modules) > 3
    bad = {module: sorted(n for n in names if n.startswith(forbidden)) for module, names in modules.items()}
    assert not {m: names for m, names in bad.items() if names}
