"""A Linux hwmon tree in a temp folder, for the Intel GPU drivers (i915, xe) and others.

Each device: ``hwmonN/name``, ``hwmonN/device`` (a link to a PCI device folder named by its
address), ``energyK_input`` (µJ, as the hwmon ABI says) and optional ``energyK_label``.
``advance(dt_s, {key: W})`` integrates exactly and rewrites the counters; ``set_raw`` writes
any value (a wrap, a reset, a jump).
"""

from __future__ import annotations

from pathlib import Path


class FakeHwmon:
    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "class" / "hwmon"
        self.pci = Path(root) / "devices" / "pci0000:00"
        self.root.mkdir(parents=True)
        self.pci.mkdir(parents=True)
        self.files: dict[str, Path] = {}
        self.counter_uj: dict[str, float] = {}
        self.true_energy_j: dict[str, float] = {}

    def add(
        self, driver: str, pci: str, energy: dict[str, str | None] | None = None, start_uj: int = 0
    ) -> str:
        """A device; ``energy`` maps ``energyK`` → label (None: no label file).
        Returns its hwmon name."""
        name = f"hwmon{len(list(self.root.iterdir()))}"
        folder = self.root / name
        folder.mkdir()
        (folder / "name").write_text(driver + "\n")
        (self.pci / pci).mkdir(exist_ok=True)
        (folder / "device").symlink_to(self.pci / pci)
        for sensor, label in (energy if energy is not None else {"energy1": None}).items():
            key = f"{name}/{sensor}"
            self.files[key] = folder / f"{sensor}_input"
            self.counter_uj[key] = float(start_uj)
            self.true_energy_j[key] = 0.0
            if label is not None:
                (folder / f"{sensor}_label").write_text(label + "\n")
            self._write(key)
        return name

    def _write(self, key: str) -> None:
        self.files[key].write_text(f"{int(self.counter_uj[key])}\n")

    def advance(self, dt_s: float, power_w: dict[str, float]) -> None:
        for key, watts in power_w.items():
            self.true_energy_j[key] += watts * dt_s
            self.counter_uj[key] += watts * dt_s * 1e6
            self._write(key)

    def set_raw(self, key: str, raw_uj: int) -> None:
        self.counter_uj[key] = float(raw_uj)
        self._write(key)
