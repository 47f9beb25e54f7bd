"""File menu: New, Open, preset gallery, Save, Save As, recent files, unsaved changes.

Experiment files are read by :mod:`playground.files.experiment` (JSON, weights with
``weights_only=True``). A file that cannot be opened shows its error and the current
experiment stays.
"""

from __future__ import annotations

import os

from PySide6 import QtGui, QtWidgets

from playground.errors import PlaygroundError

from .session import HELLO_TEXT

MAX_RECENT = 8
FILTER = "Experiments (*.json);;All files (*)"


class FileController:
    """The window's file actions. ``ask_unsaved`` / ``ask_path`` / ``show_error`` are
    replaceable (tests answer the dialogs through them)."""

    def __init__(self, window):
        self.window = window
        self.session = window.session
        self.recent_menu: QtWidgets.QMenu | None = None
        self.ask_unsaved = self._ask_unsaved      # -> "save" | "discard" | "cancel"
        self.ask_path = self._ask_path            # (title, save: bool) -> str | None
        self.show_error = self._show_error        # (title, message) -> None
        self.last_error = ""

    # -- menu ---------------------------------------------------------------------------
    def add_actions(self, menu: QtWidgets.QMenu) -> None:
        K = QtGui.QKeySequence
        menu.addAction("&New", K.StandardKey.New, self.new)
        menu.addAction("New from &preset gallery...", K("Ctrl+Shift+N"), self.gallery)
        menu.addAction("&Open...", K.StandardKey.Open, self.open)
        self.recent_menu = menu.addMenu("Open &recent")
        self._fill_recent()
        menu.addSeparator()
        menu.addAction("&Save", K.StandardKey.Save, self.save)
        menu.addAction("Save &as...", K.StandardKey.SaveAs, self.save_as)
        menu.addSeparator()
        menu.addAction("&Quit", K.StandardKey.Quit, self.window.close)

    def recent(self) -> list[str]:
        v = self.window.settings.value("files/recent", [])
        if isinstance(v, str):
            v = [v]
        return [p for p in (v or []) if isinstance(p, str)]

    def _add_recent(self, path: str) -> None:
        path = os.path.abspath(path)
        items = [path] + [p for p in self.recent() if p != path]
        self.window.settings.setValue("files/recent", items[:MAX_RECENT])
        self._fill_recent()

    def _fill_recent(self) -> None:
        if self.recent_menu is None:
            return
        self.recent_menu.clear()
        for p in self.recent():
            self.recent_menu.addAction(os.path.basename(p), lambda p=p: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.recent()))

    # -- opening --------------------------------------------------------------------------
    def new(self) -> bool:
        """Start again from the default preset, as an untitled experiment."""
        if not self.maybe_save():
            return False
        return self.open_default()

    def open_default(self) -> bool:
        from playground.files import experiment

        try:
            path = experiment.resolve(experiment.DEFAULT_PRESET)
        except PlaygroundError:
            path = None
        if path is not None and os.path.exists(path) and self.open_path(path, as_copy=True,
                                                                         ask=False):
            return True
        self.session.load_default()
        return True

    def open(self) -> bool:
        if not self.maybe_save():
            return False
        path = self.ask_path("Open an experiment", False)
        return bool(path) and self.open_path(path, ask=False)

    def gallery(self) -> bool:
        from .gallery import GalleryDialog

        if not self.maybe_save():
            return False
        dlg = GalleryDialog(self.window)
        if dlg.exec() and dlg.chosen:
            return self.open_path(dlg.chosen, as_copy=True, ask=False)
        return False

    def open_path(self, path, as_copy: bool = False, ask: bool = True) -> bool:
        """Open an experiment file (``as_copy``: a preset, saved elsewhere). On any problem
        show it and keep the current experiment."""
        if ask and not self.maybe_save():
            return False
        from playground.files import experiment

        try:
            exp = experiment.load(path)
            model = exp.build_model()
            dataset = exp.make_dataset()
        except PlaygroundError as e:
            self.last_error = str(e)
            self.show_error("Cannot open the experiment", str(e))
            return False
        except (OSError, ValueError, RuntimeError) as e:
            self.last_error = f"{path}: {e}"
            self.show_error("Cannot open the experiment", self.last_error)
            return False
        if as_copy:
            exp.path = None
        self.session.load(exp.graph, model, dataset, name=exp.name, description=exp.description,
                          look_at=exp.what_to_look_at, path=None if as_copy else str(path),
                          experiment=exp, train_config=exp.train)
        if not as_copy:
            self._add_recent(str(path))
        self.window.statusBar().showMessage(f"opened {exp.name}: {exp.what_to_look_at}", 15_000)
        return True

    # -- saving ---------------------------------------------------------------------------
    def save(self) -> bool:
        if self.session.path is None:
            return self.save_as()
        return self.save_to(self.session.path)

    def save_as(self) -> bool:
        path = self.ask_path("Save the experiment as", True)
        if not path:
            return False
        if not path.lower().endswith(".json"):
            path += ".json"
        return self.save_to(path)

    def save_to(self, path: str) -> bool:
        """Write the experiment (graph as edited, weights as trained) to ``path``."""
        from playground.files import experiment

        s = self.session
        if self.window.training.running:
            self.show_error("Cannot save now", "stop training first, then save")
            return False
        exp = s.experiment
        try:
            if exp is None:
                exp = experiment.Experiment(
                    name=s.name, graph=s.graph,
                    data={"source": "text", "text": HELLO_TEXT,
                          "level": "char", "window": 8}, description=s.description,
                    what_to_look_at=s.look_at)
            exp.graph = s.graph.copy()
            if exp.name.endswith("(built-in)"):
                exp.name = os.path.splitext(os.path.basename(path))[0]
            exp.save(path, model=s.model)
        except (PlaygroundError, OSError, ValueError) as e:
            self.show_error("Cannot save", str(e))
            return False
        s.experiment, s.path = exp, str(path)
        s.name = exp.name
        s.set_dirty(False)
        self._add_recent(str(path))
        self.window.statusBar().showMessage(f"saved {path}", 8000)
        self.window._update_title()
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; False when the user cancels."""
        if not self.session.dirty:
            return True
        answer = self.ask_unsaved()
        if answer == "cancel":
            return False
        if answer == "save":
            return self.save()
        return True

    # -- dialogs --------------------------------------------------------------------------
    def _ask_unsaved(self) -> str:
        B = QtWidgets.QMessageBox.StandardButton
        r = QtWidgets.QMessageBox.question(
            self.window, "Unsaved changes",
            f"'{self.session.name}' has changes (training or edits) that are not saved. "
            "Save them?", B.Save | B.Discard | B.Cancel, B.Save)
        return {B.Save: "save", B.Discard: "discard"}.get(r, "cancel")

    def _ask_path(self, title: str, save: bool) -> str | None:
        start = os.path.dirname(self.session.path or "") or os.getcwd()
        fn = QtWidgets.QFileDialog.getSaveFileName if save else \
            QtWidgets.QFileDialog.getOpenFileName
        path, _ = fn(self.window, title, start, FILTER)
        return path or None

    def _show_error(self, title: str, message: str) -> None:
        self.window.statusBar().showMessage(message, 15_000)
        QtWidgets.QMessageBox.warning(self.window, title, message)
