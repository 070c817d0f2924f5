from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakes import FakeClock  # noqa: E402


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def no_pynvml(monkeypatch):
    """Make sure no real or stub pynvml leaks between tests."""
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory):
    """Logs go to a temp folder; no JUPYTER_CARBON_* setting leaks in from the developer's shell."""
    import os

    for key in [k for k in os.environ if k.startswith("JUPYTER_CARBON_")]:
        del os.environ[key]
    os.environ["JUPYTER_CARBON_LOG_DIR"] = str(tmp_path_factory.mktemp("carbon-logs"))
    yield


@pytest.fixture(scope="session")
def _shell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.colors = "nocolor"  # plain tracebacks, so tests can read them
    import IPython

    if IPython.version_info[0] < 9:  # IPython 8's traceback printer does not follow the trait
        shell.InteractiveTB.set_colors("NoColor")
    return shell


@pytest.fixture
def shell(_shell, no_pynvml):
    """A real InteractiveShell with jupyter_carbon loaded; unloaded (and state reset) afterwards."""
    import jupyter_carbon.carbon_session as session_module

    session_module.reset_session()
    _shell.run_line_magic("load_ext", "jupyter_carbon")
    yield _shell
    _shell.run_line_magic("unload_ext", "jupyter_carbon")
    session_module.reset_session()
