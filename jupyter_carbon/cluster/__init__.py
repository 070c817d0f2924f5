"""Notebooks on a Dask cluster: each measured window also measures, and is charged for, its tasks
on the cluster's hosts.

Modules: :mod:`.host` (one energy meter per host), :mod:`.worker` (the worker plugin),
:mod:`.attribute` (a window's share of each host), :mod:`.client` (install, measure, settle work
completed later), :mod:`.settler` (the shares measured after their windows ended),
:mod:`.observer` (the session glue), :mod:`.text` (report and status lines).
The record's part (:class:`ClusterPart`) is a plain type of :mod:`jupyter_carbon.cluster_part`.
Only :mod:`.worker` and :mod:`.client` import ``distributed``
(``pip install 'jupyter-carbon[dask]'``).
"""

from ..cluster_part import ClusterPart, HostPart

__all__ = ["ClusterPart", "HostPart"]
