"""Panels on their own: build a model, trace it with the core, give the panel the trace and
read back what its plot items draw."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from playground.model.build import build
from playground.model.spec import chain
from playground.tracing import trace
from playground.tracing.views import make_view
from ui.panels.attention import AttentionPanel
from ui.panels.equation import EquationPanel
from ui.panels.io import OutputPanel, token_strip
from ui.panels.recurrent import GatesPanel, GradientPanel, StatePanel
from ui.panels.training import TrainingPlotsPanel
from ui.testing import no_running_qt  # noqa: F401


def token_model(kind: str, hidden: int = 5, vocab: int = 4, extra=()):
    g = chain(("x", "input", {"encoding": "onehot", "vocab_size": vocab}),
              ("cell", kind, {"hidden_size": hidden}), *extra,
              ("head", "linear", {"out_features": vocab, "output": "softmax"}))
    return build(g, seed=1)


def token_trace(model, T=7, tbptt=None, seed=0):
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(rng.integers(0, 4, (1, T)))
    y = torch.as_tensor(rng.integers(0, 4, (1, T)))
    return trace(model, x, y, tbptt=tbptt)


def test_gru_gates_bars_and_levels(qtbot):
    tr = token_trace(token_model("gru"))
    rec = tr.layer("cell")
    p = GatesPanel()
    qtbot.addWidget(p)
    p.set_view(make_view(tr, None, (rec.node, rec.layer, rec.direction)))
    assert p.letters == ["r", "z", "n"]
    assert not p.rows[3][0].isVisible()
    p.set_step(4)
    for r, k in enumerate("rzn"):
        np.testing.assert_allclose(p.bars[r].curve.heights(), rec.gates[k][0, 4], rtol=1e-6)
        assert p.heats[r].line.value() == 4
        np.testing.assert_allclose(p.heats[r].data, rec.gates[k][0].T)
    assert p.heats[0].levels == (0.0, 1.0)     # sigmoid gate
    assert p.heats[2].levels == (-1.0, 1.0)    # tanh candidate
    names, data = p.table()
    assert names[1] == "r[0]" and data.shape == (7, 1 + 3 * 5)


def test_plain_rnn_says_it_has_no_gates(qtbot):
    tr = token_trace(token_model("rnn"))
    p = GatesPanel()
    qtbot.addWidget(p)
    p.set_view(make_view(tr, None, ("cell", 0, 0)))
    assert "no gates" in p.message.text()
    c = StatePanel("c")
    qtbot.addWidget(c)
    c.set_view(make_view(tr, None, ("cell", 0, 0)))
    assert "only an LSTM" in c.message.text()


def test_lstm_cell_state_panel(qtbot):
    tr = token_trace(token_model("lstm"))
    rec = tr.layer("cell")
    p = StatePanel("c")
    qtbot.addWidget(p)
    p.set_view(make_view(tr, None, (rec.node, rec.layer, rec.direction)))
    p.set_step(6)
    np.testing.assert_allclose(p.bars.curve.heights(), rec.c[0, 6], rtol=1e-6)
    assert p.heat.item.image.shape == (5, 7)     # units x time
    lo, hi = p.heat.levels
    assert lo == -hi and hi >= np.abs(rec.c).max()


def test_truncated_bptt_cuts_are_drawn(qtbot):
    tr = token_trace(token_model("lstm"), T=9, tbptt=3)
    rec = tr.layer("cell")
    p = GradientPanel()
    qtbot.addWidget(p)
    p.set_view(make_view(tr, None, (rec.node, rec.layer, rec.direction)))
    assert [ln.value() for ln in p.cut_lines] == [2.5, 5.5]
    assert [ln.value() for ln in p.heat.cut_lines] == [2.5, 5.5]
    np.testing.assert_allclose(p.norms, np.linalg.norm(rec.dh[0], axis=-1), rtol=1e-6)
    assert "every 3 steps" in p.caption.text()
    p.set_step(5)
    np.testing.assert_allclose(10 ** p.dot.item.pos().y(), p.norms[5], rtol=1e-6)


def test_attention_heads_and_query_row(qtbot):
    model = token_model("gru", hidden=4, extra=(("attn", "self_attention", {"num_heads": 2}),))
    tr = token_trace(model, T=6)
    a = next(r for r in tr.layers if hasattr(r, "weights"))
    p = AttentionPanel()
    qtbot.addWidget(p)
    p.set_view(make_view(tr, attn_sel=a.node))
    assert [h.plot.isVisible() for h in p.heats[:3]] == [True, True, False]
    p.set_step(3)
    assert p.rows[0].getRegion() == (2.5, 3.5) and p.rows[1].getRegion() == (2.5, 3.5)
    np.testing.assert_allclose(p.heats[1].data, a.weights[0, 1])
    text = p._hovers[1][1](4.0, 3.0)        # head 1, key 4, query 3
    assert f"{a.weights[0, 1, 3, 4]:.6g}" in text
    np.testing.assert_allclose(a.weights[0, 0, 3, 4:], 0.0)   # causal: the future is masked


def test_attention_shows_scores_before_the_softmax_and_q_k_v(qtbot, tmp_path):
    model = token_model("gru", hidden=4, extra=(("attn", "self_attention", {"num_heads": 2}),))
    tr = token_trace(model, T=6)
    a = next(r for r in tr.layers if hasattr(r, "weights"))
    mha = model.layers["attn"].attn
    x = torch.as_tensor(a.x)                                # what the layer read
    Wq, Wk, Wv = mha.in_proj_weight.detach().chunk(3)
    bq, bk, bv = mha.in_proj_bias.detach().chunk(3)
    split = lambda t: t.view(1, 6, 2, 2).transpose(1, 2)[0].numpy()  # noqa: E731
    q, k, v = (split(torch.nn.functional.linear(x, W, b)) for W, b in
               ((Wq, bq), (Wk, bk), (Wv, bv)))
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(2.0)        # (heads, query, key)
    p = AttentionPanel()
    qtbot.addWidget(p)
    p.set_view(make_view(tr, attn_sel=a.node))
    p.show_box.setCurrentIndex(p.show_box.findData("scores"))
    future = np.triu(np.ones((6, 6), bool), 1)
    for h in range(2):
        shown = p.heats[h].data
        np.testing.assert_allclose(shown[~future], scores[h][~future], rtol=1e-5, atol=1e-6)
        assert np.isnan(shown[future]).all()                # masked: drawn blank
        # the softmax of what is shown gives the weights
        e = np.exp(np.where(future, -np.inf, shown) - np.nanmax(shown, axis=1, keepdims=True))
        np.testing.assert_allclose(e / e.sum(1, keepdims=True), a.weights[0, h], rtol=1e-5,
                                   atol=1e-6)
    assert "score=" in p._hovers[1][1](1.0, 3.0) and "masked" in p._hovers[0][1](5.0, 1.0)
    assert p.heats[0].levels[0] < 0 < p.heats[0].levels[1]       # a diverging scale
    for key, want in (("q", q), ("k", k), ("v", v)):
        p.mark(None, key)                                   # a lesson step shows it
        assert p.show_key() == key
        for h in range(2):
            np.testing.assert_allclose(p.heats[h].data, want[h], rtol=1e-5, atol=1e-6)
        assert p.plots[0].getAxis("bottom").labelText == "dimension"
        assert not p.rows[0].isVisible() if key != "q" else p.rows[0].isVisible()
    out = tmp_path / "v.csv"
    p.export(str(out))
    lines = out.read_text().splitlines()
    assert lines[0] == "head,key,v0,v1" and len(lines) == 1 + 2 * 6
    p.show_box.setCurrentIndex(p.show_box.findData("weights"))
    np.testing.assert_allclose(p.heats[1].data, a.weights[0, 1])


def test_equation_numbers_come_from_the_gru_trace(qtbot):
    tr = token_trace(token_model("gru"))
    rec = tr.layer("cell")
    p = EquationPanel()
    qtbot.addWidget(p)
    p.set_view(make_view(tr, None, (rec.node, rec.layer, rec.direction)))
    p.set_unit(2)
    p.set_step(3)
    lines = {n: (f, v) for n, f, v in p.lines}
    assert lines["z_t"][1] == pytest.approx(float(rec.gates["z"][0, 3, 2]))
    assert f"{rec.pre['n'][0, 3, 2]:.4f}" in lines["n_t"][0]
    assert f"{rec.h[0, 2, 2]:.4f}" in lines["h_t"][0]            # h_{t-1}
    assert lines["h_t"][1] == pytest.approx(float(rec.h[0, 3, 2]))
    assert f"{rec.h[0, 3, 2]:.4f}" in p.text.text()


def test_values_output_shows_prediction_and_target(qtbot):
    g = chain(("x", "input", {"encoding": "numeric", "features": 1}),
              ("cell", "rnn", {"hidden_size": 4}),
              ("head", "linear", {"out_features": 1, "output": "identity"}))
    model = build(g, seed=0)
    x = torch.linspace(-1, 1, 8).reshape(1, 8, 1)
    tr = trace(model, x, torch.sin(3 * x))
    p = OutputPanel()
    qtbot.addWidget(p)
    p.set_view(make_view(tr, None, ("cell", 0, 0)))
    assert p.mode == "values"
    _, y = p.value_curves[0].getData()
    np.testing.assert_allclose(y, tr.outputs[0, :, 0], rtol=1e-6)
    _, yt = p.target_curves[0].getData()
    np.testing.assert_allclose(yt, np.sin(3 * x.numpy()[0, :, 0]), rtol=1e-6)
    p.set_step(5)
    assert p.line.value() == 5 and f"{tr.outputs[0, 5, 0]:.4g}" in p.caption.text()


def test_training_curves_grow_and_skip_nonpositive_on_log_axes(qtbot):
    p = TrainingPlotsPanel()
    qtbot.addWidget(p)
    for s in range(1, 401):
        p.add(s, 2.0 / s, 1.5 if s % 100 == 0 else None, 3.0, 1.0 if s > 1 else 0.0)
    p.redraw()
    x, y = p.loss.getOriginalDataset()
    assert len(x) == 400 and y[0] == 2.0
    vx, _ = p.val.getOriginalDataset()
    assert list(vx) == [100, 200, 300, 400]
    _, gc = p.gc.getOriginalDataset()
    assert np.isnan(gc[0]) and gc[1] == 1.0        # 0 cannot be drawn on a log axis
    names, data = p.table()
    assert names[0] == "step" and data.shape == (400, 6)


def test_training_curves_draw_the_rate_a_step_schedule_gives(qtbot):
    """The rate curve is the trainer's rate at each step, as torch's StepLR sets it."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
    from test_schedule import TextTask, model, torch_rates

    from playground.train import TrainConfig, Trainer

    cfg = TrainConfig(lr=0.02, steps=30, batch_size=4, val_every=0, schedule="step",
                      step_every=7, step_factor=0.5)
    p = TrainingPlotsPanel()
    qtbot.addWidget(p)
    tr = Trainer(model(), TextTask(), cfg)
    tr.add_callback("on_step_end", lambda sn: p.add(sn.step, sn.loss, sn.val_loss, sn.grad_norm,
                                                    sn.grad_norm_clipped, sn.lr))
    tr.run()
    p.redraw()
    x, y = p.rate.getOriginalDataset()
    np.testing.assert_allclose(y, torch_rates(0.02, 30, "step", 0, 7, 0.5), rtol=1e-9)
    assert "learning rate" in p.caption.text() and p.rate_plot.isVisible()
    p.clear()                                       # a constant rate: no plot of it, said
    for step in range(1, 6):
        p.add(step, 1.0, None, 1.0, 1.0, 0.01)
    p.redraw()
    assert not p.rate_plot.isVisible() and "learning rate 0.01" in p.caption.text()


