"""Experiment files: schema checks with field paths, exact round trips, atomic saves, weights."""

import json
import os

import pytest
import torch

from playground.errors import FileFormatError
from playground.files import experiment as X
from playground.files.experiment import Experiment, load, weights_path
from playground.model.spec import chain
from playground.train import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**kw):
    g = chain(("x", "input", {"encoding": "onehot", "vocab_size": 4}),
              ("rnn", "rnn", {"hidden_size": 5}), ("head", "linear", {"out_features": 4}))
    base = dict(name="tiny", graph=g, data={"source": "task", "task": "hello", "seed": 0},
                train=TrainConfig(lr=0.05, steps=3, clip_norm=1.0), seed=3,
                description="d", what_to_look_at="w", outcome="o")
    base.update(kw)
    return Experiment(**base)


def write(tmp_path, data, name="e.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


def test_load_save_load_round_trips_exactly(tmp_path):
    first = small()
    a = first.save(tmp_path / "a.json")
    one = load(a)
    assert one == first and one.to_dict() == first.to_dict()
    b = one.save(tmp_path / "b.json")
    two = load(b)
    assert two == one and two.to_dict() == one.to_dict()
    assert a.read_bytes() == b.read_bytes()
    assert json.loads(a.read_text())["train"]["clip_norm"] == 1.0
    assert one.train.seed == 3  # the top-level seed drives training too


def test_every_bundled_preset_round_trips(tmp_path):
    names = X.preset_names()
    assert len(names) >= 10 and X.DEFAULT_PRESET in names
    for name in names:
        src = X.resolve(name)
        exp = load(src, weights=False)
        out = exp.save(tmp_path / f"{name}.json")
        assert out.read_bytes() == src.read_bytes(), name
        assert load(out) == exp


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["graph"]["nodes"][1]["params"].update(hidden_size=-3),
     "graph.nodes[1].params.hidden_size: must be a positive integer, got -3"),
    (lambda d: d["train"].update(lr="fast"), "train.lr: must be a positive number, got 'fast'"),
    (lambda d: d["train"].update(optimizer="lbfgs"), "train.optimizer: must be one of"),
    (lambda d: d.update(version=99), "version: version 99 is newer than this program"),
    (lambda d: d.pop("version"), "version: missing"),
    (lambda d: d.update(seed=-1), "seed: must be an integer"),
    (lambda d: d.update(name=""), "name: must not be empty"),
    (lambda d: d.update(colour="red"), "colour: unknown field"),
    (lambda d: d["train"].update(seed=1), "train.seed: set the seed once"),
    (lambda d: d.update(data=[1]), "data: must be an object"),
    (lambda d: d["data"].update(task="nope"), "data.task: unknown task 'nope'"),
    (lambda d: d["graph"]["edges"][0].update(dst="ghost"), "graph.edges[0].dst: no node"),
])
def test_errors_name_the_field_path(tmp_path, mutate, message):
    d = small().to_dict()
    mutate(d)
    p = write(tmp_path, d)
    with pytest.raises(FileFormatError) as e:
        load(p)
    assert message in str(e.value)
    assert str(e.value).startswith(str(p))


def test_unreadable_files(tmp_path):
    with pytest.raises(FileFormatError, match="file not found"):
        load(tmp_path / "missing.json")
    p = tmp_path / "bad.json"
    p.write_text("{ not json")
    with pytest.raises(FileFormatError, match="not valid JSON.*line 1"):
        load(p)
    p.write_text("[1, 2]")
    with pytest.raises(FileFormatError, match="must be a JSON object"):
        load(p)


def test_weights_are_saved_beside_and_found(tmp_path):
    exp = small()
    model = exp.build_model()
    with torch.no_grad():
        model.layers["head"].bias.fill_(0.25)
    path = exp.save(tmp_path / "run.json", model=model)
    assert weights_path(path) == tmp_path / "run.weights.pt" and weights_path(path).exists()
    back = load(path)
    again = back.build_model()
    for (k, v), w in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(v, w), k
    fresh = load(path, weights=False).build_model()
    assert not torch.equal(fresh.layers["head"].bias, model.layers["head"].bias)
    # Saving without weights removes the stale file beside it.
    load(path, weights=False).save(path)
    assert not weights_path(path).exists()


def test_weights_that_do_not_fit_are_a_clear_error(tmp_path):
    exp = small()
    path = exp.save(tmp_path / "run.json", model=exp.build_model())
    d = exp.to_dict()
    d["graph"]["nodes"][1]["params"]["hidden_size"] = 7
    path.write_text(json.dumps(d))
    with pytest.raises(FileFormatError) as e:
        load(path)
    msg = str(e.value)
    assert msg.startswith(str(weights_path(path)))
    assert "layers.rnn.rnn.weight_hh_l0 has shape (5, 5) but the model needs (7, 7)" in msg
    weights_path(path).write_bytes(b"garbage, not a torch file")
    with pytest.raises(FileFormatError, match="cannot read the weights"):
        load(path)
    torch.save({"a": 1}, weights_path(path))
    with pytest.raises(FileFormatError, match="not a state dict"):
        load(path)


def test_weights_never_execute_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    exp = small()
    path = exp.save(tmp_path / "run.json")
    torch.save({"x": Evil()}, weights_path(path))
    with pytest.raises(FileFormatError, match="cannot read the weights"):
        load(path)
    assert not (tmp_path / "pwned").exists()


def test_save_is_atomic(tmp_path, monkeypatch):
    exp = small()
    path = exp.save(tmp_path / "run.json")
    before = path.read_bytes()

    def crash(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(X.os, "replace", crash)
    with pytest.raises(OSError):
        small(name="changed").save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]  # no temp file left


def test_build_model_and_dataset_fit():
    exp = small()
    ds = exp.make_dataset()
    model = exp.build_model()
    assert model.parameter_count() > 0 and len(ds.vocab) == 4
    # The seed makes the initial weights repeatable; another seed changes them.
    assert torch.equal(exp.build_model().layers["head"].weight, model.layers["head"].weight)
    other = exp.with_seed(4).build_model()
    assert not torch.equal(other.layers["head"].weight, model.layers["head"].weight)


def test_resolve_presets_and_paths(tmp_path):
    assert X.resolve("hello_rnn") == X.PRESETS_DIR / "hello_rnn.json"
    with pytest.raises(FileFormatError, match="no file or preset named 'nope'"):
        X.resolve("nope")
    assert X.resolve(str(tmp_path / "x.json")) == tmp_path / "x.json"
