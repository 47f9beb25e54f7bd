"""The canvas editor: build a model by drag and drop, with live validation and undo.

Contract with the main window::

    from ui.canvas import CanvasView
    canvas = CanvasView(model: playground.model.editing.GraphModel | None = None, parent=None,
                        embed_panels=True)

* ``CanvasView`` is a QWidget. By default it lays out the palette, the graph view, the
  property editor and the problems list itself. The window may instead dock them: the
  widgets are ``canvas.palette_widget``, ``canvas.properties_widget`` and
  ``canvas.problems_widget`` (pass ``embed_panels=False`` so the canvas lays out only
  the graph view and its status line).
* Signal ``nodeSelected(str)``: the id of the single selected node ("" when none).
* Signal ``graphChanged()``: after each edit (and undo/redo). The window re-validates
  (``canvas.info`` is the fresh :class:`playground.model.editing.EditInfo`, ``info.ok``) and
  re-traces when valid; it keeps the last valid trace when not.
* Signal ``messageShown(str)``: an edit was refused (e.g. an invalid connection).
* ``set_graph(GraphSpec)`` replaces the content and clears the undo history;
  ``canvas.graph`` is a copy of the edited graph; ``canvas.model`` the GraphModel.
* ``canvas.undo_stack`` (QUndoStack) for the window's Undo/Redo actions
  (``undo_stack.createUndoAction(...)``); the canvas itself handles Ctrl+Z,
  Ctrl+Shift+Z, Delete, Ctrl+C/V/D, F (fit) while it has focus.
* ``select_node(id)``; ``canvas.info.total_params`` is the model's parameter count;
  ``canvas.view.fit()`` zooms to show every node.
* ``detach()`` stops the canvas following its model (before dropping a canvas whose
  GraphModel lives on).
* Keeping trained weights across edits: ``playground.model.editing.carry_weights`` (or
  ``playground.model.editing.rebuild(old_model, new_graph)`` -> ``(model, reinitialised ids)``).

Gestures: drag a palette entry onto the canvas (or double-click it / press Enter); drag
from an output port (right) to an input port (left) to connect; drag a connected input's
edge away to move or remove it; Delete, Ctrl+C / Ctrl+V / Ctrl+D, Ctrl+Z /
Ctrl+Shift+Z; mouse wheel zooms, middle button (or Alt + drag) pans, F fits.

Modules: ``items`` (nodes, ports, edges), ``scene`` (follows GraphModel events, turns
gestures into commands), ``commands`` (QUndoCommands calling GraphModel methods only),
``palette`` (one entry per registered kind), ``properties`` (generated from each kind's
parameters in ``playground.model.registry``), ``view`` (zoom, pan, drops), ``widget``
(CanvasView, ProblemsList), ``demo`` (the docs screenshot).
"""

from .widget import CanvasView, ProblemsList

__all__ = ["CanvasView", "ProblemsList"]