def test_token_strip_highlights_the_current_symbol():
    html = token_strip(list("hello"), 1)
    assert "background:#d62728" in html
    before, after = html.split("background:#d62728")
    assert ">&nbsp;e&nbsp;<" in after.split("</span>")[0] + "<"
    long = token_strip(list("ab" * 100), 150, window=5)
    assert long.count("<span") <= 13 and "…" in long


def test_rich_lines_parse_the_equation_subset():
    from ui.rich_lines import html_runs

    paras = html_runs("<p style='color:#888'>a<sub>t</sub> = <b style='color:#1f4e9c'>0.5"
                      "</b></p><p>x &lt; y</p>")
    assert [r[0] for r in paras[0]] == ["a", "t", " = ", "0.5"]
    assert paras[0][1][3] and not paras[0][0][3]           # subscript
    assert paras[0][3][1] and paras[0][3][4] == "#1f4e9c"   # bold, coloured value
    assert paras[0][0][4] == "#888"                         # the paragraph's colour
    assert paras[1] == [("x < y", False, False, False, None)]


def test_step_line_spans_a_tiny_range_without_overflowing(qtbot):
    """A loss of 0.001 gives a y scale of ~10^5 pixels per unit: a marker with a fixed huge
    extent overflowed Qt's integer device coordinates and left the old marker on screen."""
    from ui.panels.base import Panel, StepLine

    panel = Panel()
    qtbot.addWidget(panel)
    plot = panel.add_plot(0, 0, "tiny values")
    plot.setYRange(0.0, 0.003, padding=0)
    line = StepLine(plot, 5.0)
    panel.resize(300, 300)
    panel.show()
    qtbot.waitExposed(panel)
    view = panel.layout_widget

    def device_span():
        panel.grab()   # a paint brings the view's own transform up to date
        rect = line.deviceTransform(view.viewportTransform()).mapRect(line.boundingRect())
        return rect.top(), rect.bottom()

    vb = view.mapFromScene(plot.vb.sceneBoundingRect()).boundingRect()
    top, bottom = device_span()
    assert top <= vb.top() and bottom >= vb.bottom()          # covers the plot
    assert bottom - top < 10 * view.height()                  # and stays a sane size
    plot.setYRange(-500.0, 500.0, padding=0)                  # follows range changes
    top, bottom = device_span()
    assert top <= vb.top() and bottom >= vb.bottom() and bottom - top < 10 * view.height()
    line.setValue(7.0)
    assert line.value() == 7.0
    line.remove()
    assert line.scene() is None


