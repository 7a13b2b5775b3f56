"""The documentation site (mkdocs.yml, docs/) builds with ``mkdocs build --strict`` and covers the
library: an API page for every public module and every notebook in the navigation (the tour's
examples run in tests/test_readme.py, with the README's).

The build needs the docs extra; without it that test is skipped with the install command. The
other tests read files only.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MKDOCS_YML = (ROOT / "mkdocs.yml").read_text()
PUBLIC_MODULES = ("engine", "ops", "autograd", "func", "nn", "losses", "optim", "schedules", "data",
                  "metrics", "train", "viz", "frames", "plot", "interop", "testing", "tape")
BUILD_TIME_LIMIT = 300  # seconds: a build takes ~10 s of CPU; this only stops a hung one


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("the docs site needs the docs extra: pip install -e '.[docs]'")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # material's notice about MkDocs 2, not ours
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                          "--site-dir", str(tmp_path / "site")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIME_LIMIT)
    assert run.returncode == 0, run.stderr
    for page in ["index.html", "api/engine/index.html", "tour/value/index.html",
                 "notebooks/01_value_and_backward/index.html"]:
        assert (tmp_path / "site" / page).is_file(), page
    engine = (tmp_path / "site" / "api/engine/index.html").read_text()
    assert 'id="micrograd.engine.Value"' in engine  # the docstrings were read
    assert "&gt;&gt;&gt;" in engine and "<blockquote>" not in engine  # doctests as code, not quotes


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_module_has_an_api_page_in_the_nav(module: str) -> None:
    page = DOCS / "api" / f"{module}.md"
    assert page.read_text().startswith(f"::: micrograd.{module}\n")
    assert f"api/{module}.md" in MKDOCS_YML


@pytest.mark.parametrize("notebook", sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_every_notebook_is_a_page_in_the_nav(notebook: str) -> None:
    assert f"notebooks/{notebook}" in MKDOCS_YML, f"add notebooks/{notebook} to mkdocs.yml's nav"
    assert (DOCS / "notebooks" / notebook).is_file()  # docs/notebooks links to ../notebooks


def test_the_readme_links_into_docs_lead_somewhere() -> None:
    links = re.findall(r"\]\(((?:docs|notebooks)/[^)#]+)[^)]*\)", (ROOT / "README.md").read_text())
    assert len(links) >= 20  # pictures, tour pages, API pages
    for link in links:
        assert (ROOT / link).is_file(), link


def test_rst_docstrings_read_as_markdown() -> None:
    pytest.importorskip("griffe", reason="the docs extra: pip install -e '.[docs]'")
    spec = importlib.util.spec_from_file_location("griffe_rst_roles", DOCS / "griffe_rst_roles.py")
    extension = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extension)
    text = "See :func:`grad` and :class:`~micrograd.Value`::\n\n    f(x)\n\n>>> 1 + 1\n2\n\nEnd."
    assert extension.markdown(text) == (
        "See `grad` and `micrograd.Value`:\n\n    f(x)\n\n```pycon\n>>> 1 + 1\n2\n```\n\nEnd.")
