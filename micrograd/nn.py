"""Neural-net modules on top of Value, with karpathy's micrograd surface.

``Neuron``, ``Layer`` and ``MLP`` behave like micrograd's by default: weights drawn from
uniform(-1, 1) with the global ``random`` module, bias 0, ReLU on every layer but the last. They
go further with keyword arguments: an activation per layer, an init scheme and a seed::

    MLP(2, [16, 16, 3], activation="tanh", init="xavier", rng=0)

Every module has ``parameters()``, ``named_parameters()`` (dotted names such as
``layers.0.neurons.3.w.1``), ``zero_grad()``, ``train()`` / ``eval()``, ``state_dict()`` /
``load_state_dict()`` and ``save(path)`` / ``load(path)``.

Every ``Layer`` and ``MLP`` call is recorded for graph pictures (``micrograd.provenance``: about
1 µs per MLP call, dropped with the graph), whatever else is imported.

Saved file format (JSON, UTF-8), written atomically (a temporary file, then ``os.replace``)::

    {"format": "micrograd.state_dict", "version": 1,
     "module": "MLP of [Layer of [ReLUNeuron(2), ...], ...]",
     "parameters": {"layers.0.neurons.0.w.0": 0.2345, ..., "layers.2.neurons.0.b": 0.0}}

``parameters`` maps each dotted name to its float, in ``named_parameters()`` order. Floats are
written in Python's shortest round-trip form, so a round trip is exact; nan and +-inf are written
as the strings ``"nan"``, ``"inf"``, ``"-inf"``. ``module`` is the model's ``repr``, for readers
and for the architecture check on load. Loading checks the whole file (format, version,
architecture, names, numbers) before assigning anything, so a bad file leaves the model as it was.

A valid file is strict JSON (RFC 8259) holding one object with exactly the four keys above, each
once: ``format`` the string ``"micrograd.state_dict"``; ``version`` the integer 1 (not ``true``,
not ``1.0``); ``module`` the loading model's ``repr``; ``parameters`` an object with one entry per
parameter of the model, each a JSON number within the float range (an integer is read as its
nearest float) or one of the three strings above. Nothing else is valid: bare ``NaN`` /
``Infinity`` tokens (Python's json extension), numbers that overflow a float (``1e400``), a key
given twice, other keys, other strings. Every such file raises ValueError naming the file.

``save`` writes atomically: a temporary file beside the target, then ``os.replace``. A symbolic
link is followed: the file it points to is replaced and the link stays. An existing file keeps its
permissions, and one that is not writable (0444) is refused with PermissionError, as
``open(path, "w")`` would, rather than silently replaced; errors name the target, never the
temporary file, and leave no temporary file behind.
"""

from __future__ import annotations

import errno
import json
import math
import os
import random
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import methodcaller
from typing import Any

from . import modes, provenance
from .engine import Value, gc_paused
from .scalars import describe, is_real, to_float

__all__ = ["ACTIVATIONS", "INITS", "MLP", "Dropout", "Layer", "Module", "Neuron", "Sequential"]

Input = Sequence[Value | float]
Rng = random.Random | int | None

#: Activation name -> the function applied to a neuron's w . x + b.
#: Method calls (not ``Value.relu``), so duck-typed scalars work too; methodcaller adds no frame.
ACTIVATIONS: dict[str, Callable[[Value], Value]] = {
    "relu": methodcaller("relu"),
    "leaky_relu": methodcaller("leaky_relu"),  # slope 0.01, as torch.nn.LeakyReLU
    "tanh": methodcaller("tanh"),
    "sigmoid": methodcaller("sigmoid"),
    "linear": lambda v: v,
}
_REPR_NAMES = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "tanh": "Tanh", "sigmoid": "Sigmoid",
               "linear": "Linear"}

