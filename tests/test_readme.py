"""The README's Python examples run, and print what their comments say."""

import contextlib
import io
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
EXCERPTS = [b for b in BLOCKS if "enter(Op(" in b and "import" not in b]  # shown for reading, not run
EXAMPLES = [b for b in BLOCKS if b not in EXCERPTS]


def test_readme_has_examples():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("source", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_readme_example_prints_what_it_says(source):
    expected = [m.group(1) for m in re.finditer(r"# prints (.*)$", source, flags=re.M)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<README.md>", "exec"), {"__name__": "readme"})
    assert out.getvalue().splitlines() == expected


def test_readme_ops_excerpt_is_the_real_declaration():
    (excerpt,) = EXCERPTS
    ops_source = (README.parent / "micrograd" / "ops.py").read_text()
    assert excerpt.strip() in ops_source
