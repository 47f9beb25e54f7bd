"""The trained weights that ship with every preset reach the preset's stated outcome.

Each check reads the weights file itself (``torch.load(weights_only=True)``), runs the model
on the task's held-out batch and measures accuracy, cross-entropy or MSE with plain torch,
not with the training engine's metric code; the seed's untrained initialisation must not
reach the same outcome. Retraining the fastest preset with the command line gives the
shipped weights bit for bit.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from playground import cli
from playground.files.experiment import (
    PRESETS_DIR,
    Experiment,
    load,
    preset_names,
    read_weights,
    weights_path,
)
from playground.files.trained import WeightsChoice, describe

pytestmark = pytest.mark.usefixtures("one_thread")


def shipped(name):
    """The preset, its state dict and its training record, read straight from the file."""
    exp = load(PRESETS_DIR / f"{name}.json", weights=False)
    obj = torch.load(weights_path(exp.path), map_location="cpu", weights_only=True)
    assert set(obj) == {"state", "trained"}, name
    return exp, obj["state"], obj["trained"]


def model_with(exp, state=None):
    model = exp.build_model(weights=False)
    if state is not None:
        model.load_state_dict(state)
    return model.eval()


def feed(model, batch):
    """The batch as the model's inputs: each input node takes the sequence of its role."""
    out = {}
    for nid in model.input_ids:
        x = torch.as_tensor(batch.inputs[nid if nid in batch.inputs else "x"])
        out[nid] = x.long() if not x.dtype.is_floating_point else x.float()
    return out


@torch.no_grad()
def measure(model, batch) -> dict[str, float]:
    out = model(feed(model, batch))
    y, m = torch.as_tensor(batch.targets), torch.as_tensor(batch.mask) > 0
    if out.shape[-1] == 1 and y.dtype.is_floating_point:       # values
        err = (out - y.reshape(out.shape)).pow(2).mean(-1)
        return {"mse": float(err[m].mean())}
    right = out.argmax(-1) == y
    ce = F.cross_entropy(out.transpose(1, 2), y, reduction="none")
    return {"accuracy": float(right[m].float().mean()),
            "sequences": float((right | ~m).all(1).float().mean()),
            "ce": float(ce[m].mean())}


@torch.no_grad()
def greedy(model, ds, prompt: str, n: int) -> str:
    ids = list(ds.vocab.encode(prompt))
    for _ in range(n):
        out = model({model.input_ids[0]: torch.tensor([ids])})
        ids.append(int(out[0, -1].argmax()))
    return ds.vocab.join(ds.vocab.decode(ids[len(prompt):]))


def longest_common(text: str, out: str) -> int:
    """Length of the longest piece of ``out`` found in ``text``."""
    best = 0
    for i in range(len(out)):
        while i + best < len(out) and out[i:i + best + 1] in text:
            best += 1
    return best


# name -> (the stated outcome, measured; False for the untrained initialisation)
def reaches(name, exp, model, ds, v) -> bool:
    # the concept presets of issue 13 keep their claims in tests/files/test_new_presets.py
    import test_new_presets as new
    if name in new.CLAIMS:
        return new.matches(new.measured(name, exp, model, ds), new.CLAIMS[name])
    if name == "hello_rnn":
        ex = ds.example()
        said = measure(model, ex)
        return (v["accuracy"] == 1.0 and v["ce"] < 0.01 and said["accuracy"] == 1.0
                and greedy(model, ds, "h", 4) == "ello")
    if name == "adding_lstm":
        return v["mse"] < 0.01
    if name == "adding_rnn":
        y = ds.validation().targets[:, -1, 0]
        baseline = float(np.mean((y - 1.0) ** 2))               # always answer 1
        assert 0.14 < baseline < 0.2
        return 0.14 < v["mse"] < baseline + 0.03
    if name in ("classify_order", "lstm_forget_gate", "toy_attention_heads"):
        return v["accuracy"] > 0.95
    if name == "reverse_attention":
        return v["accuracy"] > 0.97
    if name == "spell_one_to_many":
        return v["sequences"] == 1.0
    if name == "exploding_relu_clipped":
        return math.isfinite(v["ce"]) and v["ce"] < 1.0
    if name == "gru_sine":
        b = ds.validation()
        persist = float(np.mean((b.inputs["x"] - b.targets) ** 2))  # repeat the last value
        assert 0.03 < persist < 0.1
        return v["mse"] < 0.005
    if name == "tbptt_long_text":
        text = exp.data["text"]
        out = greedy(model, ds, "The gradient", 60)
        return v["ce"] < 0.5 and longest_common(text, out) >= 40
    raise AssertionError(f"no outcome check for {name}")


