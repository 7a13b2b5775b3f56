"""The package's structure: no import cycle (imports inside functions count), and no module
reads another module's underscore names."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "micrograd"
MODULES = {p.stem: ast.parse(p.read_text()) for p in PACKAGE.glob("*.py")}


def imports(tree):
    """(module imported, names imported from it) for every import of a package module, anywhere."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:  # from . import a, b
                yield from ((alias.name, ()) for alias in node.names)
            else:
                yield node.module.split(".")[0], tuple(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("micrograd."):
            yield node.module.split(".")[1], tuple(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("micrograd."):
                    yield alias.name.split(".")[1], ()


def test_the_import_graph_has_no_cycle():
    graph = {name: {m for m, _ in imports(tree) if m in MODULES and m != "__init__"}
             for name, tree in MODULES.items() if name not in ("__init__", "__main__")}
    done, path = set(), []

    def visit(name):  # the graph is a few dozen modules: recursion is fine here
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(name):] + [name]))
        if name in done:
            return
        path.append(name)
        for dep in sorted(graph.get(name, ())):
            visit(dep)
        path.pop()
        done.add(name)
    for name in sorted(graph):
        visit(name)


def test_no_module_reads_another_modules_underscore_names():
    found = []
    for name, tree in MODULES.items():
        aliases = {}
        for module, names in imports(tree):
            found += [f"{name}: from {module} import {n}" for n in names
                      if n.startswith("_") and not n.startswith("__")]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                for alias in node.names:
                    if node.module is None and alias.name in MODULES:
                        aliases[alias.asname or alias.name] = alias.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_") and not node.attr.startswith("__")):
                found.append(f"{name}: {node.value.id}.{node.attr}")
    assert not found, found
