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
from ._version import __version__
from .api import session, summary, track
from .iterate import track_iter
from .record import WindowRecord

#: What users call: the Python API, the record type, IPython's extension hooks.
__all__ = [
    "track",
    "track_iter",
    "session",
    "summary",
    "WindowRecord",
    "load_ipython_extension",
    "unload_ipython_extension",
    "__version__",
]


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext jupyter_carbon``: measure cells in this IPython shell."""
    from .extension import load  # imports IPython: not for ``import jupyter_carbon`` in a script

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    """``%unload_ext jupyter_carbon``: stop measuring (the records stay for a later load)."""
    from .extension import unload  # imports IPython: not for ``import jupyter_carbon`` in a script

    unload(ipython)
