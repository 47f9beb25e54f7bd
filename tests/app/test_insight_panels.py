"""The Trajectory, Connectivity and Neuron search docks against independent computations."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PySide6 import QtCore

from playground.data import bind_inputs
from playground.files.experiment import Experiment
from playground.model.spec import chain
from playground.train import TrainConfig
from ui.testing import close_window, make_window, no_running_qt  # noqa: F401

TEXT = "hello hello hello hello hello hello hello hello "


def tiny_experiment(tmp_path):
    graph = chain(("x", "input", {"encoding": "onehot", "vocab_size": 5}),
                  ("cell", "lstm", {"hidden_size": 6}),
                  ("head", "linear", {"out_features": 5, "output": "softmax"}))
    exp = Experiment(name="tiny", graph=graph,
                     data={"source": "text", "text": TEXT, "level": "char", "window": 8},
                     train=TrainConfig(steps=10, batch_size=8, lr=0.05))
    path = tmp_path / "tiny.json"
    exp.save(path)
    return path


@pytest.fixture
def win(tmp_path, qtbot):
    w = make_window(tmp_path, str(tiny_experiment(tmp_path)))
    yield w
    close_window(w)


def show(win, qtbot, key):
    panel = win.dock_widget(key, show=True)
    qtbot.waitUntil(lambda: key not in win.refresher.stale, timeout=5000)
    return panel


def test_trajectory_is_the_pca_projection_and_only_the_marker_moves(win, qtbot):
    panel = show(win, qtbot, "trajectory")
    h = np.asarray(win.controller.trace.layer("cell").h[0], dtype=np.float64)
    X = h - h.mean(0)
    _, S, Vt = np.linalg.svd(X, full_matrices=False)
    ref = X @ Vt[:2].T
    x, y = panel.points.getData()
    got = np.column_stack([x, y])
    for k in range(2):   # each axis up to its sign
        sign = np.sign(got[:, k] @ ref[:, k]) or 1.0
        np.testing.assert_allclose(sign * got[:, k], ref[:, k], atol=1e-6)
    ratio = S ** 2 / (S ** 2).sum()
    label = panel.plot.getAxis("bottom").labelText
    assert label == f"PC1 ({100 * ratio[0]:.0f}%)"
    assert panel.plot.getAxis("left").labelText == f"PC2 ({100 * ratio[1]:.0f}%)"
    basis, coords = panel.basis, panel.coords.copy()
    for t in (0, 3, len(h) - 1):
        win.timeline.step = t
        qtbot.wait(5)
        pos = panel.marker.item.pos()
        np.testing.assert_allclose([pos.x(), pos.y()], got[t], atol=1e-9)
        assert panel.basis is basis
        np.testing.assert_array_equal(panel.coords, coords)


def reference_connectivity(model, batch):
    """||d y_t[argmax] / d x_s|| with torch.autograd.functional.jacobian on the LSTM and
    head themselves (one-hot inputs)."""
    ids = bind_inputs(model, batch)["x"][:1]
    x = torch.nn.functional.one_hot(ids.long(), 5).double()
    lstm = model.layers["cell"].rnn.double()
    head = model.layers["head"].double()

    def f(x):
        return head(lstm(x)[0])[0]           # (T, C)

    y = f(x).detach()
    J = torch.autograd.functional.jacobian(f, x)[:, :, 0]   # (T, C, T, E)
    pick = y.argmax(-1)
    T = y.shape[0]
    rows = J[torch.arange(T), pick]                          # (T, T, E)
    return rows.norm(dim=-1).numpy()


def test_connectivity_matches_autograd_jacobian(win, qtbot):
    panel = show(win, qtbot, "connectivity")
    qtbot.waitUntil(lambda: panel.matrix is not None, timeout=20_000)
    c = win.controller
    import copy
    ref = reference_connectivity(copy.deepcopy(c.model), c.batch)
    np.testing.assert_allclose(panel.matrix, ref, rtol=1e-4, atol=1e-7)
    assert np.all(np.triu(panel.matrix, 1) == 0)           # causal
    top = np.log10(ref.max())
    causal = np.tril(np.ones_like(ref, bool))
    np.testing.assert_allclose(panel.heat.data[causal],
                               np.log10(np.maximum(ref, 10 ** (top - 6)))[causal],
                               rtol=1e-4, atol=1e-4)
    assert np.isnan(panel.heat.data[~causal]).all()       # no path: blank
    axis = panel.strip_plot.getAxis("bottom")             # the strip names the tokens
    shown = [label for _, label in axis._tickLevels[0]]
    assert shown == [{" ": "␣"}.get(s, s) for s in c.view().tokens]
    for t in (2, 5):
        win.timeline.step = t
        qtbot.wait(5)
        np.testing.assert_allclose(panel.strip.values, ref[t], rtol=1e-4, atol=1e-7)
        assert panel.row_line.value() == t


def test_connectivity_is_dropped_for_a_new_trace(win, qtbot):
    panel = show(win, qtbot, "connectivity")
    qtbot.waitUntil(lambda: panel.matrix is not None, timeout=20_000)
    win.controller.sample("random")
    qtbot.waitUntil(lambda: panel.matrix is not None and not panel.busy, timeout=20_000)
    assert panel.matrix.shape == (win.controller.trace.steps,) * 2


def _wait_validation(win, qtbot):
    c = win.controller
    qtbot.waitUntil(lambda: c.validation.current() is not None, timeout=20_000)
    return c.validation.current()


def test_neuron_search_finds_the_planted_span_and_goes_there(win, qtbot):
    panel = show(win, qtbot, "neurons")
    _wait_validation(win, qtbot)
    view = win.controller.view()
    T, H = view.rec.h.shape[1], view.rec.h.shape[2]
    assert T >= 8
    h = -np.ones((1, T, H), np.float32)
    h[0, 1:3, [1, 3]] = 1.0         # the query span 1-2: units 1 and 3
    h[0, 5:8, 1] = h[0, 5:8, 3] = 0.9
    h[0, 5:8, 4] = 0.8              # one extra unit on over the match
    planted = dataclasses.replace(view, rec=dataclasses.replace(view.rec, h=h))
    panel.set_view(planted)
    assert (panel.start_box.value(), panel.end_box.value()) == (win.timeline.step,
                                                                win.timeline.step + 2)
    panel.start_box.setValue(1)
    panel.end_box.setValue(2)
    assert panel.threshold_box.value() == 0.5
    qtbot.mouseClick(panel.search_btn, QtCore.Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(panel.result.units, [1, 3])
    mine = [panel.list.item(i) for i in range(panel.list.count())
            if panel.list.item(i).text().startswith("searched sequence")]
    assert [it.text() for it in mine] == ["searched sequence, steps 5-7, 1 extra unit"]
    item = mine[0]
    rect = panel.list.visualItemRect(item)
    qtbot.mouseClick(panel.list.viewport(), QtCore.Qt.MouseButton.LeftButton,
                     pos=rect.center())
    assert win.timeline.step == 5
    assert (panel.start_box.value(), panel.end_box.value()) == (1, 2)   # the query stays


def _reference_h(model, ids):
    """(T, H) of the LSTM module itself on the one-hot ids."""
    lstm = model.layers["cell"].rnn
    x = torch.nn.functional.one_hot(torch.as_tensor(ids).long(), 5).float()
    with torch.no_grad():
        return lstm(x[None])[0][0].double().numpy()


def test_trajectory_overlays_the_validation_paths_in_the_traced_basis(win, qtbot):
    panel = show(win, qtbot, "trajectory")
    c = win.controller
    qtbot.waitUntil(lambda: len(panel.validation_paths) > 0, timeout=20_000)
    val = c.dataset.validation()
    traced = np.asarray(c.batch.inputs["x"][0])
    # a validation sequence that is the traced one itself is not drawn again
    others = [i for i in range(val.size)
              if not np.array_equal(np.asarray(val.inputs["x"][i]), traced)]
    n = len(others)
    assert 0 < n < val.size                   # (hello repeats: some are the traced one)
    assert len(panel.validation_paths) == n
    assert f"{n} validation sequences in grey" in panel.caption.text()
    h = np.asarray(c.trace.layer("cell").h[0], dtype=np.float64)
    mu = h.mean(0)
    _, _, Vt = np.linalg.svd(h - mu, full_matrices=False)
    ref_cur = (h - mu) @ Vt[:2].T
    signs = np.sign(np.sum(panel.coords * ref_cur, 0))        # each axis up to its sign
    for i, path in zip(others, panel.validation_paths):
        hv = _reference_h(c.model, val.inputs["x"][i])
        np.testing.assert_allclose(path, signs * ((hv - mu) @ Vt[:2].T), atol=1e-5)
    x, y = panel.validation_item.getData()
    drawn = np.column_stack([x, y])
    drawn = drawn[np.isfinite(drawn).all(1)]
    np.testing.assert_allclose(drawn, np.concatenate(panel.validation_paths))
    assert panel.validation_item.zValue() < panel.path.zValue()
    basis, paths = panel.basis, [p.copy() for p in panel.validation_paths]
    for t in (1, 4):                                    # stepping moves only the marker
        win.timeline.step = t
        qtbot.wait(5)
        assert panel.basis is basis
        for a, b in zip(panel.validation_paths, paths):
            np.testing.assert_array_equal(a, b)


def test_clicking_a_validation_match_opens_that_sequence_there(win, qtbot):
    panel = show(win, qtbot, "neurons")
    c = win.controller
    states = _wait_validation(win, qtbot)
    key = ("cell", 0, 0)
    real = [np.array(h) for h in states.of(key)]
    assert len(real) >= 3
    first_batch = c.batch
    view = c.view()
    T, H = view.rec.h.shape[1:]
    h = -np.ones((1, T, H), np.float32)
    h[0, 1:3, [1, 3]] = 1.0                 # the query: units 1 and 3 over steps 1-2
    h[0, 5:7, [1, 3]] = 0.9                 # on again in the searched sequence
    planted = [-np.ones_like(r) for r in real]
    planted[2][3:6, [1, 3]] = 0.9           # and in validation #2, steps 3-5
    c.validation.states = dataclasses.replace(states, states={key: planted})
    panel.set_view(dataclasses.replace(view, rec=dataclasses.replace(view.rec, h=h)))
    panel.start_box.setValue(1)
    panel.end_box.setValue(2)
    qtbot.mouseClick(panel.search_btn, QtCore.Qt.MouseButton.LeftButton)
    texts = [panel.list.item(i).text() for i in range(panel.list.count())]
    assert texts == ["validation #2, steps 3-5, 0 extra units",
                     "searched sequence, steps 5-6, 0 extra units"]

    def click(row):
        rect = panel.list.visualItemRect(panel.list.item(row))
        qtbot.mouseClick(panel.list.viewport(), QtCore.Qt.MouseButton.LeftButton,
                         pos=rect.center())

    click(0)
    qtbot.waitUntil(lambda: c.batch is states.rows[2] and win.timeline.step == 3,
                    timeout=10_000)
    np.testing.assert_array_equal(c.trace.inputs["x"], states.rows[2].inputs["x"])
    np.testing.assert_allclose(c.view().rec.h[0], real[2], atol=1e-6)   # its real states
    assert panel.list.count() == 2                 # the list stays to go on from
    click(1)                                       # back to the searched sequence
    qtbot.waitUntil(lambda: c.batch is first_batch and win.timeline.step == 5,
                    timeout=10_000)
    assert panel.list.count() == 2


def test_validation_states_are_dropped_with_the_experiment(win, qtbot, tmp_path):
    panel = show(win, qtbot, "trajectory")
    c = win.controller
    old = _wait_validation(win, qtbot)
    old_model = c.model
    assert c.open(str(tiny_experiment(tmp_path))) == ""
    assert c.model is not old_model
    assert c.validation.current() is not old
    new = _wait_validation(win, qtbot)
    assert new is not old
    qtbot.waitUntil(lambda: 0 < len(panel.validation_paths) < c.dataset.validation().size,
                    timeout=10_000)


def test_gradient_horizon_is_recorded_while_training_and_saved(win, qtbot, tmp_path,
                                                              monkeypatch):
    from playground.files.experiment import load
    from ui import horizon_recorder

    monkeypatch.setattr(horizon_recorder, "BUDGET", None)   # every row of this short run

    panel = show(win, qtbot, "horizon")
    assert panel.rows is None and not panel.message.isHidden()
    c = win.controller
    assert c.start_training(10) == ""
    qtbot.waitUntil(lambda: not c.training.running, timeout=60_000)
    qtbot.wait(50)
    hz = c.horizon.horizon
    assert hz is not None and hz.every == 1 and len(hz.steps) >= 5
    win.dock_widget("horizon", show=True)
    qtbot.wait(20)
    steps, rows = hz.rows(0)
    np.testing.assert_array_equal(panel.steps, steps)
    np.testing.assert_allclose(panel.rows, rows)
    hi = np.log10(rows[rows > 0].max())
    np.testing.assert_allclose(panel.heat.data, np.log10(np.maximum(rows, 10 ** (hi - 6))),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(panel.svs, hz.singular_values(0)[1])
    assert len(panel.sv_curves) == hz.top_k
    out = tmp_path / "saved.json"
    assert c.save(str(out)) == ""
    saved = load(out)
    assert saved.horizon["steps"] == steps.tolist()
    assert c.open(str(out)) == ""
    qtbot.wait(20)
    win.dock_widget("horizon", show=True)
    np.testing.assert_array_equal(panel.steps, steps)
    np.testing.assert_allclose(panel.rows, rows, rtol=1e-5)


def test_trajectory_draws_any_two_of_the_top_three_components(win, qtbot):
    from ui.panels.states import AXES

    panel = show(win, qtbot, "trajectory")
    h = np.asarray(win.controller.trace.layer("cell").h[0], dtype=np.float64)
    X = h - h.mean(0)
    _, S, Vt = np.linalg.svd(X, full_matrices=False)
    ratio = S ** 2 / (S ** 2).sum()
    for a, b in ((0, 2), (1, 2), (0, 1)):
        panel.axes_box.setCurrentIndex(AXES.index((a, b)))
        ref = X @ Vt[[a, b]].T
        x, y = panel.points.getData()
        got = np.column_stack([x, y])
        for k in range(2):
            sign = np.sign(got[:, k] @ ref[:, k]) or 1.0
            np.testing.assert_allclose(sign * got[:, k], ref[:, k], atol=1e-6)
        assert panel.plot.getAxis("bottom").labelText == f"PC{a + 1} ({100 * ratio[a]:.0f}%)"
        assert panel.plot.getAxis("left").labelText == f"PC{b + 1} ({100 * ratio[b]:.0f}%)"
        before = panel.points.getData()[0].copy()
        win.timeline.step = 3                      # stepping moves the marker only
        np.testing.assert_array_equal(panel.points.getData()[0], before)
        pos = panel.marker.item.pos()
        np.testing.assert_allclose([pos.x(), pos.y()], got[3], atol=1e-9)
