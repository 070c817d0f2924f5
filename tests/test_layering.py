"""The layers import downwards only: hardware sources and carbon intensity know nothing of the
settings, the session or the front ends. Checked on the source text (imports inside functions
count too), since importing any submodule runs the package's ``__init__`` first.

``LAYERS`` places every module of the package; a module imports only from its own layer or lower
ones. Heavy third-party packages load only inside functions (when used), except in the front-end
modules that exist to use them.
"""

import ast
from pathlib import Path

import pytest

import jupyter_carbon

PACKAGE = Path(jupyter_carbon.__file__).parent

#: Every module of ``jupyter_carbon`` (names relative to it; ``__init__`` is the package root),
#: lowest layer first.
LAYERS = {
    # leaves: no import from the package
    0: "_version units energy textsafe diagnostics ipython_compat",
    # values and the hardware: energy sources, carbon intensity, the record and its parts
    1: """
        sources sources.base sources.paths sources.discovery sources.visible sources.pread
        sources.counter sources.constant
        sources.cpu_model sources.ram_model sources.cgroup sources.scope sources.cloud
        sources.rapl sources.nvml sources.amd sources.intel_gpu sources.apple sources.detect
        intensity intensity.emissions intensity.table intensity.value intensity.providers
        record totals cluster_part reference
    """,
    # measuring and reading records: sampler and ledger, settings, a record's row, digests
    2: """
        sampler ledger config parse digest advice rows predict
        formats.options formats.figures formats.comparisons formats.embodied formats.sci
        formats.model_card formats.methods
    """,
    # the session: windows, records, intensity
    3: "carbon_session",
    # built on a session or on records: the log and files, Dask clusters, the idle baseline
    4: """
        storage storage.log storage.reader storage.history storage.export storage.runs
        storage.archive
        cluster cluster.attribute cluster.client cluster.host cluster.observer cluster.settler
        cluster.text cluster.worker baseline
        formats formats.publish formats.report trackers trackers.metrics trackers.mlflow
        trackers.wandb
    """,
    # what people see
    5: """
        display display.text display.equivalents display.html display.plots display.publish
        display.cell display.summary display.report_text display.report_html
        display.history_text display.footer display.frontend
    """,
    # front ends: the package root and the Python API, IPython's extension and magics, the CLI
    6: "__init__ __main__ api iterate extension magics cli runner",
}
LAYER = {module: layer for layer, names in LAYERS.items() for module in names.split()}

#: Third-party packages that are slow to import or optional: imported inside the functions that
#: use them, except by the modules named here (which exist to use them).
HEAVY = (
    "matplotlib", "pandas", "distributed", "dask", "pynvml", "amdsmi", "ipywidgets", "IPython",
    "ipykernel", "traitlets", "nbformat", "nbclient", "jupyter_client", "zeus_apple_silicon",
)  # fmt: skip
HEAVY_AT_IMPORT = {
    "magics": ("IPython", "traitlets"),  # the magics are IPython classes
    "cluster.worker": (
        "distributed",
    ),  # the worker plugin subclasses distributed's; loaded on workers
}


