"""Energy sources: each reports cumulative joules for one device (counter semantics).

``detect()`` probes every backend and returns the working sources plus, for each backend not
used, the reason and the fix. Backends import their optional libraries (pynvml) lazily.
"""

from .base import COMPONENTS, EnergySource, Reading
from .detect import Detection, detect

__all__ = ["COMPONENTS", "EnergySource", "Reading", "Detection", "detect"]
