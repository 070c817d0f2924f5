"""Notebooks on a Dask cluster: each measured window also measures, and is charged for, its tasks
on the cluster's hosts.

Modules: :mod:`.part` (the record's cluster part), :mod:`.host` (one energy meter per host),
:mod:`.worker` (the worker plugin), :mod:`.attribute` (a window's share of each host),
:mod:`.client` (install, measure, settle work completed later), :mod:`.observer` (the session
glue), :mod:`.text` (report and status lines). Only :mod:`.worker` and :mod:`.client` import
``distributed`` (``pip install 'jupyter-carbon[dask]'``).
"""

from .part import ClusterPart, HostPart

__all__ = ["ClusterPart", "HostPart"]
