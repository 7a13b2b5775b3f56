"""saving: a model's state as a dict and as a file (micrograd.module's state_dict, micrograd.saving's
format): exact round trips, strict reading, atomic writing, and errors that name the file and
leave the model and the disk as they were."""

import json
import math
import os
from decimal import Decimal

import pytest

from micrograd.nn import MLP


def weights(model):
    return [p.data for p in model.parameters()]


def test_state_dict_round_trip_is_exact():
    a, b = MLP(2, [4, 3], rng=0), MLP(2, [4, 3], rng=1)
    a.layers[0].neurons[0].w[0].data = 0.1 + 0.2  # a float without a short decimal form
    b.load_state_dict(a.state_dict())
    assert weights(a) == weights(b)
    assert list(a.state_dict()) == [n for n, _ in a.named_parameters()]


def test_save_and_load_round_trip_is_exact(tmp_path):
    a = MLP(2, [5, 1], activation="tanh", rng=0)
    a.layers[1].neurons[0].b.data = float("nan")
    a.layers[1].neurons[0].w[0].data = float("-inf")
    path = tmp_path / "model.json"
    a.save(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "micrograd.state_dict" and doc["version"] == 1 and doc["module"] == repr(a)
    assert doc["parameters"]["layers.1.neurons.0.b"] == "nan"
    b = MLP(2, [5, 1], activation="tanh", rng=1)
    b.load(str(path))
    for x, y in zip(weights(a), weights(b)):
        assert x == y or (math.isnan(x) and math.isnan(y))


def corrupt(path, edit):
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


BAD_FILES = {
    "missing": (None, FileNotFoundError, "no saved model"),
    "not json": (lambda p: p.write_text("{not json"), ValueError, "not a micrograd model file"),
    "binary": (lambda p: p.write_bytes(b"\xff\xfe\x00garbage"), ValueError, "not a micrograd model file"),
    "truncated": (lambda p: p.write_text(p.read_text()[:200]), ValueError, "corrupt"),
    "other format": (lambda p: corrupt(p, lambda d: d.update(format="x")), ValueError, "format"),
    "future version": (lambda p: corrupt(p, lambda d: d.update(version=2)), ValueError, "version"),
    "other architecture": (lambda p: p.write_text(json.dumps({
        "format": "micrograd.state_dict", "version": 1, "module": repr(MLP(3, [4, 1], rng=0)),
        "parameters": MLP(3, [4, 1], rng=0).state_dict()})), ValueError, "another architecture"),
    "missing weight": (lambda p: corrupt(p, lambda d: d["parameters"].pop("layers.0.neurons.1.w.0")),
                       ValueError, "missing layers.0.neurons.1.w.0"),
    "extra weight": (lambda p: corrupt(p, lambda d: d["parameters"].update({"layers.0.neurons.0.w.9": 1.0})),
                     ValueError, "unexpected layers.0.neurons.0.w.9"),
    "string weight": (lambda p: corrupt(p, lambda d: d["parameters"].update({"layers.1.neurons.0.b": "one"})),
                      ValueError, "'layers.1.neurons.0.b' must be a number, got str 'one'"),
    "list weight": (lambda p: corrupt(p, lambda d: d["parameters"].update({"layers.1.neurons.0.b": [1.0]})),
                    ValueError, "must be a number, got list"),
    "no parameters": (lambda p: corrupt(p, lambda d: d.pop("parameters")), ValueError, "parameters"),
    "huge int weight": (lambda p: corrupt(p, lambda d: d["parameters"].update({"layers.1.neurons.0.b": 10 ** 400})),
                        ValueError, "'layers.1.neurons.0.b' must be within the float range"),
    # the format says what is valid (nn's docstring), and nothing else is
    "deeply nested": (lambda p: p.write_text("[" * 100000 + "]" * 100000), ValueError, "nested too deeply"),
    "bare NaN": (lambda p: corrupt(p, lambda d: d["parameters"].update({"layers.1.neurons.0.b": math.nan})),
                 ValueError, "bare NaN is not JSON"),
    "bare Infinity": (lambda p: corrupt(p, lambda d: d["parameters"].update({"layers.1.neurons.0.b": -math.inf})),
                      ValueError, "bare -Infinity is not JSON"),
    "1e400": (lambda p: corrupt_text(p, "layers.1.neurons.0.b", "1e400"), ValueError, "1e400 is beyond the float range"),
    "version true": (lambda p: corrupt(p, lambda d: d.update(version=True)), ValueError, "version True"),
    "version 1.0": (lambda p: corrupt(p, lambda d: d.update(version=1.0)), ValueError, "version 1.0"),
    "repeated key": (lambda p: corrupt_text(p, "version", "1, \"version\": 1"), ValueError, "the key 'version' is given twice"),
    "unknown key": (lambda p: corrupt(p, lambda d: d.update(comment="hi")), ValueError, "unexpected key 'comment'"),
    "number as string": (lambda p: corrupt(p, lambda d: d["parameters"].update({"layers.1.neurons.0.b": "1.5"})),
                         ValueError, "must be a number, got str '1.5'"),
    "names not strings": (lambda p: p.write_text("[]"), ValueError, "no format"),
}


def corrupt_text(path, key, text):
    """Write ``text`` as the JSON value of ``key`` (a top-level key or a parameter name)."""
    doc = json.loads(path.read_text())
    where = doc if key in doc else doc["parameters"]
    where[key] = "SLOT"
    path.write_text(json.dumps(doc).replace('"SLOT"', text))


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_raises_a_clear_error_and_leaves_the_model_untouched(tmp_path, case):
    make_bad, error, match = BAD_FILES[case]
    path = tmp_path / "model.json"
    MLP(2, [4, 1], rng=0).save(path)
    if make_bad is None:
        path.unlink()
    else:
        make_bad(path)
    model = MLP(2, [4, 1], rng=1)
    before = weights(model)
    with pytest.raises(error, match=match):
        model.load(path)
    assert weights(model) == before


@pytest.mark.parametrize("state,error,match", [
    ({}, ValueError, "missing"),
    ([1.0], TypeError, "mapping"),
    ({**MLP(2, [1], rng=0).state_dict(), "layers.0.neurons.0.b": None}, TypeError, "must be a number"),
    ({**MLP(2, [1], rng=0).state_dict(), "layers.0.neurons.0.b": Decimal("1e400")}, ValueError, "float range"),
])
def test_load_state_dict_checks_before_assigning(state, error, match):
    model = MLP(2, [1], rng=1)
    before = weights(model)
    with pytest.raises(error, match=match):
        model.load_state_dict(state)
    assert weights(model) == before


def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    MLP(2, [3, 1], rng=0).save(path)
    old = path.read_text()

    def fail(*args):
        raise OSError("disk full")
    monkeypatch.setattr("os.fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        MLP(2, [3, 1], rng=1).save(path)
    assert path.read_text() == old
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temporary file left behind


def test_a_saved_file_has_the_permissions_of_any_new_file(tmp_path):
    MLP(2, [1], rng=0).save(tmp_path / "model.json")
    (tmp_path / "plain.txt").write_text("")
    mode = (tmp_path / "plain.txt").stat().st_mode & 0o777
    assert (tmp_path / "model.json").stat().st_mode & 0o777 == mode  # not the temporary file's 0600
    (tmp_path / "model.json").chmod(0o640)
    MLP(2, [1], rng=1).save(tmp_path / "model.json")
    assert (tmp_path / "model.json").stat().st_mode & 0o777 == 0o640  # a replaced file keeps its own


@pytest.mark.parametrize("method", ["save", "load"])
def test_a_path_that_is_not_one_is_named(method):
    model = MLP(2, [1], rng=0)
    before = weights(model)
    with pytest.raises(TypeError, match="path must be a str or an os.PathLike .* got NoneType"):
        getattr(model, method)(None)
    assert weights(model) == before


def test_saving_into_a_missing_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no directory .*nowhere"):
        MLP(2, [1], rng=0).save(tmp_path / "nowhere" / "model.json")


def test_saving_into_a_read_only_directory_names_the_target_not_the_temporary_file(tmp_path, monkeypatch):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root writes anyway: make mkstemp fail as it does for anyone else
        def refused(prefix, suffix, dir):
            raise PermissionError(13, "Permission denied", os.path.join(dir, f"{prefix}x1y2{suffix}"))
        monkeypatch.setattr("tempfile.mkstemp", refused)
    try:
        with pytest.raises(PermissionError) as info:
            MLP(2, [1], rng=0).save(folder / "model.json")
    finally:
        folder.chmod(0o755)
    assert info.value.filename == str(folder / "model.json") and ".micrograd-" not in str(info.value)
    assert list(folder.iterdir()) == []


def test_a_read_only_file_is_refused_as_open_w_would_and_left_as_it_was(tmp_path):
    path = tmp_path / "model.json"
    MLP(2, [1], rng=0).save(path)
    old = path.read_text()
    path.chmod(0o444)
    with pytest.raises(PermissionError, match="not writable") as info:
        MLP(2, [1], rng=1).save(path)
    assert info.value.filename == str(path)
    assert path.read_text() == old and path.stat().st_mode & 0o777 == 0o444
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_saving_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "v1.json"
    MLP(2, [1], rng=0).save(target)
    target.chmod(0o640)
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    model = MLP(2, [1], rng=1)
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text())["parameters"] == model.state_dict()
    assert target.stat().st_mode & 0o777 == 0o640  # the target keeps its own permissions
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["v1.json"]
