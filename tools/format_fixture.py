"""The figures the JupyterLab extension's formatting is tested against, written by Python.

``labextension/src/format.ts`` formats the kernel's figures in the footer and the status bar; it
must write them exactly as :mod:`jupyter_carbon.units` and ``display/text.py`` do. This script
writes inputs and Python's outputs to ``labextension/test/format-fixture.json`` (read by the jest
tests); tests/test_labextension.py checks that the committed file is what it writes now.

    python tools/format_fixture.py [--check]
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from jupyter_carbon.display.text import how_word, plural
from jupyter_carbon.units import (
    CO2E_UNITS,
    ENERGY_UNITS,
    format_co2e,
    format_co2e_range,
    format_duration,
    format_energy,
    format_energy_range,
    format_power,
    significant,
)

FIXTURE = Path(__file__).resolve().parents[1] / "labextension" / "test" / "format-fixture.json"


def values() -> list[float]:
    """Unit boundaries and just around them, ties of the third digit, and a seeded spread over
    twenty decades."""
    out = [0.0, 1e-12, 5e-324, 1.0, 0.5, 1.125, 2.675, 0.0125, 999.5, 999.4999, 1000.0, 12345.0]
    for factor, _ in ENERGY_UNITS + CO2E_UNITS:
        out += [factor, factor * (1 - 1e-12), factor * 0.9995, factor * 999.5, factor * 999.49]
    rng = random.Random(23)
    for _ in range(400):
        out.append(10 ** rng.uniform(-9, 11))
    for _ in range(100):  # three digits and a 5: the ties that round to even in Python
        out.append(rng.randint(100, 999) / 10 ** rng.randint(0, 6) + 5 / 10 ** rng.randint(3, 9))
    return out + [-v for v in out[:20]]


def durations() -> list[float]:
    out = [0.0, 1e-7, 0.0004995, 0.0005, 0.0015, 0.0025, 0.999, 0.9995, 1.0, 59.9, 59.96, 60.0]
    out += [90.5, 91.5, 3599.4, 3599.5, 3600.0, 3725.0, 86400.0 * 3 + 1]
    rng = random.Random(7)
    return out + [10 ** rng.uniform(-7, 5.5) for _ in range(200)]


def fixture() -> dict:
    nums = values()
    pairs = list(zip(nums[::2], nums[1::2]))  # (low, high) and the odd ones out
    parts = [
        [["cpu", True]],
        [["cpu", False], ["ram", False]],
        [["cpu", True], ["gpu", True], ["ram", False]],
    ]
    return {
        "energy": [[v, format_energy(v)] for v in nums],
        "co2e": [[v, format_co2e(v)] for v in nums],
        "power": [[v, format_power(v)] for v in nums],
        "g3": [[v, f"{v:.3g}"] for v in nums],
        "f0": [[v, f"{v:.0f}"] for v in nums if abs(v) < 1e15],
        "f2": [[v, f"{v:.2f}"] for v in nums if abs(v) < 1e15],
        "duration": [[v, format_duration(v)] for v in durations()],
        "energy_range": [[lo, hi, format_energy_range(lo, hi)] for lo, hi in pairs],
        "co2e_range": [[lo, hi, format_co2e_range(lo, hi)] for lo, hi in pairs],
        "significant": [[v, significant(v)] for v in nums],
        "how": [[p, how_word(tuple((c, m) for c, m in p))] for p in parts],
        "plural": [[n, plural(n, "cell")] for n in (0, 1, 2, 999, 1000, 1234567)],
    }


def text() -> str:
    """One case a line: a diff shows which figure changed."""
    groups = []
    for name, cases in fixture().items():
        lines = ",\n".join(json.dumps(case, ensure_ascii=False) for case in cases)
        groups.append(f"{json.dumps(name)}: [\n{lines}\n]")
    return "{\n" + ",\n".join(groups) + "\n}\n"


def main() -> int:
    if sys.argv[1:] == ["--check"]:
        if FIXTURE.read_text(encoding="utf-8") != text():
            print(f"{FIXTURE} is out of date: run python tools/format_fixture.py")
            return 1
        return 0
    FIXTURE.write_text(text(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
