"""The JupyterLab extension's committed parts agree: the formatting fixture is what Python writes
now, and the built extension (``jupyter_carbon/labextension``, installed by the wheel) is the
source's (name, version, settings schema). Rebuilding it from source and comparing is .ci/run's
step (it needs node)."""

from __future__ import annotations

import json
import subprocess
import sys

from storage_helpers import ROOT, child_env

import jupyter_carbon

SOURCE = ROOT / "labextension"
BUILT = ROOT / "jupyter_carbon" / "labextension"


def test_the_formatting_fixture_is_what_python_writes_now() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "format_fixture.py"), "--check"],
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_built_extension_is_the_sources() -> None:
    source = json.loads((SOURCE / "package.json").read_text())
    built = json.loads((BUILT / "package.json").read_text())
    assert built["name"] == source["name"] == "jupyter-carbon"
    assert built["version"] == source["version"] == jupyter_carbon.__version__
    assert (BUILT / built["jupyterlab"]["_build"]["load"]).is_file()
    schema = BUILT / "schemas" / "jupyter-carbon" / "plugin.json"
    assert json.loads(schema.read_text()) == json.loads(
        (SOURCE / "schema" / "plugin.json").read_text()
    )
    install = json.loads((SOURCE / "install.json").read_text())
    assert install["packageName"] == "jupyter-carbon"
