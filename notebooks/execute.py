"""Run the notebooks and save them with their outputs: ``python notebooks/execute.py [name ...]``.

Each notebook runs top to bottom in a fresh ``python3`` kernel, as "Restart & Run All" would,
with a scratch directory as its working directory (files it writes land there), and is written
back in place with its outputs and its cell ids unchanged. With names (``demo``, ``digits.ipynb``)
only those run. ``tests/test_notebooks.py`` runs them the same way and compares what they print
and draw with what is committed, through :func:`comparable`: the values, not the pixels.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TIME_LIMIT = 600.0  # seconds per cell: a hang guard, not a speed target (a loaded machine took 125 s
# for a notebook that runs in 8 s alone); notebooks/README.md states it

# What changes from run to run without the code changing: compared as a placeholder.
VOLATILE = [
    (re.compile(r"0x[0-9a-fA-F]{6,}"), "<address>"),                                # memory addresses
    (re.compile(r"\d[\d,]*(?:\.\d+)?(?:e-?\d+)?\s?(?:s|ms|µs|us|ns|min)\b"), "<time>"),  # durations
    (re.compile(r"\d+(?:\.\d+)?\s?(?:it/s|s/it)\b"), "<rate>"),                    # tqdm rates
    (re.compile(r"\d+(?:\.\d+)?x\b"), "<ratio>"),                                   # speed ratios: 131x
]
SVG = "{http://www.w3.org/2000/svg}"


def execute(path: Path, workdir: Path | None = None) -> Any:
    """The notebook at ``path`` run in a fresh kernel (an ``nbformat`` notebook with outputs)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as scratch:
        where = str(workdir or scratch)
        client = NotebookClient(nb, timeout=TIME_LIMIT, kernel_name="python3",
                                resources={"metadata": {"path": where}})
        # the kernel imports this checkout's micrograd, whatever is installed
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), *filter(None, [os.environ.get("PYTHONPATH")])])}
        client.execute(env=env)  # raises CellExecutionError, with the cell's traceback, on any error
    return nb


def steady(text: str) -> str:
    """``text`` with its volatile parts (timings, addresses, rates) as placeholders."""
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return re.sub(r" {2,}", " ", text)  # (a padded column widens when a timing gains a digit)


def svg_texts(svg: str) -> list[str]:
    """The texts an SVG shows, in order (a graph picture's labels and numbers)."""
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def output_values(output: Any) -> list[str]:
    """What one output says, as text: printed text, a result's repr, an SVG's texts.

    Error text, stderr (progress bars, warnings), images in pixels and widget models (their ids
    are new each run) say nothing comparable; a PNG is noted as a picture, without its pixels.
    """
    kind = output.get("output_type")
    if kind == "stream":
        return [steady(output["text"])] if output.get("name") == "stdout" else []
    if kind == "error":
        return [f"error: {output.get('ename')}"]
    data = output.get("data", {})
    if "image/svg+xml" in data:
        svg = data["image/svg+xml"]
        return ["svg: " + " | ".join(steady(t) for t in svg_texts(svg if isinstance(svg, str) else "".join(svg)))]
    if "image/png" in data:
        return ["a picture (png)"]
    if "application/vnd.jupyter.widget-view+json" in data:
        return ["a widget"]
    if "text/plain" in data:
        text = data["text/plain"]
        return [steady(text if isinstance(text, str) else "".join(text))]
    return [f"{sorted(data)}"]


def joined(outputs: list[Any]) -> list[Any]:
    """The outputs with each run of printed text (stdout, stderr between its pieces skipped) as one
    stream: a busy kernel may deliver one print as several pieces, split anywhere."""
    out: list[Any] = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            continue
        if output.get("output_type") == "stream" and out and out[-1].get("output_type") == "stream":
            out[-1] = {**out[-1], "text": out[-1]["text"] + output["text"]}
        else:
            out.append(output)
    return out


def comparable(nb: Any) -> list[list[str]]:
    """Per code cell, what its outputs say (see :func:`output_values`)."""
    return [[value for output in joined(cell.outputs) for value in output_values(output)]
            for cell in nb.cells if cell.cell_type == "code"]


def main(names: list[str]) -> int:
    import nbformat

    paths = sorted(HERE.glob("*.ipynb"))
    if names:
        wanted = {Path(n).stem for n in names}
        paths = [p for p in paths if p.stem in wanted]
        if len(paths) != len(wanted):
            print(f"no such notebook: {sorted(wanted - {p.stem for p in paths})}", file=sys.stderr)
            return 2
    for path in paths:
        start = time.perf_counter()
        nb = execute(path)
        nbformat.write(nb, path)
        print(f"{path.name}: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
