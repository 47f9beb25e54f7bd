"""Canvas editor driven as a user would (pytest-qt, offscreen): palette, port drags,
property editor, keyboard undo/redo, copy/paste, validation display."""

import numpy as np
import pytest
import torch

pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QWheelEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QSpinBox  # noqa: E402

from playground.model.build import build  # noqa: E402
from playground.model.spec import chain  # noqa: E402
from playground.timeline import Timeline  # noqa: E402
from playground.tracing import trace  # noqa: E402
from ui.canvas import CanvasView  # noqa: E402
from ui.canvas.palette import MIME_KIND  # noqa: E402


@pytest.fixture
def canvas(qtbot):
    view = CanvasView()
    qtbot.addWidget(view)
    view.resize(1400, 800)
    view.show()
    qtbot.waitExposed(view)
    return view


# -- user gestures ------------------------------------------------------------------------
def add_from_palette(qtbot, canvas, kind):
    pal = canvas.palette_widget
    item = pal.item_for(kind)
    before = set(canvas.scene.nodes)
    qtbot.mouseDClick(pal.viewport(), Qt.LeftButton, pos=pal.visualItemRect(item).center())
    (new,) = set(canvas.scene.nodes) - before
    return new


def port_point(canvas, node_id, port, direction):
    node = canvas.scene.nodes[node_id]
    item = (node.outputs if direction == "out" else node.inputs)[port]
    canvas.view.ensureVisible(item, 50, 50)
    return canvas.view.mapFromScene(item.scenePos())


def drag(canvas, a: QPoint, b: QPoint):
    vp = canvas.view.viewport()
    QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, a)
    mid = QPoint((a.x() + b.x()) // 2, (a.y() + b.y()) // 2)
    QTest.mouseMove(vp, mid)
    QTest.mouseMove(vp, b)
    QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, b)


def drag_connect(canvas, src, dst, port="seq", out="seq"):
    drag(canvas, port_point(canvas, src, out, "out"), port_point(canvas, dst, port, "in"))


def click_node(qtbot, canvas, node_id):
    item = canvas.scene.nodes[node_id]
    canvas.view.ensureVisible(item)
    pos = canvas.view.mapFromScene(item.mapToScene(QPointF(110, 8)))  # the header
    qtbot.mouseClick(canvas.view.viewport(), Qt.LeftButton, pos=pos)


def type_into(qtbot, spin: QSpinBox, value: int):
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, str(value))
    qtbot.keyClick(spin, Qt.Key_Return)


def key(canvas, k, mods=Qt.ControlModifier):
    canvas.view.setFocus()
    QTest.keyClick(canvas.view, k, mods)


# -- the hello model, from nothing -------------------------------------------------------------
def build_hello(qtbot, canvas):
    x = add_from_palette(qtbot, canvas, "input")
    r = add_from_palette(qtbot, canvas, "rnn")
    h = add_from_palette(qtbot, canvas, "linear")
    drag_connect(canvas, x, r)
    drag_connect(canvas, r, h)
    for nid, name, value in ((x, "vocab_size", 4), (r, "hidden_size", 8),
                             (h, "out_features", 4)):
        click_node(qtbot, canvas, nid)
        assert canvas.selected_node() == nid
        type_into(qtbot, canvas.properties_widget.fields[name], value)
    return x, r, h


