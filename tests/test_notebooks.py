"""Every notebook in notebooks/ runs top to bottom, and is committed without stale outputs.

The code cells are executed in order in one namespace, as a kernel would, so the suite needs no
Jupyter install. Notebooks therefore use no IPython magics; plots use matplotlib's Agg backend.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
TIME_LIMIT = 120.0  # seconds per notebook
EXTRAS = {"matplotlib", "sklearn", "IPython"}  # what the 'notebooks' extra installs


def code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(cell["source"]) for cell in nb["cells"] if cell["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_no_stale_outputs(path: Path) -> None:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs", []) == [] and cell.get("execution_count") is None, (
                f"{path.name}: commit notebooks with outputs cleared")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)  # anything a notebook writes lands in a scratch directory
    namespace: dict = {"__name__": "__main__"}
    start = time.perf_counter()
    for i, source in enumerate(code_cells(path)):
        try:
            exec(compile(source, f"{path.name}[cell {i}]", "exec"), namespace)  # noqa: S102 (running the notebook is the test)
        except ImportError as exc:
            if (exc.name or "").split(".")[0] not in EXTRAS:
                raise
            pytest.skip(f"{path.name} needs {exc.name}: pip install -e '.[notebooks]'")
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_LIMIT, f"{path.name} took {elapsed:.0f} s (limit {TIME_LIMIT:.0f} s)"
