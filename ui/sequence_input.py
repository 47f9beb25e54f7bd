"""The sequence input dock: type text or numbers, load a file, or pick a task sample.

The trace follows the input as it is typed, with no pause: the keys typed in one turn of
the event loop are applied together, at the end of that turn. A trace that takes long runs
in the background (:mod:`ui.tracejob`): the panels keep the last one and a line under the
text says so until it is done. A sequence the model cannot read is shown inline in red with
the core's message, and the last good trace stays.
"""

from __future__ import annotations

import os

from PySide6 import QtCore, QtWidgets

from playground.errors import PlaygroundError

BUSY_TEXT = ("A long trace runs in the background: the panels show the last sequence until "
             "it is done.")


class SequenceInput(QtWidgets.QWidget):
    """Text box, file and sample buttons, and the inline error line, for a Controller."""

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.session = controller
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        self.hint = QtWidgets.QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color:#555;")
        lay.addWidget(self.hint)
        self.edit = QtWidgets.QLineEdit()
        self.edit.setObjectName("sequenceEdit")
        self.edit.setPlaceholderText("type a sequence, e.g. hell")
        self.edit.setClearButtonEnabled(True)
        self.edit.textEdited.connect(self._edited)
        self.edit.returnPressed.connect(self.apply)
        line = QtWidgets.QHBoxLayout()
        line.addWidget(self.edit, 1)
        self.busy = QtWidgets.QLabel("tracing…")   # beside the text it is about
        self.busy.setObjectName("traceBusy")
        self.busy.setToolTip(BUSY_TEXT)
        self.busy.setStyleSheet("color:#7a5300;")
        keep = self.busy.sizePolicy()
        keep.setRetainSizeWhenHidden(True)   # shown and hidden without moving the text
        self.busy.setSizePolicy(keep)
        self.busy.hide()
        line.addWidget(self.busy)
        lay.addLayout(line)
        self.error = QtWidgets.QLabel()   # right under the text it is about
        self.error.setObjectName("inputError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color:#c62828; font-weight:bold;")
        self.error.hide()
        lay.addWidget(self.error)
        row = QtWidgets.QHBoxLayout()
        self.example_btn = QtWidgets.QPushButton("Task example")
        self.example_btn.setToolTip("the task's fixed example sequence")
        self.example_btn.clicked.connect(lambda: self.session.sample("example"))
        self.random_btn = QtWidgets.QPushButton("Random sample")
        self.random_btn.setToolTip("a fresh sequence drawn from the task")
        self.random_btn.clicked.connect(lambda: self.session.sample("random"))
        self.file_btn = QtWidgets.QPushButton("Load file...")
        self.file_btn.setToolTip("read a sequence from a .txt, .csv or .npy file")
        self.file_btn.clicked.connect(self._ask_file)
        for b in (self.example_btn, self.random_btn, self.file_btn):
            row.addWidget(b)
        lay.addLayout(row)
        lay.addStretch(1)
        self._timer = QtCore.QTimer(self)     # the end of this turn of the event loop
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.apply)
        controller.inputError.connect(self.show_error)
        controller.traceBusy.connect(self.busy.setVisible)
        controller.opened.connect(self._opened)
        controller.traceChanged.connect(self._trace_changed)

    # -- session -> view ------------------------------------------------------------------
    def _opened(self) -> None:
        """A new experiment: its vocabulary, its input, no error left from the last one."""
        self._timer.stop()
        self.edit.setText(self.session.input_as_text())
        ds = self.session.dataset
        if ds is None:
            return
        if ds.vocab is not None:
            level = "words" if ds.vocab.level == "word" else "characters"
            self.hint.setText(f"Type {level} from the vocabulary: {ds.vocab.preview(16)}.")
            self.edit.setPlaceholderText("type a sequence, e.g. " + ds.vocab.join(
                list(ds.vocab.symbols[:4])))
        else:
            f = ds.input_features or 1
            self.hint.setText("Type numbers separated by commas or spaces" +
                              (f" ({f} per step; steps separated by ';')" if f > 1 else "") + ".")
            self.edit.setPlaceholderText("e.g. 0.1, 0.5, 0.9")
        self.show_error("")

    def _trace_changed(self) -> None:
        text = self.session.input_as_text()
        if not self.edit.hasFocus() and self.edit.text() != text:
            self.edit.setText(text)

    def show_error(self, msg: str) -> None:
        self.error.setText(msg)
        self.error.setVisible(bool(msg))

    # -- view -> session ------------------------------------------------------------------
    def _edited(self, _text: str) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def apply(self) -> bool:
        self._timer.stop()
        return self.session.set_input_text(self.edit.text())

    def set_text(self, text: str) -> bool:
        """Type ``text`` and apply it at once (as Enter does)."""
        self.edit.setText(text)
        return self.apply()

    def stop(self) -> None:
        self._timer.stop()

    def _ask_file(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Load a sequence", "", "Sequences (*.txt *.csv *.npy *.npz);;All files (*)")
        if path:
            self.load_file(path)

    def load_file(self, path: str) -> bool:
        """Read a sequence file into the text box (text as is, arrays as numbers)."""
        from playground.data import sources

        try:
            ext = os.path.splitext(path)[1].lower()
            if ext in (".npy", ".npz"):
                arr = sources.read_array(path)[0]               # (T, F)
                text = "; ".join(", ".join(f"{v:g}" for v in row) for row in arr) \
                    if arr.shape[1] > 1 else ", ".join(f"{v:g}" for v in arr[:, 0])
            elif ext == ".csv":
                arr, _names = sources.read_csv(path)
                text = "; ".join(", ".join(f"{v:g}" for v in row) for row in arr)
            else:
                text = sources.read_text(path).rstrip("\n")
        except (PlaygroundError, OSError, ValueError) as e:
            self.show_error(str(e))
            return False
        except MemoryError:
            self.show_error(f"{path}: too large to read into memory")
            return False
        return self.set_text(text)
