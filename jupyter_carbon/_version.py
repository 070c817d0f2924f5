"""The package's version, in a module of its own: the log header and exports name it without
importing the package root (``pyproject.toml`` reads it from here)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