def test_a_row_line_marks_its_row_across_the_plot(qtbot):
    """A StepLine along y (the connectivity's current output step): a horizontal line at
    y = value across the whole view, where the plot maps that value, after range changes."""
    from PySide6 import QtCore

    from ui.panels.base import Panel, StepLine

    panel = Panel()
    qtbot.addWidget(panel)
    plot = panel.add_plot(0, 0, "rows")
    plot.setRange(xRange=(0, 1000), yRange=(0, 1000), padding=0)
    line = StepLine(plot, 250.0, axis="y")
    panel.show_message("")
    panel.resize(300, 300)
    panel.show()
    qtbot.waitExposed(panel)
    view = panel.layout_widget

    def check(value):
        panel.grab()
        rect = line.deviceTransform(view.viewportTransform()).mapRect(line.boundingRect())
        vb = view.mapFromScene(plot.vb.sceneBoundingRect()).boundingRect()
        at = view.mapFromScene(plot.vb.mapViewToScene(QtCore.QPointF(500.0, value)))
        assert rect.left() <= vb.left() and rect.right() >= vb.right()     # across it
        assert rect.height() <= 4 and abs(rect.center().y() - at.y()) <= 1.5
        assert line.value() == value

    check(250.0)
    plot.setRange(xRange=(-3, 2), yRange=(200, 400), padding=0)
    check(250.0)
    line.setValue(330.0)
    check(330.0)


