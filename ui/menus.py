"""The window's menus, from one table, with the platform's standard shortcuts shown; and
the Help menu's keyboard-shortcut list (made from the actions themselves) and About box."""

from __future__ import annotations

import html
import sys

from PySide6 import QtCore, QtGui, QtWidgets

from playground import __version__

K = QtGui.QKeySequence
S = QtGui.QKeySequence.StandardKey

# The step keys are window shortcuts of the step controls (ui.step_controls).
STEP_KEYS = (("Left / Right", "previous / next step"), ("Space", "play / pause"),
             ("Home / End", "first / last step"))
CANVAS_KEYS = (("Drag output → input", "connect two layers"), ("Wheel", "zoom the canvas"),
               ("Middle-drag", "pan the canvas"), ("F", "fit the model in view"))
# File actions that need the core (and the window's FileActions): disabled while it loads
NEEDS_CORE = ("new", "gallery", "open", "save", "save_as", "export")


def _files(win, method: str):
    """A slot calling ``win.files.<method>()``: the window makes its FileActions once the
    core is loaded (ui.main_window.MainWindow.attach_core); the action is disabled before."""
    return lambda: getattr(win.files, method)()


def build_menus(win) -> dict[str, QtGui.QAction]:
    """File, Edit, View and Help for ``win`` (a MainWindow); returns the actions by name.
    The File menu's "Open recent" is ``win.recent_menu``."""
    canvas = win.canvas
    undo = canvas.undo_stack.createUndoAction(win, "&Undo")
    redo = canvas.undo_stack.createRedoAction(win, "&Redo")
    # (title, shortcuts, slot or existing action) per menu; None is a separator
    table = {
        "&File": [("new", "&New (empty canvas)", [S.New], _files(win, "new")),
                  ("gallery", "New from &preset gallery...", [K("Ctrl+Shift+N")],
                   _files(win, "gallery")),
                  ("open", "&Open...", [S.Open], _files(win, "open")),
                  ("recent", "Open &recent", None, None), None,
                  ("save", "&Save", [S.Save], _files(win, "save")),
                  ("save_as", "Save &as...", [S.SaveAs], _files(win, "save_as")),
                  ("export", "&Export as PyTorch...", [K("Ctrl+E")], _files(win, "export")),
                  None,
                  ("quit", "&Quit", [S.Quit, K("Ctrl+Q")], win.close)],
        # the canvas's own actions (they act while the canvas has the focus)
        "&Edit": [("undo", undo, [S.Undo], None),
                  ("redo", redo, [S.Redo, K("Ctrl+Shift+Z"), K("Ctrl+Y")], None), None,
                  *[(name, canvas.actions_by_name[name], None, None)
                    for name in ("copy", "paste", "duplicate", "delete", "select_all")]],
        "&View": [("reset_layout", "&Reset layout", [], win.reset_layout), None],
        "&Help": [("shortcuts", "&Keyboard shortcuts", [S.HelpContents],
                   lambda: show_shortcuts(win)),
                  ("about", "&About Sequence Playground", [], lambda: show_about(win))],
    }
    actions: dict[str, QtGui.QAction] = {}
    for title, entries in table.items():
        menu = win.menuBar().addMenu(title)
        for entry in entries:
            if entry is None:
                menu.addSeparator()
                continue
            name, text, keys, slot = entry
            if name == "recent":   # FileActions fills it (and enables it) once made
                win.recent_menu = menu.addMenu(text)
                win.recent_menu.setEnabled(False)
                continue
            act = text if isinstance(text, QtGui.QAction) else QtGui.QAction(text, win)
            if keys is not None:   # every binding the platform has for a standard key
                seqs = [s for k in keys for s in (K.keyBindings(k) if isinstance(k, S)
                                                  else [k])]
                act.setShortcuts(list(dict.fromkeys(seqs)))
            if slot is not None:
                act.triggered.connect(lambda _=False, f=slot: f())
            menu.addAction(act)
            actions[name] = act
        if title == "&View":
            for d in win.docks.values():
                menu.addAction(d.toggleViewAction())
    # the canvas's own undo and redo keys would make the window's ambiguous
    canvas.actions_by_name["undo"].setShortcuts([])
    canvas.actions_by_name["redo"].setShortcuts([])
    win.addActions([a for n, a in actions.items() if n not in canvas.actions_by_name])
    return actions


def shortcut_rows(win) -> list[tuple[str, str]]:
    """(keys, what they do) for every menu action with a shortcut, then the step and canvas
    keys: the list Help shows."""
    rows = []
    for act in win.menus.values():
        keys = " or ".join(k.toString(K.SequenceFormat.NativeText) for k in act.shortcuts())
        if keys:
            rows.append((keys, act.text().replace("&", "").rstrip(".")))
    return rows + list(STEP_KEYS) + list(CANVAS_KEYS)


def show_shortcuts(win) -> QtWidgets.QMessageBox:
    rows = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>&nbsp;{html.escape(v)}</td></tr>"
                   for k, v in shortcut_rows(win))
    box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Information, "Keyboard shortcuts",
                                f"<table>{rows}</table>", parent=win)
    box.setObjectName("shortcutsBox")
    box.open()
    return box


def show_about(win) -> QtWidgets.QMessageBox:
    if win.controller is not None:   # the core is loaded
        import torch

        torch_version = torch.__version__
    else:   # while it loads: importing it here would wait for the loader thread
        torch_version = "(loading)"
    text = (f"<h3>Sequence Playground {__version__}</h3>"
            "<p>Build recurrent and attention models, or open your own, and watch them think "
            "one time step at a time: states, gates, outputs and the gradients of "
            "backpropagation through time, exact to PyTorch.</p>"
            f"<p>PyTorch {torch_version}, Qt {QtCore.qVersion()}, Python "
            f"{sys.version.split()[0]}</p>")
    box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.NoIcon, "About Sequence Playground",
                                text, parent=win)
    box.setObjectName("aboutBox")
    box.open()
    return box
