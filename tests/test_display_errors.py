"""A cell whose error is raised while its result is displayed (a ``_repr_html_`` that raises, a
graphviz ``Source`` without ``dot``): IPython prints the traceback, ipykernel replies "error".
The record's status agrees with what the user saw and the kernel replied, and ``jupyter-carbon
run`` names that error (issue 26, item 6)."""

from __future__ import annotations

import os

import nbformat
import pytest
from storage_helpers import child_env

import jupyter_carbon

#: An object that cannot be shown: its rich display raises (as graphviz's does without ``dot``).
BROKEN = """
class Broken:
    def _repr_html_(self):
        raise ValueError("the dot executable was not found")
    def __repr__(self):
        raise ValueError("the dot executable was not found")
"""


def test_an_error_raised_displaying_the_result_is_the_cells_error(shell, capsys):
    shell.run_cell(BROKEN)
    shell.run_line_magic("carbon", "on")
    result = shell.run_cell("Broken()")
    assert "the dot executable was not found" in capsys.readouterr().out  # the user sees it
    assert result.success  # IPython's own result calls it a success …
    records = jupyter_carbon.session().records
    assert records[-1].status == "error"  # … the record says what the user saw
    shell.run_cell("1 + 1")  # an ordinary cell after it is not tainted by the earlier error
    assert jupyter_carbon.session().records[-1].status == "ok"
    result = shell.run_cell("%%carbon --quiet\nBroken()")  # the same under the cell magic
    assert jupyter_carbon.session().records[-1].status == "error"


@pytest.mark.slow
def test_run_names_the_display_error_and_the_record_agrees_with_the_reply(tmp_path, monkeypatch):
    from jupyter_carbon.runner import run_notebook

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(s) for s in (BROKEN, "Broken()", "2 + 2")]
    path = tmp_path / "display.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setenv("PYTHONPATH", child_env()["PYTHONPATH"])  # the kernel imports this tree
    result = run_notebook(path, progress=None, allow_errors=True, timeout_s=120)
    assert len(result.failures) == 1, result.failures
    assert "ValueError: the dot executable was not found" in result.failures[0]
    assert "NoneType" not in result.failures[0]
    cells = {r.cell: r.status for r in result.records}
    assert cells == {1: "ok", 2: "error", 3: "ok"}, cells
    assert os.path.exists(path)
