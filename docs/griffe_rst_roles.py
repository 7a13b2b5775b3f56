"""Read micrograd's reStructuredText-flavoured docstrings as Markdown, for the API pages.

The docstrings are written to read well in ``help()``: ``:func:`name``` roles, ``::`` before an
indented example, and doctest lines (``>>> ...``) that pytest runs. Markdown would print the roles
as typed, keep the ``::`` and turn ``>>>`` into nested block quotes. This griffe extension
(mkdocs.yml names it) rewrites each docstring's text before it is rendered; the source is untouched:

- ``:func:`x```, ``:class:`x``` and the other roles become the code span ``x``;
- a paragraph ending in ``::`` ends in ``:`` (its indented block is already a Markdown code block);
- each run of doctest lines, up to the next blank line, becomes a fenced ``pycon`` block.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:func|class|meth|data|attr|mod|exc|obj):`~?([^`]+)`")


def markdown(text: str) -> str:
    """The docstring ``text`` with roles, ``::`` and doctest runs rewritten as Markdown."""
    text = ROLE.sub(r"`\1`", text)
    text = re.sub(r"(?<=\S)::$", ":", text, flags=re.M)
    out: list[str] = []
    in_doctest = False
    for line in text.split("\n"):
        starts = line.lstrip().startswith(">>>")
        if starts and not in_doctest:
            out.append("```pycon")
            in_doctest = True
        elif in_doctest and not line.strip():
            out.append("```")
            in_doctest = False
        out.append(line)
    if in_doctest:
        out.append("```")
    return "\n".join(out)


class RstRoles(griffe.Extension):
    """Rewrites every object's docstring with :func:`markdown` once griffe has loaded it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
