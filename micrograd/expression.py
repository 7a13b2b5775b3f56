"""Build a Value graph from an arithmetic expression in text, safely (no eval).

``evaluate("a*b + c", {"a": 2, "b": -3, "c": 10})`` parses the text with :mod:`ast` and walks
the tree, accepting only numbers, the named variables, ``+ - * / **``, unary ``-``/``+`` and calls
of the op table's unary primitives, as functions or methods (``tanh(a)``, ``(a*b).relu()``,
``leaky_relu(x, 0.2)``). Anything else is rejected with an error naming it. Each variable becomes
one leaf Value labelled with its name, so a picture shows it.
"""

from __future__ import annotations

import ast
import operator
import sys
from collections.abc import Callable, Mapping
from typing import Any

from . import ops
from .engine import Value

__all__ = ["ExpressionError", "evaluate", "functions"]

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: lambda x: x}
MAX_LENGTH = 10_000  # characters; a picture of anything longer is not readable anyway


class ExpressionError(ValueError):
    """The expression is not one this parser accepts (the message says why)."""


def functions() -> list[str]:
    """The function names an expression may call: the op table's one-argument primitives."""
    return sorted(name for name, entry in ops.OPS.items()
                  if entry.arity == 1 and (hasattr(Value, name) or isinstance(entry, ops.Op)))


def evaluate(text: str, values: Mapping[str, float]) -> Value:
    """The Value computed by ``text``, with each name in ``values`` a labelled leaf."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression too long ({len(text)} characters, at most {MAX_LENGTH})")
    text = text.strip()
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"not an expression: {text[:60]!r} ({exc.msg})") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("expression nested too deeply for Python's parser") from None
    leaves = {name: Value(float(x), label=name) for name, x in values.items()}
    allowed = set(functions())
    results: dict[int, Any] = {}
    # Evaluate children before parents with an explicit stack (deep expressions need no recursion).
    stack: list[tuple[ast.AST, bool]] = [(tree.body, False)]
    while stack:
        node, ready = stack.pop()
        if not ready:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(_operands(node, allowed, text)))
            continue
        results[id(node)] = _apply(node, results, leaves)
    out = results[id(tree.body)]
    if not isinstance(out, Value):
        out = Value(out)  # a constant expression: still a graph of one node
    return out


def _snippet(text: str, node: ast.AST, limit: int = 60) -> str:
    """The source of ``node``, cut to ``limit`` characters (no ``ast.unparse``: it recurses)."""
    source = ast.get_source_segment(text, node) or type(node).__name__
    return source if len(source) <= limit else source[:limit] + "…"


def _operands(node: ast.AST, allowed: set[str], text: str) -> list[ast.AST]:
    """The sub-expressions ``node`` needs, after checking that it is allowed."""
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return [node.operand]
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        if abs(node.value) > sys.float_info.max:  # only an int literal can be: float() would raise
            digits = _snippet(text, node, limit=1_000_000)
            shown = digits if len(digits) <= 20 else f"{digits[:12]}…{digits[-3:]}"
            unit = "digits" if digits.isdigit() else "characters"  # (0x..., 1_000...)
            raise ExpressionError(f"integer {shown} ({len(digits)} {unit}) is too large for a float "
                                  f"(at most about {sys.float_info.max:.1e})")
        return []
    if isinstance(node, ast.Name):
        return []
    if isinstance(node, ast.Call) and not node.keywords:
        func = node.func
        if isinstance(func, ast.Name) and func.id in allowed and 1 <= len(node.args) <= 2:
            return list(node.args)
        if isinstance(func, ast.Attribute) and func.attr in allowed and len(node.args) <= 1:
            return [func.value, *node.args]
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "?")
        raise ExpressionError(f"unknown function {name!r}: use one of {', '.join(sorted(allowed))}")
    raise ExpressionError(f"not allowed in an expression: {_snippet(text, node)!r} "
                          "(numbers, names, + - * / **, and unary functions only)")


def _apply(node: ast.AST, results: dict[int, Any], leaves: Mapping[str, Value]) -> Any:
    # Plain numbers combine through a Value too, so 1/0 is inf and 9**999 is inf (IEEE), not an error.
    if isinstance(node, ast.BinOp):
        left, right = results[id(node.left)], results[id(node.right)]
        if isinstance(left, Value) or isinstance(right, Value):
            return _BINARY[type(node.op)](left, right)
        return _BINARY[type(node.op)](Value(left), right).data
    if isinstance(node, ast.UnaryOp):
        operand = results[id(node.operand)]
        if isinstance(operand, Value):
            return _UNARY[type(node.op)](operand)
        return _UNARY[type(node.op)](Value(operand)).data
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, (int, float))  # (checked by _operands)
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in leaves:
            raise ExpressionError(f"unknown name {node.id!r}: give its value, e.g. --values {node.id}=1.5")
        return leaves[node.id]
    assert isinstance(node, ast.Call)
    func = node.func
    if isinstance(func, ast.Name):
        name, args = func.id, [results[id(a)] for a in node.args]
    else:
        assert isinstance(func, ast.Attribute)
        name, args = func.attr, [results[id(func.value)], *(results[id(a)] for a in node.args)]
    target = args[0] if isinstance(args[0], Value) else Value(args[0])
    consts = args[1:]
    if any(isinstance(c, Value) for c in consts):
        raise ExpressionError(f"{name}()'s second argument must be a number")
    try:
        if hasattr(Value, name):  # a method (leaky_relu takes its slope)
            return getattr(target, name)(*consts)
        return target.apply(ops.OPS[name], *consts)  # an op declared with micrograd.primitive
    except TypeError as exc:
        raise ExpressionError(f"{name}(): {exc}") from None
