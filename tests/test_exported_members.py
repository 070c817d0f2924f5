"""The public API is what ``__all__`` says (as httpx's tests/test_exported_members.py checks),
and every module of the package declares its own ``__all__`` of names it defines or imports."""

import importlib
import pkgutil
import types

import jupyter_carbon

#: What users call; a change here is a change of the public API.
PUBLIC = [
    "track",
    "track_iter",
    "session",
    "summary",
    "WindowRecord",
    "load_ipython_extension",
    "unload_ipython_extension",
    "__version__",
]


def test_all_is_the_public_api():
    assert jupyter_carbon.__all__ == PUBLIC


def test_every_public_name_is_exported_and_every_export_exists():
    public = {
        name
        for name, value in vars(jupyter_carbon).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public | {"track_iter", "__version__"} == set(
        jupyter_carbon.__all__
    )  # track_iter loads on first use
    for name in jupyter_carbon.__all__:
        assert getattr(jupyter_carbon, name) is not None


def test_every_module_has_an_all_of_names_it_has():
    modules = [
        info.name for info in pkgutil.walk_packages(jupyter_carbon.__path__, "jupyter_carbon.")
    ]
    assert len(modules) > 40
    for name in modules:
        module = importlib.import_module(name)
        assert isinstance(getattr(module, "__all__", None), (list, tuple)), f"{name} has no __all__"
        missing = [n for n in module.__all__ if not hasattr(module, n)]
        assert not missing, f"{name}.__all__ names what it does not have: {missing}"
