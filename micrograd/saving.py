"""The file a model is saved to: ``Module.save(path)`` writes it, ``Module.load(path)`` reads it.

Saved file format (JSON, UTF-8), written atomically (a temporary file, then ``os.replace``)::

    {"format": "micrograd.state_dict", "version": 1,
     "module": "MLP of [Layer of [ReLUNeuron(2), ...], ...]",
     "parameters": {"layers.0.neurons.0.w.0": 0.2345, ..., "layers.2.neurons.0.b": 0.0}}

``parameters`` maps each dotted name to its float, in ``named_parameters()`` order, then each
buffer (state that is not trained, such as BatchNorm1d's ``running_mean``, ``running_var`` and
``num_batches_tracked``, an integer) in ``named_buffers()`` order: the file holds
``state_dict()``, which holds both, as torch's does. They share one mapping rather than a key of
their own because a model without buffers then writes the very file it wrote before (version 1
stays valid both ways), and one name check on load covers both kinds. Floats are
written in Python's shortest round-trip form, so a round trip is exact; nan and +-inf are written
as the strings ``"nan"``, ``"inf"``, ``"-inf"``. ``module`` is the model's ``repr``, for readers
and for the architecture check on load. Loading checks the whole file (format, version,
architecture, names, numbers) before assigning anything, so a bad file leaves the model as it was.

A valid file is strict JSON (RFC 8259) holding one object with exactly the four keys above, each
once: ``format`` the string ``"micrograd.state_dict"``; ``version`` the integer 1 (not ``true``,
not ``1.0``); ``module`` the loading model's ``repr``; ``parameters`` an object with one entry per
parameter and buffer of the model, each a JSON number within the float range (an integer is read
as its nearest float; a counter buffer takes a whole number >= 0) or one of the three strings
above. Nothing else is valid: bare ``NaN`` /
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
import stat
import tempfile
from collections.abc import Mapping
from typing import Any

__all__ = ["FORMAT", "KEYS", "VERSION", "as_path", "read", "write"]

FORMAT, VERSION = "micrograd.state_dict", 1

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


def as_path(path: Any) -> str:
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


def write(path: str | os.PathLike[str], module: str, parameters: Mapping[str, float]) -> None:
    """Save ``parameters`` (dotted name -> float) of the model whose ``repr`` is ``module`` to
    ``path``, atomically; an error names ``path`` and leaves every file as it was."""
    doc = {"format": FORMAT, "version": VERSION, "module": module,
           "parameters": {k: _encode(v) for k, v in parameters.items()}}
    text = json.dumps(doc, indent=1, allow_nan=False)
    path = as_path(path)
    target = _save_target(path)
    try:
        _write_atomically(target, text)
    except OSError as exc:
        if exc.errno is None:
            raise
        # (the error of a step names the temporary file, which is gone: name the target)
        raise OSError(exc.errno, f"cannot save the model: {exc.strerror}", path) from None


def read(path: str | os.PathLike[str], module: str) -> dict[str, Any]:
    """The parameters saved at ``path`` (dotted name -> number) for the model whose ``repr`` is
    ``module``, after checking the whole file; a file not of this format raises ValueError."""
    path = as_path(path)
    params = _check_document(_read_json(path), path, module)
    return {k: _decode(v) for k, v in params.items()}
