"""Stand-ins for vendor libraries this machine lacks, following the real APIs' names and units.

Each stub is a plain module; a test configures it and installs it as ``sys.modules[name]``.
"""