@pytest.mark.parametrize("html, shown", [
    ("<p>a = <b>0.5250</b>, b = 2.2500</p>", ["0.5250", "2.2500"]),
    # numbers in attributes or outside the paragraphs are not values of the formula
    ("<p style='font-size:1.2em'>x = <span style='width:3.5px'>0.7500</span></p>", ["0.7500"]),
    ("1.5000 outside <p>a = 2.2500</p>", ["2.2500"]),
    ("<p>no numbers here</p>", []),
])
def test_rich_lines_draw_each_number_where_the_text_has_it(qtbot, html, shown):
    from ui.rich_lines import RichLines

    w = RichLines()
    qtbot.addWidget(w)
    w.resize(400, 200)
    for text in (html, html.replace("5", "6")):   # the second time from the cached template
        w.setText(text)
        w.grab()
        drawn = [piece for _, _, piece, key, _ in w._ops if key is not None]
        expect = [s.replace("5", "6") for s in shown] if text != html else shown
        assert [n for n in expect if not any(n in d for d in drawn)] == []
        assert "\x00" not in "".join(drawn)


def test_axis_bounds_follow_resizes_and_grid_changes(qtbot):
    """The axes keep their bounds between changes; they must still be what pyqtgraph
    computes after the panel is resized, the plot re-laid out or the grid turned on."""
    import pyqtgraph as pg
    from PySide6 import QtGui, QtWidgets

    from ui.panels.base import Panel

    panel = Panel()
    qtbot.addWidget(panel)
    top = panel.add_plot(0, 0, "top plot", "unit", "time step t")
    panel.add_plot(1, 0, "bottom plot")
    panel.resize(300, 300)
    panel.show()
    qtbot.waitExposed(panel)
    axes = [top.getAxis(n) for n in ("left", "bottom")]

    def check():
        QtWidgets.QApplication.processEvents()
        panel.grab()
        for ax in axes:
            assert ax.boundingRect() == pg.AxisItem.boundingRect(ax), ax.orientation
        vb = top.vb                        # the view box: pyqtgraph's bounds and clip shape
        assert vb.boundingRect() == pg.ViewBox.boundingRect(vb)
        path = QtGui.QPainterPath()
        path.addRect(pg.ViewBox.boundingRect(vb))
        assert vb.shape() == path

    check()
    before = axes[0].boundingRect()
    panel.resize(500, 420)
    check()
    assert axes[0].boundingRect() != before
    top.showGrid(x=True, y=True)           # the bounds now take in the view
    check()
    panel.layout_widget.ci.layout.setRowStretchFactor(1, 4)
    check()
    top.showGrid(x=False, y=False)
    check()
    axes[0].setStyle(tickLength=-12)       # ticks reaching further into the view: the
    check()                                # bounds grow, the axis's width does not
    style = QtWidgets.QStyleFactory.create("Fusion")
    style.setParent(panel)                 # (a widget does not own the style it is given)
    QtWidgets.QGraphicsWidget.setStyle(axes[0], style)
    QtWidgets.QGraphicsWidget.setStyle(top.vb, style)
    check()                                # (a new style resets a widget's frame margins)
    top.showGrid(x=True, y=True)
    axes[0].unlinkFromView()               # the grid no longer takes in the view
    check()
    axes[0].linkToView(top.vb)
    check()


