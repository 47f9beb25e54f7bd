"""The Generate dock as a user drives it: what it shows equals independent references run
on the window's model (full forward passes, exhaustive search), "Use as input" steps
through the generated sequence, and opening another experiment resets the dock."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from PySide6 import QtCore, QtWidgets

from playground.files.experiment import Experiment, resolve
from playground.model.spec import chain
from playground.train import TrainConfig
from ui.testing import close_window, make_window, no_running_qt  # noqa: F401

LEFT = QtCore.Qt.MouseButton.LeftButton


@pytest.fixture
def win(tmp_path, qtbot):
    w = make_window(tmp_path, str(resolve("hello_rnn")))
    yield w
    close_window(w)


def panel_of(win):
    return win.dock_widget("generate", show=True)


def run(qtbot, panel, **options):
    """Set the options as a user would, press Generate and wait for the result."""
    for key, value in options.items():
        w = getattr(panel, key)
        if key == "mode":
            w.setCurrentIndex(w.findData(value))
        elif key == "prompt":
            w.setText(value)
        else:
            w.setValue(value)
    with qtbot.waitSignal(panel.job.ready, timeout=30_000):
        qtbot.mouseClick(panel.generate_btn, LEFT)
    QtWidgets.QApplication.processEvents()
    return panel.result


def greedy_reference(model, ids, length):
    """Full forward passes on the growing sequence, the argmax of the last step each time."""
    seq = list(ids)
    with torch.no_grad():
        for _ in range(length):
            seq.append(int(model(torch.tensor([seq]))[0, -1].argmax()))
    return seq[len(ids):]


def test_greedy_output_is_the_full_forward_argmax(win, qtbot):
    p, c = panel_of(win), win.controller
    assert p.prompt.text() == "h" and p.length.value() == 4
    assert not p.temperature.isEnabled() and not p.beam_width.isEnabled()
    g = run(qtbot, p, prompt="hel", length=6, mode="greedy")
    ds = c.dataset
    want = greedy_reference(c.model.eval(), ds.vocab.encode("hel"), 6)
    assert list(g.continuation) == ds.vocab.decode(want)
    html = p.output.toHtml()
    assert "hel" in html and "".join(g.continuation) in html   # prompt, then what it wrote
    assert not p.error.isVisible() and p.use_btn.isEnabled()


def test_beam_on_hello_is_the_exhaustive_best(win, qtbot):
    p, c = panel_of(win), win.controller
    p.mode.setCurrentIndex(p.mode.findData("beam"))
    assert p.beam_width.isEnabled() and not p.temperature.isEnabled()
    V, L = 4, 4
    g = run(qtbot, p, prompt="h", length=L, beam_width=V ** (L - 1))
    model, vocab = c.model.eval(), c.dataset.vocab
    best, best_score = None, -np.inf
    with torch.no_grad():
        for tail in itertools.product(range(V), repeat=L):
            logp = torch.log_softmax(model(torch.tensor([[0, *tail]]))[0].double(), -1)
            score = sum(float(logp[i, t]) for i, t in enumerate(tail))
            if score > best_score:
                best, best_score = tail, score
    assert list(g.continuation) == vocab.decode(best)
    assert g.score == pytest.approx(best_score, abs=1e-5)
    assert "log-probability" in p.status.text()
    if c.trained:   # the preset's trained weights: "h" -> "ello"
        assert g.text == "ello"


def test_sampling_options_and_a_bad_prompt(win, qtbot):
    p = panel_of(win)
    p.mode.setCurrentIndex(p.mode.findData("sample"))
    assert p.temperature.isEnabled() and p.top_k.isEnabled() and p.seed.isEnabled()
    assert p.top_k.maximum() == 4 and p.top_k.text() == "all"
    a = run(qtbot, p, prompt="he", length=10, temperature=2.0, seed=3)
    b = run(qtbot, p, prompt="he", length=10, temperature=2.0, seed=3)
    assert a == b and len(a.continuation) == 10
    with qtbot.waitSignal(p.job.failed, timeout=30_000):
        p.prompt.setText("hz")
        p.generate()
    assert p.error.isVisible() and "symbol 'z' at position 2" in p.error.text()
    assert "Traceback" not in p.error.text()


def test_use_as_input_then_stepping_shows_the_generated_steps(win, qtbot):
    p, c = panel_of(win), win.controller
    g = run(qtbot, p, prompt="he", length=5, mode="greedy")
    qtbot.mouseClick(p.use_btn, LEFT)
    qtbot.waitUntil(lambda: c.tokens == ["h", "e", *g.continuation], timeout=30_000)
    assert win.timeline.n_steps == 7 and win.seq_input.edit.text() == g.input_text
    strip = win.panels["input"].strip
    for t in (0, 3, 6):
        win.timeline.step = t
        QtWidgets.QApplication.processEvents()
        assert strip.tokens[strip.t] == c.tokens[t]
        assert c.view().tokens[t] == (["h", "e", *g.continuation])[t]


def test_values_model_forecast_drawn_past_the_input(win, qtbot):
    assert win.files.open_path(str(resolve("gru_sine")), as_copy=True, ask=False)
    p, c = panel_of(win), win.controller
    assert p.plot_widget.isVisible() and not p.mode.isEnabled()
    g = run(qtbot, p)
    T, N = len(g.prompt), len(g.continuation)
    x, y = p.forecast_curve.getData()
    assert x[0] == T - 1 and x[-1] == T + N - 1            # past the input, joined to it
    np.testing.assert_allclose(y[1:], np.asarray(g.continuation)[:, 0])
    tx, ty = p.truth_curve.getData()
    assert len(tx) == N + 1                               # the prompt is the example's start
    np.testing.assert_allclose(ty[1:], c.dataset.example().targets[0][T - 1:, 0], rtol=1e-6)
    ix, _ = p.input_curve.getData()
    assert len(ix) == T
    (x0, x1), _ = p.plot.vb.viewRange()
    assert x0 <= 0 and x1 >= T + N - 1


def test_encoder_decoder_greedy_reads_the_prompt_as_the_source(win, qtbot):
    assert win.files.open_path(str(resolve("reverse_attention")), as_copy=True, ask=False)
    p, c = panel_of(win), win.controller
    g = run(qtbot, p, prompt="bcad", length=9, mode="greedy")
    v, model = c.dataset.vocab, c.model.eval()
    src, ref = torch.tensor([v.encode("bcad").tolist()]), []
    with torch.no_grad():
        while len(ref) < 9 and (not ref or ref[-1] != v.index["</s>"]):
            tgt = torch.tensor([[v.index["<s>"], *ref]])
            ref.append(int(model({"src": src, "tgt": tgt})[0, -1].argmax()))
    assert list(g.continuation) == v.decode(ref)
    assert g.truth == tuple("dacb") + ("</s>",)
    assert "the task's answer" in p.output.toPlainText()
    qtbot.mouseClick(p.use_btn, LEFT)
    qtbot.waitUntil(lambda: c.input_text == "bcad", timeout=30_000)


def test_a_model_that_cannot_generate_says_why(win):
    assert win.files.open_path(str(resolve("classify_order")), as_copy=True, ask=False)
    p = panel_of(win)
    assert not p.generate_btn.isEnabled() and not p.prompt.isEnabled()
    assert p.error.isVisibleTo(p) and "one answer per sequence" in p.error.text()


def test_an_untrained_model_still_generates_and_says_so(tmp_path, qtbot):
    graph = chain(("x", "input", {"encoding": "onehot", "vocab_size": 4}),
                  ("rnn", "rnn", {"hidden_size": 6}),
                  ("head", "linear", {"out_features": 4, "output": "softmax"}))
    exp = Experiment(name="fresh", graph=graph,
                     data={"source": "text", "text": "abcd" * 20, "level": "char",
                           "window": 8},
                     train=TrainConfig(steps=20, batch_size=4))
    exp.save(tmp_path / "fresh.json")
    w = make_window(tmp_path, str(tmp_path / "fresh.json"))
    try:
        p = panel_of(w)
        g = run(qtbot, p, prompt="ab", length=3)
        assert len(g.continuation) == 3 and "untrained" in p.status.text()
    finally:
        close_window(w)


def dock_state(p) -> dict:
    return {"prompt": p.prompt.text(), "length": p.length.value(),
            "mode": p.mode.currentData(), "temperature": p.temperature.value(),
            "top_k": p.top_k.value(), "width": p.beam_width.value(), "seed": p.seed.value(),
            "output": p.output.toPlainText(), "status": p.status.text(),
            "use": p.use_btn.isEnabled(), "plot": p.plot_widget.isVisibleTo(p),
            "enabled": [w.isEnabled() for w in (p.mode, p.temperature, p.top_k, p.seed,
                                                p.beam_width)],
            "result": p.result is None}


def test_opening_another_preset_resets_the_dock_like_a_fresh_window(win, qtbot, tmp_path):
    p = panel_of(win)
    run(qtbot, p, prompt="hell", length=7, mode="sample", temperature=0.5, seed=9)
    assert p.result is not None
    for name in ("reverse_attention", "gru_sine"):
        assert win.files.open_path(str(resolve(name)), as_copy=True, ask=False)
        fresh_dir = tmp_path / name
        fresh_dir.mkdir()
        fresh = make_window(fresh_dir, str(resolve(name)))
        try:
            assert dock_state(p) == dock_state(panel_of(fresh)), name
        finally:
            close_window(fresh)