def test_build_train_step_undo_redo_hello(qtbot, canvas):
    changes = []
    canvas.graphChanged.connect(lambda: changes.append(1))
    assert canvas.model.graph.nodes == [] and not canvas.info.ok
    x, r, h = build_hello(qtbot, canvas)
    graph = canvas.graph
    assert [(e.src, e.dst, e.port) for e in graph.edges] == [(x, r, "seq"), (r, h, "seq")]
    assert graph.node(x).params["vocab_size"] == 4
    assert graph.node(r).params["hidden_size"] == 8 and graph.node(h).params["out_features"] == 4
    assert canvas.info.ok, canvas.problems_widget.messages()
    assert canvas.problems_widget.messages() == ["✓ The model is valid."]
    assert len(changes) == 8  # 3 adds, 2 connects, 3 properties
    assert "(B, T, 8)" in canvas.scene.nodes[h].inputs["seq"].toolTip()  # port hover
    # the node shows its shapes and parameter count; the total is shown
    assert canvas.scene.nodes[r].shapes["seq_out"] == "(B, T, 8)"
    model = build(graph, seed=0)
    assert canvas.scene.nodes[r].param_count == model.parameter_count(r) == 8 * 4 + 8 * 8 + 16
    assert f"{model.parameter_count():,} parameters" in canvas.total_label.text()

    # train briefly on "hello": h e l o -> ids 0 1 2 3, predict the next character
    seq = torch.tensor([[0, 1, 2, 2, 3]])
    inputs, targets = seq[:, :-1], seq[:, 1:]
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(inputs).transpose(1, 2), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]

    # step through the trace; each h_t agrees with the RNN equation computed here
    tr = trace(model, inputs, targets)
    rnn = model.layers[r].rnn
    W_ih, W_hh = rnn.weight_ih_l0.detach().numpy(), rnn.weight_hh_l0.detach().numpy()
    b = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().numpy()
    timeline = Timeline(tr.steps)
    h_prev = np.zeros(8)
    for t in range(tr.steps):
        timeline.step = t
        x_t = np.eye(4)[inputs[0, timeline.step]]
        h_t = np.tanh(W_ih @ x_t + W_hh @ h_prev + b)  # h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)
        np.testing.assert_allclose(tr.layer(r).h[0, timeline.step], h_t, atol=1e-5)
        h_prev = h_t
    assert tr.probs[0].argmax(-1).tolist() == targets[0].tolist()  # it learned "ello"

    # undo everything with Ctrl+Z, then redo with Ctrl+Shift+Z
    n = canvas.undo_stack.count()
    for _ in range(n):
        key(canvas, Qt.Key_Z)
    assert canvas.model.graph.nodes == [] and canvas.model.graph.edges == []
    assert canvas.scene.nodes == {} and canvas.scene.edges == {}
    for _ in range(n):
        key(canvas, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert canvas.graph.to_dict() == graph.to_dict()
    assert set(canvas.scene.nodes) == {x, r, h} and len(canvas.scene.edges) == 2
    assert canvas.info.ok


def test_invalid_connections_are_refused_with_a_message(qtbot, canvas):
    x, r, h = build_hello(qtbot, canvas)
    messages = []
    canvas.messageShown.connect(messages.append)
    before, count = canvas.graph.to_dict(), canvas.undo_stack.count()
    drag_connect(canvas, h, r, "state")                 # from the output head
    drag_connect(canvas, x, r, "state")                 # a sequence into a state port
    drag(canvas, port_point(canvas, x, "seq", "out"), port_point(canvas, r, "seq", "out"))
    drag_connect(canvas, r, h)                          # the port is taken
    assert len(messages) == 4
    assert "nothing may follow it" in messages[0]
    assert "takes a state output, not the seq output" in messages[1]
    assert "both ports are outputs" in messages[2]
    assert "already takes" in messages[3]
    assert canvas.message() == messages[-1]
    assert canvas.graph.to_dict() == before and canvas.undo_stack.count() == count
    assert "takes no input" in canvas.connect_nodes(h, x, "seq")
    g = canvas.add_node("gru")
    canvas.connect_nodes(r, g)
    assert "cycle" in canvas.connect_nodes(g, r, "state", from_output="state")


def test_validation_colours_nodes_and_lists_problems(qtbot, canvas):
    canvas.set_graph(chain(("x", "input", {"encoding": "embedding", "embed_dim": 6}),
                           ("att", "self_attention", {"num_heads": 2}),
                           ("head", "linear", {})))
    assert canvas.info.ok and not canvas.scene.nodes["att"].problems
    click_node(qtbot, canvas, "att")
    type_into(qtbot, canvas.properties_widget.fields["num_heads"], 4)
    assert not canvas.info.ok
    item = canvas.scene.nodes["att"]
    assert any("4 heads do not divide the width 6" in p for p in item.problems)
    assert "4 heads do not divide" in item.toolTip()  # shown on hover
    assert any("4 heads do not divide" in m for m in canvas.problems_widget.messages())
    assert "problem" in canvas.total_label.text()
    assert item.param_count is None  # no count for a node that cannot be built
    # clicking the problem selects the node
    canvas.scene.clearSelection()
    row = canvas.problems_widget.item(0)
    canvas.problems_widget.itemClicked.emit(row)
    assert canvas.selected_node() == "att"
    # fixing the width clears the error
    canvas.model.set_param("x", "embed_dim", 8)
    assert canvas.info.ok and not item.problems


def test_property_editor_follows_schema_and_undo(qtbot, canvas):
    pal = canvas.palette_widget  # keyboard users: select a kind and press Enter
    pal.setFocus()
    pal.setCurrentItem(pal.item_for("input"))
    qtbot.keyClick(pal, Qt.Key_Return)
    (x,) = canvas.scene.nodes
    assert canvas.model.node(x).kind == "input" and canvas.selected_node() == x
    fields = canvas.properties_widget.fields
    assert isinstance(fields["encoding"], QComboBox) and isinstance(fields["vocab_size"], QSpinBox)
    assert fields["vocab_size"].minimum() == 1
    assert not fields["features"].isVisibleTo(canvas) and fields["vocab_size"].isVisibleTo(canvas)
    fields["encoding"].setCurrentIndex(fields["encoding"].findData("numeric"))
    assert canvas.model.node(x).params["encoding"] == "numeric"
    assert fields["features"].isVisibleTo(canvas)
    assert not fields["vocab_size"].isVisibleTo(canvas)
    key(canvas, Qt.Key_Z)
    assert canvas.model.node(x).params["encoding"] == "onehot"
    assert fields["encoding"].currentData() == "onehot"  # the field follows undo
    r = canvas.add_node("lstm")
    assert isinstance(fields["bidirectional"], QCheckBox)
    fields["bidirectional"].setChecked(True)
    assert canvas.model.node(r).params["bidirectional"] is True
    assert fields["dropout"].maximum() == pytest.approx(0.95)
    # consecutive changes of one field merge into one undo step
    count = canvas.undo_stack.count()
    for v in (20, 21, 22):
        fields["hidden_size"].setValue(v)
    assert canvas.undo_stack.count() == count + 1
    canvas.undo_stack.undo()
    assert canvas.model.node(r).params["hidden_size"] == 32


def test_drop_move_delete_copy_paste_duplicate(qtbot, canvas):
    vp = canvas.view.viewport()
    mime = QMimeData()
    mime.setData(MIME_KIND, b"gru")
    at = QPointF(400, 300)
    QApplication.sendEvent(vp, QDragEnterEvent(at.toPoint(), Qt.CopyAction, mime,
                                               Qt.LeftButton, Qt.NoModifier))
    QApplication.sendEvent(vp, QDropEvent(at, Qt.CopyAction, mime, Qt.LeftButton,
                                          Qt.NoModifier))
    (g,) = canvas.scene.nodes
    assert canvas.model.node(g).kind == "gru"
    # move by dragging the header: one undoable move
    item = canvas.scene.nodes[g]
    start = canvas.view.mapFromScene(item.mapToScene(QPointF(100, 8)))
    old = canvas.model.node(g).pos
    drag(canvas, start, start + QPoint(80, 40))
    new = canvas.model.node(g).pos
    assert new != old and (item.pos().x(), item.pos().y()) == new
    key(canvas, Qt.Key_Z)
    assert canvas.model.node(g).pos == old and (item.pos().x(), item.pos().y()) == old
    # copy, paste twice, duplicate
    canvas.select_node(g)
    key(canvas, Qt.Key_C)
    key(canvas, Qt.Key_V)
    key(canvas, Qt.Key_V)
    assert len(canvas.model.graph.nodes) == 3
    key(canvas, Qt.Key_D)
    assert len(canvas.model.graph.nodes) == 4
    # delete the selection with the Delete key, then undo it
    canvas.select_node(g)
    before = canvas.graph.to_dict()
    key(canvas, Qt.Key_Delete, Qt.NoModifier)
    assert g not in canvas.scene.nodes and len(canvas.model.graph.nodes) == 3
    key(canvas, Qt.Key_Z)
    assert canvas.graph.to_dict() == before
    # a malformed clipboard (or an unknown kind) is refused with a message, no undo step
    count = canvas.undo_stack.count()
    bad = {"nodes": [{"id": "a", "kind": "conv", "params": {}, "pos": [0, 0]}], "edges": []}
    assert canvas.paste(bad) == [] and "unknown layer kind 'conv'" in canvas.message()
    assert canvas.add_node("gru", params={"hidden_size": -1}) == ""
    assert "Hidden size must be a positive integer" in canvas.message()
    assert canvas.undo_stack.count() == count and canvas.graph.to_dict() == before


def test_zoom_and_pan(qtbot, canvas):
    canvas.set_graph(chain(("x", "input", {}), ("l", "lstm", {}), ("h", "linear", {})))
    view = canvas.view
    z0 = view.zoom()
    center = QPointF(view.viewport().rect().center())
    ev = QWheelEvent(center, view.viewport().mapToGlobal(center), QPoint(), QPoint(0, 240),
                     Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), ev)
    assert view.zoom() == pytest.approx(min(z0 * 1.15 ** 2, 4.0))
    h0 = view.horizontalScrollBar().value()
    vp = view.viewport()
    QTest.mousePress(vp, Qt.MiddleButton, Qt.NoModifier, QPoint(300, 300))
    QTest.mouseMove(vp, QPoint(250, 300))
    QTest.mouseRelease(vp, Qt.MiddleButton, Qt.NoModifier, QPoint(250, 300))
    assert view.horizontalScrollBar().value() == h0 + 50