def test_rich_lines_reuse_a_layout_only_for_numbers_of_the_same_shape(qtbot):
    """Numbers of the same shape (-0.0158, -0.9031) reuse the step before's layout; the
    text drawn, and every place, must be what a fresh widget lays out for that text."""
    from ui.rich_lines import RichLines

    def formula(a, b):
        return (f"<p>f<sub>t</sub> = σ({a}) = <b style='color:#1f4e9c'>{b}</b> and a long "
                f"tail of words that wraps {a} · {b} + {a} in {{braces}}</p><p>h = {b}</p>")

    w = RichLines()
    qtbot.addWidget(w)
    w.resize(260, 300)
    for a, b in (("0.0312", "-0.5078"), ("0.9876", "-0.1111"), ("12.3456", "-0.5"),
                 ("0.0312", "-0.5078"), ("-0.0312", "0.5078"), ("-1.5", "-2.25")):
        w.setText(formula(a, b))
        w.grab()
        fresh = RichLines()
        qtbot.addWidget(fresh)
        fresh.resize(260, 300)
        fresh.setText(formula(a, b))
        fresh.grab()
        assert [(round(x, 3), round(y, 3), p if k is not None else None, k, c)
                for x, y, p, k, c in w._ops] == \
            [(round(x, 3), round(y, 3), p if k is not None else None, k, c)
             for x, y, p, k, c in fresh._ops]
        drawn = "".join(p for _, _, p, k, _ in w._ops if k is not None)
        assert a in drawn and b in drawn and "{braces}" in drawn
        assert w.grab().toImage() == fresh.grab().toImage()     # and the same pixels
    assert len(w._templates) == 1        # signs and digits changed, the formula did not


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_image_downsampling_averages_like_pyqtgraph(dtype):
    import pyqtgraph.functions as fn

    import ui.panels.base  # noqa: F401  (installs it)

    assert fn.downsample is not fn.downsample.plain
    rng = np.random.default_rng(0)
    a = rng.normal(size=(37, 1003)).astype(dtype)
    for n in (2, 3, 7, 16, 17, 40):
        for axis in (0, 1):
            got = fn.downsample(a, n, axis=axis)
            blocks = a.shape[axis] // n
            cut = np.take(a, np.arange(blocks * n), axis=axis)
            shape = list(a.shape)
            shape[axis:axis + 1] = [blocks, n]
            want = cut.reshape(shape).mean(axis=axis + 1)       # plain numpy, by blocks
            assert got.dtype == a.dtype and got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                       atol=1e-6 if dtype == np.float32 else 1e-13)
            np.testing.assert_allclose(got, fn.downsample.plain(a, n, axis=axis),
                                       rtol=1e-5, atol=1e-6)
    with_nan = a.copy()
    with_nan[3, 5] = np.nan
    np.testing.assert_array_equal(np.isnan(fn.downsample(with_nan, 3, axis=1)),
                                  np.isnan(fn.downsample.plain(with_nan, 3, axis=1)))
    ints = rng.integers(0, 9, size=(4, 30))
    np.testing.assert_array_equal(fn.downsample(ints, 3, axis=1),
                                  fn.downsample.plain(ints, 3, axis=1))


