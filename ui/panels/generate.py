"""The Generate dock: continue a prompt with the model, and step through the result.

A prompt, a length and a mode (greedy, sampling with temperature and top-k, beam search),
one call to :meth:`ui.controller.Controller.generate` (which runs the core's
:func:`playground.train.generate.generate` in a thread), and the result: the prompt in
grey and what the model wrote in blue, the task's answer beside it where there is one; for
a values model a plot of the input, the forecast drawn past it and the truth. "Use as
input" types the sequence into the sequence input so that the panels step through it.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

INPUT_PEN = pg.mkPen("#1f77b4", width=2)
FORECAST_PEN = pg.mkPen("#ff7f0e", width=2)
TRUTH_PEN = pg.mkPen(90, 90, 90, 200, width=1.5, style=QtCore.Qt.PenStyle.DashLine)
MODES = (("Greedy", "greedy"), ("Sample", "sample"), ("Beam search", "beam"))
PROMPT_COLOR, MADE_COLOR, WRONG_COLOR = "#666", "#1565c0", "#c62828"


def _visible(symbols) -> str:
    """Symbols as HTML, blanks and newlines made visible."""
    shown = {" ": "␣", "\n": "⏎", "\t": "⇥"}
    return "".join(html.escape(shown.get(s, s)) for s in symbols)


class GeneratePanel(QtWidgets.QWidget):
    """Prompt, length, mode and its options, Generate and Use as input, and the result."""

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.job = controller.generation
        self.result = None            # the last Generation shown
        self.setup: dict = {}
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        form = QtWidgets.QFormLayout()
        self.prompt = QtWidgets.QLineEdit()
        self.prompt.setObjectName("generatePrompt")
        self.length = QtWidgets.QSpinBox()
        self.length.setRange(0, 5000)
        self.length.setSuffix(" steps")
        self.mode = QtWidgets.QComboBox()
        for label, key in MODES:
            self.mode.addItem(label, key)
        self.temperature = QtWidgets.QDoubleSpinBox()
        self.temperature.setRange(0.05, 10.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setToolTip("sampling divides the logits by this before the softmax: "
                                    "below 1 sharper, above 1 flatter")
        self.top_k = QtWidgets.QSpinBox()
        self.top_k.setSpecialValueText("all")
        self.top_k.setToolTip("sample only among the k most likely symbols")
        self.seed = QtWidgets.QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("the same seed draws the same sample")
        self.beam_width = QtWidgets.QSpinBox()
        self.beam_width.setRange(1, 64)
        self.beam_width.setToolTip("beam search keeps this many partial sequences at every step")
        form.addRow("Prompt", self.prompt)
        form.addRow("Length", self.length)
        form.addRow("Mode", self.mode)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-k", self.top_k)
        form.addRow("Seed", self.seed)
        form.addRow("Beam width", self.beam_width)
        lay.addLayout(form)
        row = QtWidgets.QHBoxLayout()
        self.generate_btn = QtWidgets.QPushButton("Generate")
        self.generate_btn.setObjectName("generateButton")
        self.use_btn = QtWidgets.QPushButton("Use as input")
        self.use_btn.setObjectName("generateUse")
        row.addWidget(self.generate_btn)
        row.addWidget(self.use_btn)
        lay.addLayout(row)
        self.status = QtWidgets.QLabel()
        self.status.setObjectName("generateStatus")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color:#555;")
        lay.addWidget(self.status)
        self.error = QtWidgets.QLabel()
        self.error.setObjectName("generateError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color:{WRONG_COLOR}; font-weight:bold;")
        self.error.hide()
        lay.addWidget(self.error)
        self.output = QtWidgets.QTextBrowser()
        self.output.setObjectName("generateOutput")
        self.output.setMinimumHeight(60)
        lay.addWidget(self.output, 1)
        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setBackground("w")
        self.plot_widget.setMinimumHeight(140)
        self.plot = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "time step t")
        self.plot.addLegend(offset=(4, 4), brush=(255, 255, 255, 200))
        self.input_curve = self.plot.plot([], [], pen=INPUT_PEN, name="input")
        self.forecast_curve = self.plot.plot([], [], pen=FORECAST_PEN, name="forecast")
        self.truth_curve = self.plot.plot([], [], pen=TRUTH_PEN, name="truth")
        self.boundary = pg.InfiniteLine(angle=90, pen=pg.mkPen(150, 150, 150, 120))
        self.plot.addItem(self.boundary)
        lay.addWidget(self.plot_widget, 2)
        self.plot_widget.hide()
        self.mode.currentIndexChanged.connect(self._enable)
        self.generate_btn.clicked.connect(lambda: self.generate())
        self.prompt.returnPressed.connect(lambda: self.generate())
        self.use_btn.clicked.connect(lambda: self.use_as_input())
        self.job.busy.connect(self._busy)
        self.job.ready.connect(self._show)
        self.job.failed.connect(self._failed)
        controller.opened.connect(self.reset)
        controller.modelChanged.connect(self._model_changed)
        weights_changed = getattr(controller, "weightsChanged", None)   # trained <-> untrained
        if weights_changed is not None:
            weights_changed.connect(self._model_changed)
        self.reset()

    # -- state ----------------------------------------------------------------------------
    def reset(self) -> None:
        """A new experiment: its own prompt and length, the options at their defaults, no
        result (as in a fresh window)."""
        self.setup = self.controller.generation_setup()
        self.prompt.setText(self.setup["prompt"])
        self.length.setValue(int(self.setup["length"]))
        for w, v in ((self.mode, 0), (self.top_k, 0), (self.seed, 0), (self.beam_width, 3)):
            (w.setCurrentIndex if w is self.mode else w.setValue)(v)
        self.temperature.setValue(1.0)
        self._clear()
        self._enable()

    def _model_changed(self) -> None:
        """The model was rebuilt or its weights changed: the result was another model's; the
        prompt stays when the new model reads it the same way."""
        before = self.setup.get("how")
        self.setup = self.controller.generation_setup()
        if self.setup["how"] != before:
            self.prompt.setText(self.setup["prompt"])
            self.length.setValue(int(self.setup["length"]))
        self._clear()
        self._enable()

    def _clear(self) -> None:
        self.result = None
        self.output.clear()
        for curve in (self.input_curve, self.forecast_curve, self.truth_curve):
            curve.setData([], [])
        self.plot_widget.setVisible(self.setup.get("how") == "values")
        self.error.hide()
        problem = self.setup.get("problem")
        self.status.setText("" if problem else self._hint())
        if problem:
            self._error(f"cannot generate: {problem}")

    def _hint(self) -> str:
        how = self.setup["how"]
        what = {"continue": "the model continues it, each symbol it writes read back as "
                            "the next input",
                "first": "the model reads it at the first step and the blank after that, "
                         "until it writes the end symbol",
                "source": "the encoder reads it; the decoder writes from the start symbol "
                          "until it writes the end symbol",
                "values": "the model forecasts past them, each prediction read back as the "
                          "next input"}[how]
        return f"The prompt is {self.setup['prompt_is']}: {what}."

    def _enable(self) -> None:
        ok = not self.setup.get("problem")
        values = self.setup.get("how") == "values"
        mode = self.mode.currentData()
        if values and mode != "greedy":
            self.mode.setCurrentIndex(0)
            mode = "greedy"
        for w in (self.prompt, self.length, self.generate_btn):
            w.setEnabled(ok)
        self.mode.setEnabled(ok and not values)
        self.mode.setToolTip(
            "a values model free-runs: each prediction is read back as the next input"
            if values else "Greedy: always the most likely symbol. Sample: draw from the "
            "softmax at the temperature. Beam search: the most likely sequence among the "
            "widest beams kept")
        for w in (self.temperature, self.top_k, self.seed):
            w.setEnabled(ok and not values and mode == "sample")
        self.beam_width.setEnabled(ok and not values and mode == "beam")
        self.top_k.setRange(0, max(1, int(self.setup.get("classes") or 1)))
        self.use_btn.setEnabled(self.result is not None)
        self.prompt.setToolTip(f"the prompt: {self.setup['prompt_is']}" if ok else "")
        self.use_btn.setToolTip(
            "type the source into the sequence input and step through it: the decoder then "
            "reads the task's right answer (teacher forcing)" if self.setup.get("how") ==
            "source" else "type the first input into the sequence input and step through it"
            if self.setup.get("how") == "first" else
            "type the prompt and what the model wrote into the sequence input, to step "
            "through it")

    # -- actions --------------------------------------------------------------------------
    def generate(self) -> bool:
        """Ask the controller to generate with the options shown; False when it cannot."""
        self.error.hide()
        top_k = self.top_k.value() or None
        problem = self.controller.generate(
            self.prompt.text(), self.length.value(), mode=self.mode.currentData(),
            temperature=self.temperature.value(), top_k=top_k, beam=self.beam_width.value(),
            seed=self.seed.value())
        if problem:
            self._error(f"cannot generate: {problem}")
            return False
        return True

    def use_as_input(self) -> bool:
        """Type the generated sequence into the sequence input (the panels step through it)."""
        if self.result is None:
            return False
        return self.controller.set_input_text(self.result.input_text)

    def _busy(self, on: bool) -> None:
        self.generate_btn.setEnabled(not on and not self.setup.get("problem"))
        if on:
            self.status.setText("generating…")

    def _failed(self, message: str) -> None:
        self.status.setText("")
        self._error(message)

    def _error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    # -- the result -----------------------------------------------------------------------
    def _show(self, g) -> None:
        self.result = g
        self.error.hide()
        note = [] if self.controller.trained else [
            "The model is untrained: random weights wrote this. Train it for a real answer."]
        if g.score is not None:
            note.append(f"Beam search: total log-probability {g.score:.3f}.")
        if g.kind == "values":
            self._show_values(g)
        else:
            self._show_tokens(g)
            if g.ended:
                note.append("Stopped at the end symbol.")
        self.status.setText(" ".join(note))
        self._enable()

    def _show_tokens(self, g) -> None:
        prompt = f'<span style="color:{PROMPT_COLOR}">{_visible(g.prompt)}</span>'
        made = f'<span style="color:{MADE_COLOR}; font-weight:bold">' \
               f'{_visible(g.continuation)}</span>'
        if g.how == "continue":
            space = " " if g.input_text != g.prompt_text + g.text else ""
            text = f"{prompt}{space}{made}"
        else:
            text = f"{prompt} → {made}"
        if g.truth is not None:
            marks = "".join(
                html.escape(s) if i < len(g.continuation) and g.continuation[i] == s else
                f'<span style="color:{WRONG_COLOR}; text-decoration:underline">'
                f"{html.escape(s)}</span>" for i, s in enumerate(g.truth))
            text += f'<br><span style="color:{PROMPT_COLOR}">the task\'s answer:</span> {marks}'
        self.output.setHtml(f'<div style="font-family:monospace; font-size:11pt; '
                            f'white-space:pre-wrap">{text}</div>')

    def _show_values(self, g) -> None:
        x = np.asarray(g.prompt)[:, 0]
        y = np.asarray(g.continuation)[:, 0]
        T = len(x)
        self.input_curve.setData(np.arange(T), x)
        # the forecast starts from the last input, so the two curves join
        self.forecast_curve.setData(np.arange(T - 1, T + len(y)), np.concatenate([x[-1:], y]))
        if g.truth is not None and len(g.truth):
            t = np.asarray(g.truth)[:, 0]
            self.truth_curve.setData(np.arange(T - 1, T + len(t)), np.concatenate([x[-1:], t]))
        else:
            self.truth_curve.setData([], [])
        self.boundary.setPos(T - 1)
        self.plot.enableAutoRange()
        self.plot_widget.show()
        features = np.asarray(g.prompt).shape[1]
        shown = f" (feature 1 of {features} drawn)" if features > 1 else ""
        truth = "" if g.truth is None else " beside the truth (dashed)"
        self.output.setHtml(
            f'<span style="color:{PROMPT_COLOR}">{T} input steps, then</span> '
            f'<span style="color:{MADE_COLOR}"><b>{len(y)} forecast</b></span>{truth}{shown}:'
            f'<br><span style="font-family:monospace">{html.escape(g.text)}</span>')
