"""jupyter_carbon: the energy and CO2e of notebook cells.

In IPython or Jupyter::

    %load_ext jupyter_carbon
    %%carbon --label train
    ...

In scripts::

    with jupyter_carbon.track("train") as m:
        ...
    m.record.energy_j, m.record.co2e_g

The core (sources, sampler, ledger) imports without IPython, ipywidgets, matplotlib or pynvml.
"""

from __future__ import annotations

from typing import Any

from .api import session, summary, track
from .record import CellRecord

__all__ = ["track", "session", "summary", "CellRecord", "load_ipython_extension", "unload_ipython_extension", "__version__"]
__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    from .extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .extension import unload

    unload(ipython)
