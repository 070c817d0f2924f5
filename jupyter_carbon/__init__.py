"""jupyter_carbon: the energy and CO2e of notebook cells.

In IPython or Jupyter::

    %load_ext jupyter_carbon
    %%carbon --label train
    ...

In scripts::

    with jupyter_carbon.track("train") as m:
        ...
    m.record.energy_j, m.record.co2e_g

Loops (predicted total energy, CO2e and time left, optional budget)::

    for batch in jupyter_carbon.track_iter(loader, budget_g=50):
        ...

The core (sources, sampler, ledger) imports without IPython, ipywidgets, matplotlib or pynvml.
"""

from __future__ import annotations

from typing import Any

from .api import session, summary, track
from .record import CellRecord

__all__ = ["track", "track_iter", "session", "summary", "CellRecord", "load_ipython_extension", "unload_ipython_extension", "__version__"]
__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    from .extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .extension import unload

    unload(ipython)



def __getattr__(name: str) -> Any:
    # track_iter (and the predictor's statistics imports) load on first use, not at %load_ext
    if name == "track_iter":
        from .iterate import track_iter

        return track_iter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
