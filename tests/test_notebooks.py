"""Every notebook in notebooks/ runs top to bottom in a Jupyter kernel, within a stated time, and
is committed valid and without stale outputs.

Each notebook is executed by ``nbclient`` in a fresh ``python3`` kernel (ipykernel), as
"Restart & Run All" would, with a scratch directory as its working directory. Outside CI a missing
dependency (a package of the test extra, or Graphviz's ``dot`` for a notebook that draws) skips the
notebook with the install command; in CI (``CI`` set) it fails it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
import warnings
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
TIME_LIMIT = 120.0  # seconds per notebook, kernel start included; notebooks/README.md states it
NEEDS = ("nbformat", "nbclient", "ipykernel", "matplotlib", "sklearn")  # the test/notebooks extras
# notebooks that call PyTorch unguarded (check_op on an op with a torch counterpart); the others
# check `torch is not None` and print how to install it
NEEDS_TORCH = {"property_tests"}


def _require(path: Path, *, running: bool = False) -> None:
    """Skip (fail in CI) a notebook whose dependencies are missing, naming them (torch: to run it)."""
    missing = [name for name in NEEDS if importlib.util.find_spec(name) is None]
    if running and path.stem in NEEDS_TORCH and importlib.util.find_spec("torch") is None:
        missing.append("torch")
    if "draw_dot" in path.read_text() and shutil.which("dot") is None:
        missing.append("Graphviz's dot program (apt-get install graphviz)")
    if missing:
        message = f"{path.name} needs {', '.join(missing)} (pip install -e '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def test_the_teaching_notebooks_are_there() -> None:
    expected = {"01_value_and_backward", "trace_graph", "demo", "property_tests", "compile_speed", "digits"}
    assert expected <= {p.stem for p in NOTEBOOKS}, sorted(expected - {p.stem for p in NOTEBOOKS})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_valid_without_outputs(path: Path) -> None:
    _require(path)
    import nbformat

    nb = nbformat.read(path, as_version=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cell without an id too: nbformat.validator.normalize() adds them
        nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}, cell {i}: commit notebooks with outputs cleared")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    _require(path, running=True)
    import nbformat
    from nbclient import NotebookClient

    client = NotebookClient(nbformat.read(path, as_version=4), timeout=TIME_LIMIT, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})  # files land in tmp
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the cell's traceback, on any error
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_LIMIT, f"{path.name} took {elapsed:.0f} s (limit {TIME_LIMIT:.0f} s)"
