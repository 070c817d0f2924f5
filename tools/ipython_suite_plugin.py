"""pytest plugin for IPython's own test suite: jupyter_carbon loaded into its test shell,
``%carbon on``.

Used by ``tools/ipython_suite.py`` (``-p ipython_suite_plugin``). Once the tests are collected
(IPython's conftest has made its global test shell by then), it loads the extension, turns auto
mode on (``--quiet``: the tests read the cells' output), and counts, independently of the
extension, the outermost cells IPython runs: ``run_cell_async`` calls, in any thread, that reach
``pre_run_cell`` while no other cell of the same thread is running. At the end it writes those
counts, the records and any problem the extension reported to the JSON file named by
``JUPYTER_CARBON_SUITE_OUT``.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

_depth = threading.local()
_counts = {"executed": 0}
_state: dict[str, Any] = {}


def _install_counter(shell: Any) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    original = InteractiveShell.run_cell_async

    async def run_cell_async(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        depth = getattr(_depth, "n", 0)
        _depth.n = depth + 1
        try:
            return await original(self, *args, **kwargs)
        finally:
            _depth.n = depth

    def count(info: Any) -> None:
        if getattr(_depth, "n", 0) == 1:
            _counts["executed"] += 1

    InteractiveShell.run_cell_async = run_cell_async  # type: ignore[method-assign]
    shell.events.register("pre_run_cell", count)


def pytest_collection_finish(session: Any) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_carbon.extension import get_extension

    shell = InteractiveShell._instance
    if shell is None:
        raise RuntimeError(
            "IPython's test shell does not exist after collection: has its conftest changed?"
        )
    _install_counter(shell)
    shell.run_line_magic("load_ext", "jupyter_carbon")
    shell.run_line_magic("carbon", "on --quiet")
    _state["shell"], _state["extension"] = shell, get_extension(shell)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    ext = _state.get("extension")
    out = os.environ.get("JUPYTER_CARBON_SUITE_OUT")
    if ext is None or not out:
        return
    from jupyter_carbon.extension import get_extension

    records = ext.session.records
    summary = {
        "executed": _counts["executed"],
        "measured": sum(r.kind == "auto" for r in records),
        "records": len(records),
        "cut_short": sum(any(f.startswith("cut short") for f in r.flags) for r in records),
        "open_windows": ext.session.sampler.open_windows,
        "still_loaded": get_extension(_state["shell"]) is ext,
        # report() lines: a hook of the extension failed (the cell went on unaffected)
        "failures": sorted(line for line in ext.session.problems if " failed (" in line),
        # the session's other notes (e.g. no RAPL access)
        "problems": [line for line in ext.session.problems if " failed (" not in line],
    }
    with open(out, "w") as f:
        json.dump(summary, f, indent=1)