#: Init scheme -> the bound a of uniform(-a, a), from fan-in and fan-out.
INITS: dict[str, Callable[[int, int], float]] = {
    "uniform": lambda fan_in, fan_out: 1.0,                           # micrograd's uniform(-1, 1)
    "xavier": lambda fan_in, fan_out: math.sqrt(6.0 / (fan_in + fan_out)),  # Var = 2 / (in + out)
    "he": lambda fan_in, fan_out: math.sqrt(6.0 / fan_in),            # Var = 2 / fan_in
    "lecun": lambda fan_in, fan_out: math.sqrt(3.0 / fan_in),         # Var = 1 / fan_in
}
INITS["glorot"] = INITS["xavier"]
INITS["kaiming"] = INITS["he"]

FORMAT, VERSION = "micrograd.state_dict", 1


def _rng(rng: Rng) -> Any:
    """A random.Random for a seed, the given one as is, or the global ``random`` module for None."""
    if rng is None or rng is random:
        return random  # micrograd draws from the global generator: random.seed() reproduces it
    if isinstance(rng, random.Random):
        return rng
    if isinstance(rng, int) and not isinstance(rng, bool):
        return random.Random(rng)
    raise TypeError(f"rng must be None, an int seed or a random.Random, got {type(rng).__name__}")


MAX_SIZE = 10 ** 6  # inputs of a neuron, neurons of a layer: a Value is ~100 bytes, so 10**6 is ~100 MB