def _modules() -> dict[str, Path]:
    """Module name (relative to the package) → its file."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _absolute(name: str) -> str:
    return "jupyter_carbon" if name == "__init__" else f"jupyter_carbon.{name}"


def _relative(name: str) -> str | None:
    """The module name relative to the package, None for another package."""
    if name == "jupyter_carbon":
        return "__init__"
    return name[len("jupyter_carbon.") :] if name.startswith("jupyter_carbon.") else None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str) -> list[tuple[ast.Import | ast.ImportFrom, bool, bool]]:
    """Every import statement of ``module``: (node, inside a function,
    under ``if TYPE_CHECKING``)."""
    out = []

    def visit(node: ast.AST, in_function: bool, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                out.append((child, in_function, typing_only))
            visit(
                child,
                in_function
                or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)),
                typing_only or (isinstance(child, ast.If) and _is_type_checking(child)),
            )

    visit(ast.parse(MODULES[module].read_text()), False, False)
    return out


def _package_of(module: str) -> str:
    """The absolute package a relative import of ``module`` starts from."""
    absolute = _absolute(module)
    is_package = MODULES[module].name == "__init__.py"
    return absolute if is_package else absolute.rpartition(".")[0]


def imported_modules(module: str) -> set[str]:
    """The package's modules that ``module`` imports (relative names); ``from pkg import name``
    counts as importing ``pkg.name`` when that is a module, else ``pkg``."""
    out = set()
    for node, _, _ in _imports(module):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                package = _package_of(module)
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            targets = [
                f"{base}.{a.name}" if _relative(f"{base}.{a.name}") in MODULES else base
                for a in node.names
            ]
        for target in targets:
            name = _relative(target)
            while name is not None and name not in MODULES and "." in name:
                name = name.rpartition(".")[0]
            if name is not None and name in MODULES and name != module:
                out.add(name)
    return out


def test_every_module_has_a_layer():
    assert len(MODULES) > 60
    assert sorted(set(MODULES) - set(LAYER)) == [], "place new modules in LAYERS"
    assert sorted(set(LAYER) - set(MODULES)) == [], "LAYERS names modules that do not exist"
    assert len(LAYER) == sum(len(names.split()) for names in LAYERS.values()), (
        "a module is in two layers"
    )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_from_its_own_layer_or_lower(module):
    upward = {
        name: LAYER.get(name)
        for name in imported_modules(module)
        if LAYER.get(name, 99) > LAYER.get(module, -1)
    }
    assert not upward, f"{module} (layer {LAYER.get(module)}) imports from higher layers: {upward}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_heavy_packages_load_only_when_used(module):
    at_import = set()
    for node, in_function, typing_only in _imports(module):
        if in_function or typing_only:
            continue
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if not node.level
            else []
        )
        at_import.update(n.split(".")[0] for n in names if n.split(".")[0] in HEAVY)
    assert at_import <= set(HEAVY_AT_IMPORT.get(module, ())), (
        f"{module} imports {sorted(at_import)} when it is imported"
    )


def _package_imports(package: str) -> dict[str, set[str]]:
    """module → the absolute names it imports, for every module of ``package``."""
    prefix = package.split(".", 1)[1]
    out = {}
    for module in MODULES:
        if module != prefix and not module.startswith(prefix + "."):
            continue
        names = set()
        for node, _, _ in _imports(module):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            else:
                base = node.module or ""
                if node.level:
                    root = _package_of(module)
                    for _ in range(node.level - 1):
                        root = root.rpartition(".")[0]
                    base = f"{root}.{base}" if base else root
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names)
        out[_absolute(module)] = names
    return out


@pytest.mark.parametrize(
    "package, forbidden",
    [
        (
            "jupyter_carbon.sources",
            (
                "jupyter_carbon.config",
                "jupyter_carbon.carbon_session",
                "jupyter_carbon.api",
                "jupyter_carbon.intensity",
                "jupyter_carbon.display",
                "IPython",
            ),
        ),
        (
            "jupyter_carbon.intensity",
            (
                "jupyter_carbon.config",
                "jupyter_carbon.sources",
                "jupyter_carbon.carbon_session",
                "jupyter_carbon.api",
                "jupyter_carbon.display",
                "IPython",
            ),
        ),
    ],
)
def test_lower_layers_do_not_import_upper_ones(package, forbidden):
    modules = _package_imports(package)
    assert len(modules) > 3
    bad = {
        module: sorted(n for n in names if n.startswith(forbidden))
        for module, names in modules.items()
    }
    assert not {m: names for m, names in bad.items() if names}


def test_settings_do_not_know_detection():
    """The settings name the default sysfs roots (``sources.paths``),
    not how detection uses them."""
    assert "sources.paths" in imported_modules("config")
    assert not {
        m
        for m in imported_modules("config")
        if m.startswith("sources.") and m not in ("sources.paths", "sources.base")
    }
