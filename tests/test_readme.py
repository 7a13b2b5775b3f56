"""The Python examples of the README and of the tour (docs/tour/*.md) run as a newcomer runs
them, and print what their comments say.

Each example is written to a file of its own and run with ``python file.py`` in a fresh process,
in an empty directory, with no conftest, no hypothesis profile and no ``CI`` variable (hypothesis
reads that one): what a reader who copies the block gets. A block that begins with
``# excerpt from <path>`` is shown for reading: it must be that file's text, word for word.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs" / "tour").glob("*.md"))]


def python_blocks(path: pathlib.Path) -> list[str]:
    """The fenced ```python blocks of a Markdown file."""
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


README_BLOCKS = python_blocks(README)
# every block once (the README repeats some of the tour's), README's first
BLOCKS = list(dict.fromkeys(b for page in PAGES for b in python_blocks(page)))
EXCERPT = re.compile(r"# excerpt from (\S+)\n")
EXCERPTS = [b for b in BLOCKS if EXCERPT.match(b)]
EXAMPLES = [b for b in BLOCKS if not EXCERPT.match(b)]


def newcomer_env():
    """This environment less what a test run adds; the checkout first on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE", "PYTEST_CURRENT_TEST")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def test_readme_and_tour_have_examples():
    assert len([b for b in README_BLOCKS if not EXCERPT.match(b)]) >= 5
    assert len(EXAMPLES) >= 15  # the tour's too


@pytest.mark.parametrize("source", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_readme_example_prints_what_it_says(source, tmp_path, request):
    if "torch" in source:  # it compares with PyTorch (imports it, or declares an op's torch counterpart)
        request.getfixturevalue("torch")  # skips, with the install command, when PyTorch is missing
    expected = [m.group(1) for m in re.finditer(r"# prints (.*)$", source, flags=re.M)]
    (tmp_path / "example.py").write_text(source)
    run = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=newcomer_env(),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == expected


@pytest.mark.parametrize("source", EXCERPTS, ids=[f"excerpt{i}" for i in range(len(EXCERPTS))])
def test_readme_excerpt_is_the_files_text(source):
    path, body = EXCERPT.match(source).group(1), EXCERPT.sub("", source, count=1)
    assert body.strip() in (ROOT / path).read_text()


def test_the_docs_have_an_excerpt_of_the_op_table():
    assert any(EXCERPT.match(b).group(1) == "micrograd/ops.py" for b in EXCERPTS)


def test_the_readme_lists_what_compile_refuses():
    """Every kind of refusal tests/test_tape.py checks (ESCAPES and the tests after it) has its
    place in the README's list, which a reader meets before compile's error does."""
    text = README.read_text().split("Compile refuses, naming the line:")[1].split("\n\n")[0]
    for item in ["`max`", "`sorted`", "`math.exp(v)`", "`np.maximum(v, 0)`", "comparisons", "`x.data > 0`",
                 "`Value(x.data)`", "`np.tanh(x.data)`", "`detach()`", "`Dropout` in training mode",
                 "differs between its two traces", "own `_backward`"]:
        assert item in text, item