def test_bad_edge_drawn_in_error_colour_and_deletable(qtbot, canvas):
    from ui.canvas.demo import encoder_decoder
    from ui.canvas.items import ERROR

    graph = encoder_decoder()
    graph.node("dec").params["hidden_size"] = 16  # the encoder's state does not fit
    canvas.set_graph(graph)
    edge = next(e for e in canvas.scene.edges if e.port == "state")
    item = canvas.scene.edges[edge]
    assert item.problems and item.pen().color() == ERROR
    assert "hidden size 16 does not match" in item.toolTip()
    good = canvas.scene.edges[next(e for e in canvas.scene.edges if e.port == "seq")]
    assert not good.problems and good.pen().color() != ERROR
    canvas.scene.clearSelection()
    item.setSelected(True)
    key(canvas, Qt.Key_Delete, Qt.NoModifier)
    assert edge not in canvas.model.graph.edges and canvas.info.ok
    key(canvas, Qt.Key_Z)
    assert edge in canvas.model.graph.edges and canvas.scene.edges[edge].problems


def test_docked_panels_and_shared_model(qtbot):
    from PySide6.QtWidgets import QDockWidget, QMainWindow

    from playground.model.editing import GraphModel

    model = GraphModel(chain(("x", "input", {}), ("g", "gru", {}), ("h", "linear", {})))
    win = QMainWindow()
    qtbot.addWidget(win)
    canvas = CanvasView(model, embed_panels=False)
    win.setCentralWidget(canvas)
    for w in (canvas.palette_widget, canvas.properties_widget, canvas.problems_widget):
        dock = QDockWidget(w.objectName(), win)
        dock.setWidget(w)
        win.addDockWidget(Qt.RightDockWidgetArea, dock)
    win.show()
    selected = []
    canvas.nodeSelected.connect(selected.append)
    canvas.select_node("g")
    assert selected == ["g"] and canvas.properties_widget.node_id == "g"
    canvas.properties_widget.fields["hidden_size"].setValue(12)
    assert model.node("g").params["hidden_size"] == 12 and canvas.undo_stack.canUndo()
    canvas.set_graph(chain(("x", "input", {}), ("h", "linear", {})))
    assert set(canvas.scene.nodes) == {"x", "h"} and not canvas.undo_stack.canUndo()
    canvas.detach()
    model.add_node("lstm")  # no longer followed: the scene is unchanged, nothing breaks
    assert set(canvas.scene.nodes) == {"x", "h"}


