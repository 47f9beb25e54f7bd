"""Each bundled preset reaches a short version of its stated outcome.

Full training (the preset's own number of steps) is measured with ``python main.py train``;
here each preset runs for a fraction of it, and the outcome is checked against an
independent baseline where there is one (chance, repeating the last value, a constant guess).
"""

import numpy as np
import pytest
import torch

from playground.data import bind_inputs
from playground.files.experiment import DEFAULT_PRESET, load, preset_names, resolve
from playground.files.lessons import summary
from playground.tracing import trace
from playground.train import Trainer
from playground.train.generate import generate_text

pytestmark = pytest.mark.usefixtures("one_thread")


def run(name, steps, **data_params):
    exp = load(resolve(name), weights=False)
    if data_params:
        exp.data.setdefault("params", {}).update(data_params)
    ds = exp.make_dataset()
    trainer = Trainer(exp.build_model(), ds, exp.train, device="cpu")
    last = trainer.run(steps)
    return trainer, ds, last


def test_every_preset_teaches_one_thing():
    names = preset_names()
    assert len(names) >= 10 and DEFAULT_PRESET == "hello_rnn"
    for name in names:
        exp = load(resolve(name), weights=False)
        look_at = summary(exp.lesson, exp.what_to_look_at)     # the lesson's steps
        for text in (exp.name, exp.description, look_at, exp.outcome):
            assert len(text.strip()) >= 8, name
        assert exp.train.device == "auto"


def test_hello_rnn_predicts_ello_from_hell():
    t, ds, _ = run("hello_rnn", 150)
    b = ds.example()
    with torch.no_grad():
        logits = t.model(bind_inputs(t.model, b))[0]
    assert ds.vocab.join(ds.vocab.decode(b.inputs["x"][0])) == "hell"
    assert ds.vocab.join(ds.vocab.decode(logits.argmax(-1).numpy())) == "ello"
    assert generate_text(t.model, ds, "h", 4, greedy=True) == "ello"


def test_lstm_beats_rnn_on_the_adding_problem():
    lstm, ds, _ = run("adding_lstm", 800)
    rnn, _, _ = run("adding_rnn", 300)
    v = ds.validation()
    baseline = float(np.mean((v.targets[:, -1, 0] - 1.0) ** 2))  # always answer 1
    assert 0.12 < baseline < 0.22
    assert lstm.evaluate()["val_loss"] < 0.15 * baseline
    assert rnn.evaluate()["val_loss"] > 0.6 * baseline


def test_clipping_keeps_the_relu_rnn_finite():
    t, _, last = run("exploding_relu", 300)
    assert last.status == "diverged" and t.step < 10
    assert "loss became" in last.error or "exploded" in last.error
    assert all(bool(torch.isfinite(p).all()) for p in t.model.parameters())
    assert np.isfinite(t.evaluate()["val_loss"])
    snaps = []
    clipped_exp = load(resolve("exploding_relu_clipped"), weights=False)
    c = Trainer(clipped_exp.build_model(), clipped_exp.make_dataset(), clipped_exp.train,
                device="cpu")
    c.add_callback("on_step_end", snaps.append)
    last = c.run(150)
    clip = clipped_exp.train.clip_norm
    assert last.status == "done" and np.isfinite(c.history["loss"]).all()
    assert max(s.grad_norm for s in snaps) > 10 * clip  # it would have exploded
    assert max(s.grad_norm_clipped for s in snaps) <= clip * (1 + 1e-5)
    assert np.mean(c.history["loss"][-10:]) < 0.7 * c.history["loss"][0]


def test_lstm_remembers_across_the_delay():
    t, ds, _ = run("lstm_forget_gate", 1000, k=2, delay=10)  # a shorter delay, same model
    assert t.evaluate()["accuracy"] >= 0.9  # chance is 0.25


def test_gru_forecasts_the_sine():
    t, ds, _ = run("gru_sine", 200)
    v = ds.validation()
    persist = float(np.mean((v.inputs["x"] - v.targets) ** 2))  # repeat the last value
    assert t.evaluate()["val_loss"] < persist / 3


def test_many_to_one_classifies_the_order():
    t, _, _ = run("classify_order", 300)
    assert t.evaluate()["accuracy"] > 0.9  # chance is 0.25


def test_one_to_many_spells_every_word():
    t, ds, _ = run("spell_one_to_many", 150)
    assert t.evaluate()["sequence_accuracy"] == 1.0


def test_reverse_attention_forms_an_anti_diagonal():
    t, ds, _ = run("reverse_attention", 250)
    assert t.evaluate()["accuracy"] > 0.9
    b = ds.validation()
    tr = trace(t.model, bind_inputs(t.model, b), b.targets, b.mask)
    w = tr.layer("attention").weights[:, 0]  # (B, Tq, Tk)
    T = w.shape[-1]
    anti = np.mean([w[:, j, T - 1 - j].mean() for j in range(T)])
    assert anti > 0.5  # uniform attention would give 1/T


def test_self_attention_finds_the_key():
    t, ds, _ = run("toy_attention_heads", 150)
    assert t.evaluate()["accuracy"] > 0.9
    b = ds.validation()
    tr = trace(t.model, bind_inputs(t.model, b), b.targets, b.mask)
    x = b.inputs["x"]
    key = np.isin(x, [ds.vocab.index[k] for k in ds.target_vocab.symbols])
    last = tr.layer("attention").weights[:, :, -1, :]  # (B, heads, T)
    on_key = (last * key[:, None, :]).sum(-1).max(1).mean()
    assert on_key > 0.3  # uniform would be 1/T


def test_tbptt_learns_the_long_text():
    t, ds, _ = run("tbptt_long_text", 100)
    ids = np.concatenate([np.asarray(s) for s in ds.corpus()])
    counts = np.bincount(ids, minlength=len(ds.vocab)) / len(ids)
    unigram = float(-(counts[counts > 0] * np.log(counts[counts > 0])).sum())
    assert t.evaluate()["val_loss"] < 0.85 * unigram
    tr = t.make_trace()
    assert tr.tbptt == 16 and tr.layers[0].cut.nonzero()[0].tolist()[:2] == [16, 32]


@pytest.mark.parametrize("name", ["hello_rnn"])
def test_default_preset_loads_for_the_app(name):
    exp = load(resolve(name))
    assert exp.name and exp.build_model() is not None
