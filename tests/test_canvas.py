"""Canvas editor driven as a user would (pytest-qt, offscreen)."""

import pytest

pytest.importorskip("pytestqt")

from playground.spec import chain  # noqa: E402
from ui.canvas import CanvasView  # noqa: E402


@pytest.fixture
def canvas(qtbot):
    view = CanvasView()
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    return view


def test_set_graph_shows_nodes_and_edges(canvas):
    canvas.set_graph(chain(("x", "input", {}), ("l", "lstm", {}), ("h", "linear", {})))
    assert set(canvas.scene.nodes) == {"x", "l", "h"}
    assert len(canvas.scene.edges) == 2
    assert canvas.info.ok
    assert not canvas.undo_stack.canUndo()