def _check_size(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SIZE:
        raise ValueError(f"{what} must be a positive int of at most {MAX_SIZE:,}, got {describe(n)}")
    return n


def _check_activation(name: Any) -> str:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
    return name


class Module:
    """Base class: a module owns parameters (Values) and is called to run forward.

    ``named_parameters()`` finds parameters in the instance's attributes, in the order they were
    set: a Value, a list of Values, a Module or a list of Modules. Subclasses may override
    ``parameters()`` for speed, keeping the same order.
    """

    training: bool = True  # set per instance by train() / eval()

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0."""
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self) -> list[Value]:
        """All trainable Values of this module, in a fixed order."""
        return [p for _, p in self.named_parameters()]

    def named_parameters(self) -> list[tuple[str, Value]]:
        """(dotted name, Value) for every parameter, e.g. ``('layers.0.neurons.3.w.1', w)``.

        A parameter shared by several places (the same layer twice in a Sequential) is listed once,
        under its first name, as torch's ``named_parameters()``: an optimiser must step it once.
        """
        out: list[tuple[str, Value]] = []
        seen: set[int] = set()
        stack: list[tuple[str, Any]] = [("", self)]
        while stack:  # depth-first, in attribute order, without recursion
            prefix, obj = stack.pop()
            if isinstance(obj, Value):
                if id(obj) not in seen:
                    seen.add(id(obj))
                    out.append((prefix, obj))
                continue
            items = (vars(obj).items() if isinstance(obj, Module)
                     else ((str(i), x) for i, x in enumerate(obj)))
            children = [(f"{prefix}.{name}" if prefix else name, x) for name, x in items if _holds_parameters(x)]
            stack.extend(reversed(children))
        return out

    def modules(self) -> Iterator[Module]:
        """This module and every module inside it, depth first."""
        stack: list[Any] = [self]
        while stack:
            obj = stack.pop()
            if isinstance(obj, Module):
                yield obj
                stack.extend(reversed([x for x in vars(obj).values() if _holds_modules(x)]))
            else:
                stack.extend(reversed([x for x in obj if _holds_modules(x)]))

    def train(self, mode: bool = True) -> Module:
        """Put this module and all inside it in training mode (Dropout active); returns self."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Put this module and all inside it in evaluation mode (Dropout off); returns self."""
        return self.train(False)

    def __repr__(self) -> str:
        """The structure: ``Name(attr=<module repr>, weights=[3 Values], ...)``."""
        parts = []
        for name, x in vars(self).items():
            if isinstance(x, Value):
                parts.append(f"{name}=Value")
            elif isinstance(x, Module):
                parts.append(f"{name}={x!r}")
            elif _holds_parameters(x) and isinstance(x[0], Value):
                parts.append(f"{name}=[{len(x)} Values]")
            elif _holds_parameters(x):
                parts.append(f"{name}=[{', '.join(repr(m) for m in x)}]")
        return f"{type(self).__name__}({', '.join(parts)})"

    # -- saving and loading ------------------------------------------------------------------
    def state_dict(self) -> dict[str, float]:
        """{dotted name: float} for every parameter, in ``named_parameters()`` order."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Set every parameter from ``state``; checks everything first, so an error changes nothing."""
        named = self.named_parameters()
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a mapping of parameter names to numbers, got {type(state).__name__}")
        missing = [n for n, _ in named if n not in state]
        unexpected = [n for n in state if n not in dict(named)]
        if missing or unexpected:
            raise ValueError("the state does not fit this model (another architecture?): "
                             + "; ".join(part for part in (_some("missing", missing), _some("unexpected", unexpected))
                                         if part))
        values = []
        for name, _ in named:
            x = state[name]
            if isinstance(x, bool) or not is_real(x):
                raise TypeError(f"parameter {name!r} must be a number, got {type(x).__name__} {describe(x)}")
            values.append(to_float(x, f"parameter {name!r}"))  # the number rule of micrograd.scalars
        for (_, p), x in zip(named, values):
            p.data = x

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the parameters to ``path`` as JSON, atomically (format, links and read-only files:
        the module docstring). An error names ``path`` and leaves every file as it was."""
        doc = {"format": FORMAT, "version": VERSION, "module": repr(self),
               "parameters": {k: _encode(v) for k, v in self.state_dict().items()}}
        text = json.dumps(doc, indent=1, allow_nan=False)
        path = _path(path)
        target = _save_target(path)
        try:
            _write_atomically(target, text)
        except OSError as exc:
            if exc.errno is None:
                raise
            # (the error of a step names the temporary file, which is gone: name the target)
            raise OSError(exc.errno, f"cannot save the model: {exc.strerror}", path) from None

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read parameters saved by ``save``; any problem raises and leaves the model untouched.

        A file that is not exactly the format of the module docstring raises ValueError
        (a missing one FileNotFoundError).
        """
        path = _path(path)
        params = _check_document(_read_json(path), path, repr(self))
        try:  # load_state_dict checks every name and number before assigning any
            self.load_state_dict({k: _decode(v) for k, v in params.items()})
        except TypeError as exc:  # a value that is not a number: bad file content
            raise ValueError(f"{path!r}: {exc}") from None


KEYS = ("format", "version", "module", "parameters")  # a saved file's keys, all required, no others


def _read_json(path: str) -> Any:
    """The JSON document in the file, strictly: no bare NaN/Infinity, no number beyond the float
    range, no key twice in an object; any of those, or not JSON, is a ValueError naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f, parse_constant=_bare_constant, parse_float=_finite_float,
                             object_pairs_hook=_unique_keys)
    except FileNotFoundError:
        raise FileNotFoundError(f"no saved model at {path!r}") from None
    except (RecursionError, MemoryError):  # json's parser recurses once per nesting level
        raise ValueError(f"{path!r} is not a micrograd model file (JSON nested too deeply)") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path!r} is not a micrograd model file (corrupt or not JSON): {exc}") from None


def _bare_constant(token: str) -> Any:
    raise ValueError(f"bare {token} is not JSON (a saved model writes non-finite numbers as strings)")


def _finite_float(token: str) -> float:
    x = float(token)
    if not math.isfinite(x):
        raise ValueError(f"the number {_short(token)} is beyond the float range")
    return x


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise ValueError(f"the key {_short(key)!r} is given twice in one object")
        doc[key] = value
    return doc


def _check_document(doc: Any, path: str, module: str) -> dict[str, Any]:
    """The ``parameters`` mapping of a saved model, after checking the rest of the document."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a micrograd model file (no format {FORMAT!r})")
    version = doc.get("version")
    if type(version) is not int or version != VERSION:
        raise ValueError(f"{path!r} has format version {_short(repr(version))}; this micrograd reads {VERSION}")
    unknown = [k for k in doc if k not in KEYS]
    if unknown:
        raise ValueError(f"{path!r} has the unexpected key {_short(unknown[0])!r} (a saved model has "
                         f"{', '.join(KEYS)} only)")
    if doc.get("module") != module:
        raise ValueError(f"{path!r} holds another architecture: {_short(doc.get('module'))}, "
                         f"not {_short(module)}")
    params = doc.get("parameters")
    if not isinstance(params, dict):
        raise ValueError(f"{path!r} has no 'parameters' mapping")  # noqa: TRY004 (bad file content)
    return params


