"""Run part of IPython's own test suite without and with jupyter_carbon, and compare.

    python tools/ipython_suite.py [--work DIR] [--tests test_magic,test_run,...]

Downloads the source distribution of the installed IPython version (``pip download --no-binary
:all: --no-deps ipython==X``; kept in ``--work`` when given), runs the chosen test modules twice
with pytest — once as they are, once with ``ipython_suite_plugin`` loading the extension into
IPython's test shell with ``%carbon on`` — and fails (exit status 1) when:

- a test that passes without the extension does not pass with it;
- fewer cells were measured than IPython ran (outermost cells reaching ``pre_run_cell``);
- a measurement window is still open at the end, or the extension reported a failure.

Prints the figures: tests run, passed without/with, cells executed/measured, seconds per run.
Needs IPython's test dependencies: ``pip install -e '.[ipython-suite]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

DEFAULT_TESTS = (
    "test_interactiveshell",
    "test_magic",
    "test_run",
    "test_displayhook",
    "test_history",
    "test_inputtransformer2",
)
TOOLS = Path(__file__).resolve().parent


def fetch_sdist(version: str, work: Path) -> Path:
    """The unpacked IPython source distribution of ``version`` under ``work``."""
    root = work / f"ipython-{version}"
    if root.is_dir():
        return root
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-binary",
            ":all:",
            "--no-deps",
            f"ipython=={version}",
            "-d",
            str(work),
        ],
        check=True,
    )
    archive = next(work.glob(f"ipython-{version}.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    return root


def test_files(root: Path, names: list[str]) -> list[str]:
    """IPython 9 keeps its tests in tests/, IPython 8 in IPython/*/tests/."""
    files = []
    for name in names:
        found = sorted(root.glob(f"tests/{name}.py")) or sorted(
            root.glob(f"IPython/*/tests/{name}.py")
        )
        if not found:
            raise SystemExit(
                f"ipython_suite: no {name}.py in {root}; choose from the sdist's test modules"
            )
        files.append(str(found[0].relative_to(root)))
    return files


def node_id(root: Path, classname: str, name: str) -> str:
    """pytest's node id of a JUnit test case (classname: module, or module.Class)."""
    parts = classname.split(".")
    for cut in range(len(parts), 0, -1):
        path = Path(*parts[:cut]).with_suffix(".py")
        if (root / path).is_file():
            return "::".join([str(path), *parts[cut:], name])
    return f"{classname}::{name}"


def outcomes(junit: Path, root: Path) -> dict[str, str]:
    """Test node id -> passed / failed / skipped, from pytest's JUnit XML."""
    result = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        test_id = node_id(root, case.get("classname", ""), case.get("name", ""))
        if case.find("failure") is not None or case.find("error") is not None:
            result[test_id] = "failed"
        elif case.find("skipped") is not None:
            result[test_id] = "skipped"
        else:
            result[test_id] = "passed"
    return result


def run_pytest(
    root: Path, files: list[str], work: Path, with_extension: bool
) -> tuple[dict[str, str], dict, float]:
    tag = "with" if with_extension else "without"
    work.mkdir(parents=True, exist_ok=True)
    junit, summary = work / f"junit-{tag}.xml", work / f"cells-{tag}.json"
    env = dict(
        os.environ,
        JUPYTER_CARBON_LOG_DIR=str(work / f"carbon-logs-{tag}"),
        JUPYTER_CARBON_SUITE_OUT=str(summary),
    )
    # addopts emptied: IPython 8's ipdoctest plugin does not load under pytest 9 (the chosen
    # modules are pytest tests; their few doctests are left out in both runs)
    command = [
        sys.executable,
        "-m",
        "pytest",
        *files,
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        f"--junitxml={junit}",
    ]
    if with_extension:
        env["PYTHONPATH"] = os.pathsep.join([str(TOOLS), *filter(None, [env.get("PYTHONPATH")])])
        command += ["-p", "ipython_suite_plugin"]
    started = time.monotonic()
    completed = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if not junit.exists():
        sys.stdout.write(completed.stdout[-4000:] + completed.stderr[-4000:])
        raise SystemExit(
            f"ipython_suite: pytest {tag} the extension did not run (exit status "
            f"{completed.returncode})"
        )
    cells = json.loads(summary.read_text()) if with_extension and summary.exists() else {}
    return outcomes(junit, root), cells, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--work", type=Path, help="folder for the sdist and the reports (default: a temporary one)"
    )
    parser.add_argument(
        "--tests",
        default=",".join(DEFAULT_TESTS),
        help="comma-separated test modules of IPython's suite",
    )
    args = parser.parse_args(argv)
    import IPython

    with tempfile.TemporaryDirectory(prefix="ipython-suite-") as tmp:
        work = (args.work or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        root = fetch_sdist(IPython.__version__, work)
        files = test_files(root, [n.strip() for n in args.tests.split(",") if n.strip()])
        without, _, seconds_without = run_pytest(root, files, work, with_extension=False)
        with_ext, cells, seconds_with = run_pytest(root, files, work, with_extension=True)

        passed_without = {t for t, o in without.items() if o == "passed"}
        passed_with = {t for t, o in with_ext.items() if o == "passed"}
        broken = sorted(passed_without - passed_with)
        flaky = []
        # run those again, alone, both ways: a test that fails without the extension too is flaky
        if broken:
            again_without, _, _ = run_pytest(root, broken, work / "again", with_extension=False)
            again_with, _, _ = run_pytest(root, broken, work / "again", with_extension=True)
            flaky = [
                t
                for t in broken
                if again_without.get(t) != "passed" or again_with.get(t) == "passed"
            ]
            broken = [t for t in broken if t not in flaky]
    print(f"IPython {IPython.__version__}: {len(files)} test modules, {len(without)} tests")
    print(f"  without jupyter_carbon: {len(passed_without)} passed, {seconds_without:.0f} s")
    print(f"  with %carbon on:        {len(passed_with)} passed, {seconds_with:.0f} s")
    print(
        f"  cells run: {cells.get('executed', '?')}, measured: "
        f"{cells.get('measured', '?')} (records {cells.get('records', '?')}, "
        f"cut short {cells.get('cut_short', '?')})"
    )
    if flaky:
        print(
            "  flaky (failed once with the extension; alone, "
            f"fails without it too or passes with it): {', '.join(flaky)}"
        )
    problems = []
    if broken:
        problems.append(
            f"{len(broken)} tests pass without the extension and not with it: " + ", ".join(broken)
        )
    if not cells:
        problems.append("the plugin wrote no counts: was the extension loaded?")
    else:
        if cells["measured"] < cells["executed"]:
            problems.append(f"only {cells['measured']} of {cells['executed']} cells were measured")
        if cells["open_windows"]:
            problems.append(
                f"{cells['open_windows']} measurement windows were still open at the end"
            )
        if not cells["still_loaded"]:
            problems.append("the extension was unloaded during the run (the counts are incomplete)")
        problems += [f"the extension reported: {line}" for line in cells["failures"]]
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
