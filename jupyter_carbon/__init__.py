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

The core (sources, sampler, ledger) imports without IPython, matplotlib or pynvml.
"""

# No ``from __future__``/``typing`` imports here: every public name of this module is in __all__
# (tests/test_exported_members.py).
from .api import session, summary, track
from .record import CellRecord

#: What users call: the Python API, the record type, IPython's extension hooks.
__all__ = ["track", "track_iter", "session", "summary", "CellRecord", "load_ipython_extension", "unload_ipython_extension", "__version__"]
__version__ = "0.1.0"


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext jupyter_carbon``: measure cells in this IPython shell."""
    from .extension import load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    """``%unload_ext jupyter_carbon``: stop measuring (the records stay for a later load)."""
    from .extension import unload

    unload(ipython)


def __getattr__(name: str) -> object:
    # track_iter (and the predictor's statistics imports) load on first use, not at %load_ext
    if name == "track_iter":
        from .iterate import track_iter

        return track_iter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
