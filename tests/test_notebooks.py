"""Every notebook in notebooks/ runs top to bottom in a Jupyter kernel, within a stated time, and
is committed executed: with outputs, stable cell ids, and outputs that still say what the code
prints and draws now.

Each notebook is executed by ``nbclient`` in a fresh ``python3`` kernel (ipykernel), as
"Restart & Run All" would, with a scratch directory as its working directory, by
``notebooks/execute.py`` (which also saves them: ``python notebooks/execute.py``). What each code
cell printed and drew is compared with the committed outputs as values (printed text, results,
the texts of SVG pictures: their labels and numbers), not pixels, with timings, speed ratios and
addresses masked. Outside CI a missing dependency (a package of the test extra, or Graphviz's
``dot`` for a notebook that draws) skips the notebook with the install command; in CI (``CI`` set)
it fails it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NEEDS = ("nbformat", "nbclient", "ipykernel", "matplotlib", "sklearn")  # the test/notebooks extras
# notebooks that call PyTorch unguarded (check_op on an op with a torch counterpart); the others
# check `torch is not None` and print how to install it
NEEDS_TORCH = {"property_tests"}

_spec = importlib.util.spec_from_file_location("notebooks_execute", ROOT / "notebooks" / "execute.py")
execute = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(execute)


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
    expected = {"01_value_and_backward", "trace_graph", "demo", "property_tests", "compile_speed", "digits",
                "diabetes", "breast_cancer", "conv_digits"}
    assert expected <= {p.stem for p in NOTEBOOKS}, sorted(expected - {p.stem for p in NOTEBOOKS})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_executed(path: Path) -> None:
    _require(path)
    import nbformat

    nb = nbformat.read(path, as_version=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cell without an id too: nbformat.validator.normalize() adds them
        nbformat.validate(nb)
    ids = [cell.id for cell in nb.cells]
    assert len(set(ids)) == len(ids), f"{path.name}: cell ids repeat"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: run it top to bottom and save it: python notebooks/execute.py {path.stem}")
    assert any(cell.outputs for cell in code), f"{path.name}: committed without outputs"


def test_comparison_masks_what_varies_and_keeps_values() -> None:
    text = "step 3: 12.5 ms, 0.31 s per epoch, 131x faster, at 0x7f3a2c1b9d60, loss 0.3125\n"
    assert execute.steady("  compiled:    0.321 ms   1.00x") == execute.steady("  compiled:   10.321 ms  11.00x")
    assert execute.steady(text) == ("step 3: <time>, <time> per epoch, <ratio> faster, at <address>, "
                                    "loss 0.3125\n")
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><g><text>data 2</text><text>grad -1.5</text>'
           '</g></svg>')
    assert execute.output_values({"output_type": "display_data", "data": {"image/svg+xml": svg}}) == [
        "svg: data 2 | grad -1.5"]
    assert execute.output_values({"output_type": "stream", "name": "stderr", "text": "100%|###|"}) == []


def test_a_print_delivered_in_pieces_compares_as_one() -> None:
    whole = [{"output_type": "stream", "name": "stdout", "text": "loss 0.25\nacc 0.5\n"}]
    pieces = [{"output_type": "stream", "name": "stdout", "text": "loss 0.2"},
              {"output_type": "stream", "name": "stderr", "text": "100%|###|"},
              {"output_type": "stream", "name": "stdout", "text": "5\nacc 0.5\n"}]
    assert execute.joined(pieces) == whole
    assert execute.joined(pieces[:1]) != whole  # (a lost piece still differs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_prints_what_is_committed(path: Path, tmp_path: Path) -> None:
    _require(path, running=True)
    import nbformat

    fresh = execute.execute(path, tmp_path)  # files it writes land in tmp (a cell past TIME_LIMIT fails it)
    committed = execute.comparable(nbformat.read(path, as_version=4))
    now = execute.comparable(fresh)
    assert len(now) == len(committed)
    for k, (old, new) in enumerate(zip(committed, now)):
        assert new == old, (f"{path.name}, code cell {k}: the committed output is not what the code "
                            f"gives now; rerun and save it: python notebooks/execute.py {path.stem}")