def test_lstm_gradient_panel_draws_dl_dc_beside_dl_dh(qtbot, tmp_path):
    """||dL/dc_t|| and dL/dc against an unrolled nn.LSTMCell whose c_t keep their grad."""
    model = token_model("lstm", hidden=5)
    rng = np.random.default_rng(3)
    x = torch.as_tensor(rng.integers(0, 4, (1, 9)))
    y = torch.as_tensor(rng.integers(0, 4, (1, 9)))
    tr = trace(model, x, y)
    lstm = model.layers["cell"].rnn
    cell = torch.nn.LSTMCell(4, 5)
    with torch.no_grad():
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, n).copy_(getattr(lstm, n + "_l0"))
    head = model.layers["head"]
    h = c = torch.zeros(1, 5)
    cs, logits = [], []
    for t in range(9):
        h, c = cell(torch.nn.functional.one_hot(x[:, t], 4).float(), (h, c))
        c.retain_grad()
        cs.append(c)
        logits.append(head(h))
    loss = torch.nn.functional.cross_entropy(torch.stack(logits, 1).transpose(1, 2), y)
    loss.backward()
    dc = torch.cat([c.grad for c in cs]).numpy()                    # (T, H)
    p = GradientPanel()
    qtbot.addWidget(p)
    rec = tr.layer("cell")
    p.set_view(make_view(tr, None, (rec.node, rec.layer, rec.direction)))
    assert p.c_plot.isVisible() and "dL/dc" in p.norm_plot.titleLabel.text
    np.testing.assert_allclose(p.c_heat.data, dc.T, rtol=1e-4, atol=1e-7)
    _, drawn = p.c_curve.getData()
    np.testing.assert_allclose(10 ** drawn, np.linalg.norm(dc, axis=1), rtol=1e-4)  # log axis
    p.set_step(4)
    assert p.c_dot.value == pytest.approx(float(np.linalg.norm(dc[4])), rel=1e-4)
    assert "||dL/dc_t||" in p._hover_norm(4.0, 0.0)
    assert "||dL/dc||" in p.caption.text()
    out = tmp_path / "g.csv"
    p.export(str(out))
    assert "c_norm" in out.read_text().splitlines()[0].split(",")
    gru = token_model("gru")                     # no cell state: no dc row, no dc curve
    tr2 = token_trace(gru)
    r2 = tr2.layer("cell")
    p.set_view(make_view(tr2, None, (r2.node, r2.layer, r2.direction)))
    assert not p.c_plot.isVisible() and (p.c_curve.getData()[0] is None or
        len(p.c_curve.getData()[0]) == 0)
    assert "dL/dc" not in p.norm_plot.titleLabel.text