def explodes_on(exp, state, ds) -> bool:
    """One plain SGD step from ``state`` at the preset's rate: the next gradient explodes."""
    model = model_with(exp, state).train()
    b = ds.sample(exp.train.batch_size, np.random.default_rng(7))
    norms = []
    for _ in range(2):
        out = model(feed(model, b))
        y, m = torch.as_tensor(b.targets), torch.as_tensor(b.mask)
        loss = (F.cross_entropy(out.transpose(1, 2), y, reduction="none") * m).sum() / m.sum()
        model.zero_grad()
        loss.backward()
        norms.append(float(torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))))
        with torch.no_grad():
            for p in model.parameters():
                p -= exp.train.lr * p.grad
    return not math.isfinite(norms[1]) or norms[1] > exp.train.explode_threshold


@pytest.mark.parametrize("name", preset_names())
def test_shipped_weights_reach_the_stated_outcome(name):
    exp, state, record = shipped(name)
    ds = exp.make_dataset()
    assert record["seed"] == exp.seed and record["device"] == "cpu"
    assert sum(v.numel() for v in state.values()) * 4 < 1_000_000    # small files
    model = model_with(exp, state)
    assert all(bool(torch.isfinite(v).all()) for v in state.values())
    if name == "exploding_relu":    # the lesson: training stops at once, nothing is learnt
        assert record["status"] == "diverged" and record["steps"] < 10 and record["error"]
        assert explodes_on(exp, state, ds)
        return
    assert record["status"] == "done" and record["steps"] == exp.train.steps
    v = measure(model, ds.validation())
    assert reaches(name, exp, model, ds, v), (name, v)
    # the record the gallery shows says what the weights do
    got = record["metrics"]
    if "accuracy" in v:
        assert got["accuracy"] == pytest.approx(v["accuracy"], abs=1e-6)
        assert got["val_loss"] == pytest.approx(v["ce"], rel=1e-3, abs=1e-6)
    else:
        assert got["val_loss"] == pytest.approx(v["mse"], rel=1e-3, abs=1e-6)
    untrained = model_with(exp)
    assert not reaches(name, exp, untrained, ds, measure(untrained, ds.validation())), name


def test_retraining_the_fastest_preset_gives_the_shipped_weights(tmp_path, capsys):
    name = "hello_rnn"
    src = tmp_path / f"{name}.json"
    src.write_bytes((PRESETS_DIR / f"{name}.json").read_bytes())
    assert cli.main(["train", str(src), "--save-weights", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["saved"] == str(weights_path(src)) and out["steps"] == 300
    assert src.read_bytes() == (PRESETS_DIR / f"{name}.json").read_bytes()  # JSON untouched
    _, state, record = shipped(name)
    again = torch.load(weights_path(src), weights_only=True)
    assert again["trained"] == record
    assert again["state"].keys() == state.keys()
    for k, v in state.items():
        assert torch.equal(again["state"][k], v), k
    assert cli.main(["train", str(src), "--save-weights", "--steps", "5"]) == cli.EXIT_USAGE
    assert "--save-weights trains with the file's own settings" in capsys.readouterr().err


def test_the_record_travels_with_the_weights_and_old_files_still_load(tmp_path):
    exp, state, record = shipped("hello_rnn")
    path = tmp_path / "run.json"
    exp.weights, exp.trained = state, record
    exp.save(path)
    back = load(path)
    assert back.trained == record and describe(back.trained).startswith("trained: 300 steps")
    torch.save(state, weights_path(path))                       # a plain state dict, as before
    old = load(path)
    assert old.trained is None and read_weights(weights_path(path)).keys() == state.keys()
    assert describe(old.trained) == "trained weights (no record of their training)"
    # saving a model of unknown training keeps no record; an untrained one says so
    Experiment.save(old, path, model=old.build_model())
    assert load(path).trained is None
    assert describe({"steps": 0}) == "untrained"


def test_the_weights_choice_of_a_window():
    exp, state, record = shipped("hello_rnn")
    exp.weights, exp.trained = state, record
    w = WeightsChoice.of(exp)
    assert w.shown and w.can_switch and w.label() == describe(record) and w.base == 300
    off = w.switched(False)
    assert off.label() == "untrained" and off.base == 0 and off.to_save() == (state, record)
    assert off.switched(True).label() == w.label() and w.to_save() == (None, record)
    edited = w.after_edit(["head"])
    assert edited.label() == "trained, then edited: head starts untrained"
    assert not edited.can_switch and edited.to_save() == (None, None) and edited.base is None
    assert WeightsChoice.of(None).to_save(seed=3)[1]["steps"] == 0
