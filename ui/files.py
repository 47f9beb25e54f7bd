"""The File menu's dialogs: New, Open, the preset gallery, Save, Save As, Export, recent
files, and the questions about unsaved work (also when quitting during training).

The work itself is the controller's (:class:`~ui.controller.Controller`); this module only
asks the user. A file that cannot be opened shows its error and the current experiment stays.
"""

from __future__ import annotations

import os

from PySide6 import QtWidgets

MAX_RECENT = 8
FILTER = "Experiments and comparisons (*.json);;All files (*)"


class FileActions:
    """The window's file actions. ``ask_unsaved`` / ``ask_path`` / ``ask_stop_training`` /
    ``show_error`` are replaceable (tests answer the dialogs through them)."""

    def __init__(self, window):
        self.window = window
        self.controller = window.controller
        self.recent_menu: QtWidgets.QMenu | None = None
        self.ask_unsaved = self._ask_unsaved          # -> "save" | "discard" | "cancel"
        self.ask_path = self._ask_path                # (title, save, filter) -> str | None
        self.ask_stop_training = self._ask_stop       # -> bool: stop it and go on
        self.show_error = self._show_error            # (title, message) -> None
        self.ask_read_outside = self._ask_read_outside  # (files) -> bool: read them
        self.controller.read_outside_prompt = lambda files: self.ask_read_outside(files)
        self.last_error = ""

    # -- recent files ---------------------------------------------------------------------
    def recent(self) -> list[str]:
        v = self.window.settings.value("files/recent", [])
        v = [v] if isinstance(v, str) else v
        return [p for p in (v or []) if isinstance(p, str)]

    def _add_recent(self, path: str) -> None:
        path = os.path.abspath(path)
        items = [path] + [p for p in self.recent() if p != path]
        self.window.settings.setValue("files/recent", items[:MAX_RECENT])
        self.fill_recent()

    def fill_recent(self) -> None:
        if self.recent_menu is None:
            return
        self.recent_menu.clear()
        for p in self.recent():
            self.recent_menu.addAction(os.path.basename(p), lambda p=p: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.recent()))

    # -- opening --------------------------------------------------------------------------
    def new(self) -> bool:
        """An empty canvas, untitled."""
        if self._members_training("start a new experiment"):
            return False
        if not self.maybe_save():
            return False
        if getattr(self.window, "compare_view", None) is not None:
            from .compare import leave

            leave(self.window)
        self.controller.new()
        return True

    def _members_training(self, what: str) -> bool:
        """A model of the comparison on screen is training: say so, and do nothing (its
        training would be dropped with the comparison)."""
        from .compare import training

        if not training(self.window):
            return False
        self.last_error = problem = (f"a model of the comparison is training: stop it first, "
                                     f"then {what}")
        self.show_error("Training is running", problem)
        return True

    def open_default(self) -> bool:
        self.controller.open_default()
        return True

    def open(self) -> bool:
        if not self.maybe_save():
            return False
        path = self.ask_path("Open an experiment", False, FILTER)
        return bool(path) and self.open_path(path, ask=False)

    def gallery(self) -> bool:
        from .gallery import GalleryDialog

        if not self.maybe_save():
            return False
        dlg = GalleryDialog(self.window, {k: d.windowTitle()
                                          for k, d in self.window.docks.items()})
        return bool(dlg.exec()) and self.open_chosen(dlg)

    def open_chosen(self, dlg) -> bool:
        """Open the preset chosen in the gallery ``dlg``; after Show me, show the first
        step of its lesson."""
        if not dlg.chosen or not self.open_path(dlg.chosen, as_copy=True, ask=False):
            return False
        if dlg.show_me:
            self.window.walker.show(0)
        return True

    def open_path(self, path, as_copy: bool = False, ask: bool = True) -> bool:
        """Open an experiment file (``as_copy``: a preset, saved elsewhere)."""
        if self._members_training("open"):
            return False
        if ask and not self.maybe_save():
            return False
        from playground.files.comparison import is_comparison

        if is_comparison(path):   # two to four experiments side by side (ui.compare)
            from .compare import open_in

            problem = open_in(self.window, path)
            if problem:
                self.last_error = problem
                self.show_error("Cannot open the comparison", problem)
            return not problem
        problem = self.controller.open(path, as_copy=as_copy)
        if problem:
            self.last_error = problem
            self.show_error("Cannot open the experiment", problem)
            return False
        if getattr(self.window, "compare_view", None) is not None:
            from .compare import leave

            leave(self.window)
        if not as_copy:
            self._add_recent(str(path))
        c = self.controller
        self.window.statusBar().showMessage(f"opened {c.name} ({c.weights.label()})", 15_000)
        from playground.files.trained import nonfinite_weights

        broken = nonfinite_weights(getattr(c.experiment, "weights", None))
        if broken:
            self.show_error("The weights look broken", f"{path}: {broken}")
        return True

    # -- saving ---------------------------------------------------------------------------
    def save(self) -> bool:
        if self.controller.path is None:
            return self.save_as()
        return self.save_to(self.controller.path)

    def save_as(self) -> bool:
        path = self.ask_path("Save the experiment as", True, FILTER)
        if not path:
            return False
        if not path.lower().endswith(".json"):
            path += ".json"
        return self.save_to(path)

    def save_to(self, path: str) -> bool:
        """Write the experiment (graph as edited, weights as trained) to ``path``."""
        problem = self.controller.save(path)
        if problem:
            self.show_error("Cannot save", problem)
            return False
        self._add_recent(str(path))
        self.window.statusBar().showMessage(f"saved {path}", 8000)
        self.window._update_title()
        return True

    def export(self) -> bool:
        """File > Export as PyTorch: a standalone script, its weights and the data set (the
        script's ``--train NAME_data.pt``)."""
        from playground.files.export import data_path

        path = self.ask_path("Export as a PyTorch script", True, "Python (*.py)")
        if not path:
            return False
        problem = self.controller.export(path)
        if problem:
            self.show_error("Cannot export", problem)
            return False
        data = data_path(path)
        script = data.with_name(data.name.removesuffix("_data.pt") + ".py")
        self.window.statusBar().showMessage(
            f"exported {script}, its weights and the data set {data.name} (train on it: "
            f"python {script.name} --train {data.name})", 12_000)
        return True

    # -- questions ------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Ask about unsaved changes; False when the user cancels."""
        if not self.controller.dirty:
            return True
        answer = self.ask_unsaved()
        if answer == "cancel":
            return False
        if answer == "save":
            return self.save()
        return True

    def maybe_close(self) -> bool:
        """Before the window closes: a running training is stopped only when the user says
        so (its steps so far are then unsaved work), then unsaved work is asked about."""
        job = self.controller.training
        if job.running:
            if not self.ask_stop_training():
                return False
            job.shutdown()
            self.controller.set_dirty(True)
        return self.maybe_save()

    def _ask_stop(self) -> bool:
        B = QtWidgets.QMessageBox.StandardButton
        step = job.trainer.step if (job := self.controller.training).trainer else 0
        r = QtWidgets.QMessageBox.question(
            self.window, "Training is running",
            f"Training is at step {step}. Stop it and close? (You can save what it has "
            "learnt so far.)", B.Yes | B.Cancel, B.Cancel)
        return r == B.Yes

    def _ask_read_outside(self, files) -> bool:
        B = QtWidgets.QMessageBox.StandardButton
        names = "\n".join(str(f) for f in files)
        r = QtWidgets.QMessageBox.question(
            self.window, "Read a file outside the experiment's folder?",
            f"This experiment reads its data from\n{names}\noutside its own folder. An "
            "experiment file from someone else can name any file on this computer. Read it?",
            B.Yes | B.No, B.No)
        return r == B.Yes

    def _ask_unsaved(self) -> str:
        B = QtWidgets.QMessageBox.StandardButton
        r = QtWidgets.QMessageBox.question(
            self.window, "Unsaved changes",
            f"'{self.controller.name}' has changes (training or edits) that are not saved. "
            "Save them?", B.Save | B.Discard | B.Cancel, B.Save)
        return {B.Save: "save", B.Discard: "discard"}.get(r, "cancel")

    def _ask_path(self, title: str, save: bool, filt: str) -> str | None:
        start = os.path.dirname(self.controller.path or "") or os.getcwd()
        fn = QtWidgets.QFileDialog.getSaveFileName if save else \
            QtWidgets.QFileDialog.getOpenFileName
        path, _ = fn(self.window, title, start, filt)
        return path or None

    def _show_error(self, title: str, message: str) -> None:
        self.window.statusBar().showMessage(message, 15_000)
        QtWidgets.QMessageBox.warning(self.window, title, message)