def test_pick_up_an_edge_by_its_input_end(qtbot, canvas):
    canvas.set_graph(chain(("x", "input", {}), ("a", "gru", {}), ("b", "lstm", {}),
                           ("h", "linear", {})))
    before = canvas.graph.to_dict()
    # b -> h picked up and dropped on b's own input: refused, nothing changes
    drag(canvas, port_point(canvas, "h", "seq", "in"), port_point(canvas, "b", "seq", "in"))
    assert "cannot feed itself" in canvas.message()
    assert canvas.graph.to_dict() == before and canvas.scene.edges[chain_edge("b", "h")].isVisible()
    # drop it on empty canvas: the edge is removed
    empty = port_point(canvas, "h", "seq", "in") + QPoint(0, 150)
    drag(canvas, port_point(canvas, "h", "seq", "in"), empty)
    assert chain_edge("b", "h") not in canvas.model.graph.edges
    canvas.undo_stack.undo()
    assert canvas.graph.to_dict() == before
    # move a's input to b: x feeds b, a loses its input
    drag(canvas, port_point(canvas, "b", "seq", "in"), port_point(canvas, "b", "seq", "in"))
    assert canvas.graph.to_dict() == before  # dropped where it was: nothing changes
    canvas.model.disconnect("a", "b")
    canvas.undo_stack.clear()
    drag(canvas, port_point(canvas, "a", "seq", "in"), port_point(canvas, "b", "seq", "in"))
    assert chain_edge("x", "b") in canvas.model.graph.edges
    assert chain_edge("x", "a") not in canvas.model.graph.edges
    assert canvas.undo_stack.count() == 1
    canvas.undo_stack.undo()
    assert chain_edge("x", "a") in canvas.model.graph.edges