def _inputs(x: Any, nin: int) -> list[Any]:
    """The inputs as a list (a one-neuron layer returns a bare Value); a clear error for a wrong size."""
    if isinstance(x, (Value, int, float)) and nin == 1:
        return [x]
    if hasattr(x, "__len__") and len(x) == nin:
        return list(x)
    got = f"{len(x)} values" if hasattr(x, "__len__") else f"a {type(x).__name__}"
    raise ValueError(f"a neuron with {nin} inputs got {got}")


def _bad_input(x: Any, exc: Exception) -> Exception:
    """The error for inputs a forward pass failed on: the first input that is not a Value or a
    real number in the float range, named; else the original error."""
    items = [x] if isinstance(x, (Value, int, float)) else list(x) if hasattr(x, "__iter__") else []
    for i, xi in enumerate(items):
        if not isinstance(xi, Value):
            try:
                to_float(xi, f"input {i}")
            except (TypeError, ValueError) as bad:
                return type(bad)(f"{bad} (inputs are Values or real numbers, one per input of the model)")
    return exc


def _holds_parameters(x: Any) -> bool:
    return isinstance(x, (Value, Module)) or (
        isinstance(x, (list, tuple)) and bool(x) and all(isinstance(i, (Value, Module)) for i in x))


def _holds_modules(x: Any) -> bool:
    return isinstance(x, Module) or (isinstance(x, (list, tuple)) and any(isinstance(i, Module) for i in x))


def _some(what: str, names: list[str]) -> str:
    if not names:
        return ""
    more = f" (and {len(names) - 3} more)" if len(names) > 3 else ""
    return f"{what} {', '.join(names[:3])}{more}"


