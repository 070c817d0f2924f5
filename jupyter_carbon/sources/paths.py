"""Where Linux exposes what detection reads: the default roots of the settings that point
detection elsewhere (tests and containers)."""

__all__ = ["POWERCAP_ROOT", "HWMON_ROOT", "CGROUP_ROOT", "DMI_ROOT"]

POWERCAP_ROOT = "/sys/class/powercap"
HWMON_ROOT = "/sys/class/hwmon"
CGROUP_ROOT = "/sys/fs/cgroup"
DMI_ROOT = "/sys/class/dmi/id"