def chain_edge(src, dst, port="seq"):
    from playground.model.spec import EdgeSpec

    return EdgeSpec(src, dst, port)


def test_context_menu_adds_at_the_click_and_edits_the_selection(qtbot, canvas):
    canvas.set_graph(chain(("x", "input", {}), ("h", "linear", {})))
    node = canvas.scene.nodes["x"]
    on_node = canvas.view.mapFromScene(node.mapToScene(QPointF(50, 8)))
    menu = canvas.context_menu(on_node)
    assert canvas.selected_node() == "x"
    texts = [a.text() for a in menu.actions()]
    assert {"Copy nodes", "Duplicate nodes", "Delete nodes"} <= set(texts)
    canvas.scene.clearSelection()
    empty = QPoint(20, 20)
    at = canvas.view.mapToScene(empty)
    menu = canvas.context_menu(empty)
    assert "Delete" not in [a.text() for a in menu.actions()]
    add = next(a.menu() for a in menu.actions() if a.text() == "Add layer here")
    next(a for a in add.actions() if a.text() == "GRU").trigger()
    (g,) = set(canvas.scene.nodes) - {"x", "h"}
    assert canvas.model.node(g).pos == (at.x(), at.y())


def test_copied_nodes_leave_the_clipboard_on_quit(qtbot, canvas):
    from ui.app import clear_clipboard
    from ui.canvas.widget import MIME_NODES

    canvas.set_graph(chain(("x", "input", {}), ("l", "lstm", {}), ("h", "linear", {})))
    canvas.select_node("l")
    assert canvas.copy_selected() is not None
    assert QApplication.clipboard().mimeData().hasFormat(MIME_NODES)
    clear_clipboard()
    mime = QApplication.clipboard().mimeData()
    assert mime is None or not mime.hasFormat(MIME_NODES)


def test_quitting_with_nodes_copied_exits_cleanly():
    import subprocess
    import sys

    code = ("from PySide6.QtCore import QTimer\n"
            "from ui.app import make_app\n"
            "from ui.canvas import CanvasView\n"
            "from playground.model.spec import chain\n"
            "app = make_app()\n"
            "c = CanvasView(); c.set_graph(chain(('x', 'input', {}), ('l', 'gru', {})))\n"
            "c.show(); c.select_node('l'); assert c.copy_selected()\n"
            "QTimer.singleShot(50, app.quit)\n"
            "raise SystemExit(app.exec())\n")
    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                       timeout=120, env={**__import__("os").environ,
                                         "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr[-2000:]


def test_the_graph_follows_the_view_size_until_zoomed(qtbot, canvas):
    canvas.set_graph(chain(("x", "input", {}), ("l", "lstm", {}), ("h", "linear", {})))
    view = canvas.view
    canvas.resize(500, 400)
    qtbot.waitUntil(lambda: view.width() < 600)
    view.fit()
    small = view.zoom()
    canvas.resize(1400, 800)
    qtbot.waitUntil(lambda: view.width() > 900)
    assert view.zoom() > small * 1.3            # refitted to the bigger view
    view.zoom_by(0.5)
    z = view.zoom()
    canvas.resize(900, 700)
    qtbot.waitUntil(lambda: view.width() < 900)
    assert view.zoom() == pytest.approx(z)      # the user's zoom is kept