def test_encoder_decoder_attention_names_keys_by_the_source_and_queries_by_the_decoder(qtbot):
    from playground.data import bind_inputs
    from playground.files import experiment as X

    exp = X.load(X.resolve("reverse_attention"))
    model, ds = exp.build_model(), exp.make_dataset()
    b = ds.example()
    tr = trace(model, bind_inputs(model, b), b.targets, b.mask)
    a = next(r for r in tr.layers if hasattr(r, "weights"))
    src = [ds.vocab.symbols[i] for i in np.asarray(b.inputs["src"])[0]]
    tgt = [ds.vocab.symbols[i] for i in np.asarray(b.inputs["tgt"])[0]]
    assert src != tgt
    p = AttentionPanel()
    qtbot.addWidget(p)
    p.set_view(make_view(tr, attn_sel=a.node, in_symbols=ds.vocab.symbols))
    for key in ("weights", "scores"):
        p.show_box.setCurrentIndex(p.show_box.findData(key))
        bottom = [s for _, s in p.plots[0].getAxis("bottom")._tickLevels[0]]
        left = [s for _, s in p.plots[0].getAxis("left")._tickLevels[0]]
        assert bottom == src and left == tgt
    p.show_box.setCurrentIndex(p.show_box.findData("k"))      # keys: the source's steps
    assert [s for _, s in p.plots[0].getAxis("left")._tickLevels[0]] == src


def test_a_long_title_never_pushes_a_narrow_plot_out_of_its_view(qtbot):
    """pyqtgraph makes a title's text width the plot's minimum width; in a narrow dock the
    plot's right part (the last time steps) was out of view."""
    import pyqtgraph as pg
    from PySide6 import QtWidgets

    from ui.panels.scales import set_title

    w = pg.GraphicsLayoutWidget()
    qtbot.addWidget(w)
    plot = w.addPlot()
    set_title(plot, "A title much wider than the narrow dock this plot sits in, at 9pt")
    w.resize(180, 200)
    w.show()
    for _ in range(5):
        QtWidgets.QApplication.processEvents()
    assert plot.geometry().width() <= w.viewport().width() + 1
    assert plot.titleLabel.geometry().height() > 5          # the title keeps its row
    set_title(plot, "Another title just as long as the first one, which must not widen it")
    w.resize(170, 200)
    QtWidgets.QApplication.processEvents()
    assert plot.geometry().width() <= w.viewport().width() + 1


def test_colour_bars_are_framed_by_axes_that_keep_pyqtgraphs_bounds_and_look(qtbot):
    """A colour bar's four framing axes keep their bounds between changes (items.colour_bar):
    the same bounds as pyqtgraph's own after resizes and new levels, and the same pixels as
    pyqtgraph's own colour bar."""
    import pyqtgraph as pg
    from PySide6 import QtWidgets

    from ui.panels.items import colour_bar
    from ui.panels.scales import Axis, View

    def make(factory):
        view = pg.GraphicsLayoutWidget()
        qtbot.addWidget(view)
        plot = view.addPlot()
        img = pg.ImageItem(np.linspace(0, 1, 60, dtype=np.float32).reshape(6, 10))
        plot.addItem(img)
        bar = factory(values=(0, 1), colorMap=pg.colormap.get("viridis"), width=8,
                      interactive=False, colorMapMenu=False)
        bar.setImageItem(img, insert_in=plot)
        view.resize(320, 200)
        view.show()
        qtbot.waitExposed(view)
        return view, bar

    ours, bar = make(colour_bar)
    plain, _ = make(pg.ColorBarItem)
    axes = [bar.getAxis(n) for n in ("left", "right", "top", "bottom")]
    assert all(type(ax) is Axis for ax in axes) and type(bar.vb) is View
    module = sys.modules[pg.PlotItem.__module__]
    assert module.AxisItem is pg.AxisItem and module.ViewBox is pg.ViewBox   # put back

    def check():
        QtWidgets.QApplication.processEvents()
        ours.grab()
        for ax in axes:
            assert ax.boundingRect() == pg.AxisItem.boundingRect(ax), ax.orientation
        assert bar.vb.boundingRect() == pg.ViewBox.boundingRect(bar.vb)

    check()
    assert ours.grab().toImage() == plain.grab().toImage()
    for size in ((500, 300), (260, 420)):
        ours.resize(*size)
        plain.resize(*size)
        check()
        assert ours.grab().toImage() == plain.grab().toImage()
    bar.setLevels((-3.0, 250.0))
    check()