def _short(text: Any, limit: int = 80) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _file_mode(path: str) -> int:
    """The mode open(path, 'w') leaves: an existing file's own, else 0o666 less the process's umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        pass
    umask = os.umask(0o022)  # (reading the umask means setting it: put it straight back)
    os.umask(umask)
    return 0o666 & ~umask


def _path(path: Any) -> str:
    """``path`` as a str; a TypeError naming it for anything but a str or os.PathLike."""
    if not isinstance(path, (str, os.PathLike)):  # (bytes too would need os.fsdecode everywhere)
        raise TypeError(f"path must be a str or an os.PathLike (pathlib.Path), got {type(path).__name__}")
    return os.fspath(path)


def _save_target(path: str) -> str:
    """The file ``save`` replaces: ``path``, or the file a symbolic link at ``path`` points to."""
    target = os.path.realpath(path)  # a link is followed, as open(path, "w") follows it
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):  # else mkstemp's error names the temporary file
        raise FileNotFoundError(errno.ENOENT, f"cannot save the model: no directory {directory!r}", path)
    if os.path.exists(target) and not (os.access(target, os.W_OK) and os.stat(target).st_mode & 0o222):
        # open(path, "w") refuses it (root aside: a file no one may write is refused for root too)
        raise PermissionError(errno.EACCES, "cannot save the model over a file that is not writable", path)
    return target


def _write_atomically(target: str, text: str) -> None:
    """Write ``text`` to a temporary file beside ``target``, then move it into place."""
    fd, tmp = tempfile.mkstemp(prefix=".micrograd-", suffix=".tmp", dir=os.path.dirname(target))
    try:
        os.chmod(tmp, _file_mode(target))  # mkstemp's 0600 would make the saved model private
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)  # atomic: the old file stays whole until the new one is complete
    except BaseException:
        os.unlink(tmp)
        raise


def _encode(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)  # 'nan', 'inf', '-inf': JSON has no such numbers


def _decode(x: Any) -> Any:
    """The number a saved value stands for; anything else is left for load_state_dict to reject."""
    return float(x) if isinstance(x, str) and x in ("nan", "inf", "-inf") else x


class Neuron(Module):
    """y = act(w . x + b): ReLU by default, w . x + b when ``nonlin`` is False.

    ``activation`` (one of :data:`ACTIVATIONS`) overrides ``nonlin``. Weights are drawn from
    uniform(-a, a) with a given by ``init`` (one of :data:`INITS`; ``fan_out`` matters for xavier
    only), from ``rng`` (a seed, a random.Random, or None for the global ``random`` module).
    """

    def __init__(self, nin: int, nonlin: bool = True, *, activation: str | None = None,
                 init: str = "uniform", rng: Rng = None, fan_out: int = 1) -> None:
        _check_size(nin, "nin")
        _check_size(fan_out, "fan_out")  # (xavier's sqrt(6 / (nin + fan_out)) of a negative: math domain error)
        activation = ("relu" if nonlin else "linear") if activation is None else activation
        _check_activation(activation)
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose from {sorted(INITS)}")
        draw, bound = _rng(rng).uniform, INITS[init](nin, fan_out)
        self.w = [Value(draw(-bound, bound)) for _ in range(nin)]
        self.b = Value(0.0)
        self.activation = activation

    @property
    def nonlin(self) -> bool:
        """micrograd's flag: True unless the neuron is linear."""
        return self.activation != "linear"

    def __call__(self, x: Input) -> Value:
        try:
            out = self._forward(x)
        except (TypeError, ValueError, OverflowError) as exc:  # a str or a 10**400 among the inputs: name it
            raise _bad_input(x, exc) from None
        provenance.record(self, x, out)  # called on its own: pictures draw w and b as parameters
        return out

    def _forward(self, x: Input) -> Value:  # for Layer, which records its neurons' calls itself
        if type(x) is not list or len(x) != len(self.w):  # a bare Value, a tuple, an array, a mistake
            x = _inputs(x, len(self.w))
        act = self.b  # the same sum as micrograd's sum(wi*xi ..., b), as a plain loop (faster)
        for wi, xi in zip(self.w, x):
            act = act + wi * xi
        return ACTIVATIONS[self.activation](act)

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"{_REPR_NAMES[self.activation]}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same input; a one-neuron layer returns a bare Value."""

    def __init__(self, nin: int, nout: int, **kwargs: Any) -> None:
        _check_size(nout, "nout")
        kwargs["rng"] = _rng(kwargs.get("rng"))  # one generator for all the neurons
        self.neurons = [Neuron(nin, fan_out=nout, **kwargs) for _ in range(nout)]

    def __call__(self, x: Input) -> Value | list[Value]:
        try:
            out = [n._forward(x) for n in self.neurons]
        except (TypeError, ValueError, OverflowError) as exc:
            raise _bad_input(x, exc) from None
        provenance.record(self, x, out)  # which Values this call made, for graph pictures
        return out[0] if len(out) == 1 else out

    def _forward(self, x: Input) -> list[Value]:  # for MLP, which records its layers' calls itself
        return [n._forward(x) for n in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """Layers of sizes ``[nin] + nouts``: ReLU between them, the last layer linear.

    ``activation`` is the hidden layers' activation (a name), or a list with one name per layer
    (the last one included). ``init`` and ``rng`` are passed to every :class:`Neuron`.
    """

    def __init__(self, nin: int, nouts: Sequence[int], *, activation: str | Sequence[str] = "relu",
                 init: str = "uniform", rng: Rng = None) -> None:
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence):
            raise TypeError(f"nouts must be a list of layer sizes, e.g. [16, 16, 1], got {type(nouts).__name__} "
                            f"{describe(nouts)}")
        sz = [_check_size(nin, "nin")] + [_check_size(n, "layer size") for n in nouts]
        if not nouts:
            raise ValueError("an MLP needs at least one layer size in nouts")
        if isinstance(activation, str):
            acts = [_check_activation(activation)] * (len(nouts) - 1) + ["linear"]
        elif isinstance(activation, Sequence) and len(activation) == len(nouts):
            acts = [_check_activation(a) for a in activation]
        else:
            raise ValueError(f"activation: give one name, or one per layer ({len(nouts)}), got {activation!r}")
        rng = _rng(rng)
        self.layers = [Layer(sz[i], sz[i + 1], activation=acts[i], init=init, rng=rng)
                       for i in range(len(nouts))]

    def __call__(self, x: Input) -> Value | list[Value]:
        inputs = x
        with gc_paused():  # the graph built here has no cycles: spare the collector's rescans
            if any(type(layer).__call__ is not Layer.__call__ for layer in self.layers):
                for layer in self.layers:  # a subclass's own __call__ runs (and records itself)
                    x = layer(x)  # type: ignore[assignment]
                provenance.record(self, inputs, x)  # type: ignore[arg-type]
                return x  # type: ignore[return-value]
            outs = []
            try:
                x = self.layers[0]._forward(x)  # type: ignore[assignment]
            except (TypeError, ValueError, OverflowError) as exc:  # a str or a 10**400 among the inputs: name it
                raise _bad_input(x, exc) from None
            outs.append(x)
            for layer in self.layers[1:]:
                x = layer._forward(x)  # type: ignore[assignment]
                outs.append(x)
        # for pictures: one store for the whole call, its layers' calls inside (Values all new)
        provenance.record_layers(self, inputs, self.layers, outs)  # type: ignore[arg-type]
        return x[0] if len(x) == 1 else x  # type: ignore[return-value]

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Layer(2, 16), Dropout(0.2), Layer(16, 1))``."""

    def __init__(self, *layers: Module) -> None:
        for m in layers:
            if not isinstance(m, Module):  # a plain function would hide every parameter of the list
                raise TypeError(f"Sequential takes modules, got {type(m).__name__} "
                                f"(give a function a Module subclass of its own)")
        self.layers = list(layers)

    def __call__(self, x: Input) -> Value | list[Value]:
        with gc_paused():
            for layer in self.layers:
                x = layer(x)  # type: ignore[operator]
        return x  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Sequential({', '.join(str(m) for m in self.layers)})"


class Dropout(Module):
    """In training mode, zero each input with probability p and scale the rest by 1 / (1 - p).

    The mask is drawn from the module's own ``random.Random`` (``rng``: a seed or a generator) as
    plain numbers, so each output is its input times a constant. In eval mode it is the identity.
    ``micrograd.compile`` refuses it in training mode (a tape would replay one mask for every
    sample and call).
    """

    def __init__(self, p: float = 0.5, *, rng: Rng = None) -> None:
        if isinstance(p, bool) or not is_real(p) or not 0.0 <= to_float(p, "p") <= 1.0:
            raise ValueError(f"dropout probability must be a number in [0, 1], got {describe(p)}")
        self.p = to_float(p, "p")
        self.rng = rng if isinstance(rng, random.Random) else random.Random(rng)

    def __call__(self, x: Any) -> Any:
        if not self.training or self.p == 0.0:
            return x
        hook = modes.tracer()
        if hook is not None:  # micrograd.compile is tracing: a tape would replay one mask forever
            hook(self, "Dropout")
        keep = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        draw = self.rng.random
        if isinstance(x, (list, tuple)):
            return [xi * (keep if draw() >= self.p else 0.0) for xi in x]
        return x * (keep if draw() >= self.p else 0.0)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p:g})"
