"""What-if: clamp a gate or overwrite a state from the current step, and compare.

Uses the core's :class:`playground.tracing.Intervention`; the session re-traces with it and
keeps the original trace, which the panels draw faintly. One click restores. A what-if
that takes long is traced in the background (:mod:`ui.tracejob`): the state line says so
and the panels keep the last trace until it is done.
"""

from __future__ import annotations

from PySide6 import QtWidgets

from playground.tracing.interventions import Intervention
from playground.tracing.runs import GATE_LABELS, GATES

from .widgets import LiveText


class WhatIfPanel(QtWidgets.QWidget):
    """Target, value, units and duration of an intervention at the timeline's step."""

    def __init__(self, controller, timeline, parent=None):
        super().__init__(parent)
        self.session = controller
        self.timeline = timeline
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        intro = QtWidgets.QLabel("From the current step, force a gate or a state and see the "
                                 "rest of the sequence change (the original stays dashed).")
        intro.setWordWrap(True)
        intro.setStyleSheet("color:#555;")
        lay.addWidget(intro)
        form = QtWidgets.QFormLayout()
        self.target = QtWidgets.QComboBox()
        self.value = QtWidgets.QDoubleSpinBox()
        self.value.setRange(-10.0, 10.0)
        self.value.setSingleStep(0.1)
        self.value.setDecimals(3)
        self.all_units = QtWidgets.QCheckBox("all units")
        self.all_units.setChecked(True)
        self.unit = QtWidgets.QSpinBox()
        self.unit.setEnabled(False)
        self.all_units.toggled.connect(lambda on: self.unit.setEnabled(not on))
        urow = QtWidgets.QHBoxLayout()
        urow.addWidget(self.all_units)
        urow.addWidget(QtWidgets.QLabel("or unit"))
        urow.addWidget(self.unit)
        self.span = QtWidgets.QComboBox()
        self.span.addItem("this step only", 1)
        self.span.addItem("from here to the end", None)
        form.addRow("Force", self.target)
        form.addRow("to the value", self.value)
        form.addRow("for", urow)
        form.addRow("during", self.span)
        lay.addLayout(form)
        row = QtWidgets.QHBoxLayout()
        self.apply_btn = QtWidgets.QPushButton("Apply at current step")
        self.apply_btn.setObjectName("whatifApply")
        self.restore_btn = QtWidgets.QPushButton("Restore original")
        self.restore_btn.setObjectName("whatifRestore")
        row.addWidget(self.apply_btn)
        row.addWidget(self.restore_btn)
        lay.addLayout(row)
        # four lines kept for it, whatever it says: a QLabel of another height at every
        # what-if relaid out the main window (~3 ms of the what-if's response)
        self.state = LiveText(rich=True, lines=4)
        self.state.setText("no what-if active")
        lay.addWidget(self.state)
        lay.addStretch(1)
        self.apply_btn.clicked.connect(self.apply)
        self.restore_btn.clicked.connect(self.restore)
        for ev in (controller.selectionChanged, controller.modelChanged, controller.opened):
            ev.connect(self._refresh_targets)
        controller.opened.connect(self._refresh_state)
        controller.traceChanged.connect(self._refresh_state)
        controller.traceBusy.connect(self._busy)
        self._refresh_targets()

    def _rec(self):
        v = self.session.view()
        return None if v is None else v.rec

    def _refresh_targets(self) -> None:
        rec = self._rec()
        self.target.clear()
        if rec is None:
            self.apply_btn.setEnabled(False)
            return
        for g in GATES[rec.kind]:
            self.target.addItem(f"{g}: {GATE_LABELS[g]}", g)
        self.target.addItem("h: hidden state", "h")
        if rec.kind == "lstm":
            self.target.addItem("c: cell state", "c")
        self.unit.setRange(0, rec.hidden_size - 1)
        self.apply_btn.setEnabled(True)

    def _refresh_state(self) -> None:
        ivs = self.session.interventions
        if not ivs:
            self.state.setText("no what-if active")
            self.restore_btn.setEnabled(False)
            if self.target.count() == 0:
                self._refresh_targets()
            return
        iv = ivs[0]
        units = "all units" if iv.units is None else f"unit {', '.join(map(str, iv.units))}"
        span = "to the end" if iv.span is None else f"for {iv.span} step(s)"
        b, t = self.session.base_trace, self.session.trace
        loss = ""
        if b is not None and b.loss is not None and t.loss is not None:
            loss = f" Loss {b.loss:.4f} → {t.loss:.4f}."
        where = iv.node + (f" layer {iv.layer}" if iv.layer else "") + \
            (" (reverse)" if iv.direction else "") + \
            (f" (call {iv.call + 1})" if iv.call is not None else "")
        self.state.setText(f"<b>Active:</b> {iv.target} = {iv.value:g} at {where} step "
                           f"{iv.step} ({units}, {span}).{loss}")
        self.restore_btn.setEnabled(True)

    def _busy(self, on: bool) -> None:
        pending = self.session.tracer.latest() if on else None
        if on and self.session.inspected is not None or \
                pending is not None and pending.interventions:
            self.state.setText("<b>Tracing the what-if…</b> the panels show the last trace "
                               "until it is done.")
        else:
            self._refresh_state()

    def intervention(self) -> Intervention | None:
        rec = self._rec()
        if rec is None or self.target.currentData() is None:
            return None
        units = None if self.all_units.isChecked() else (self.unit.value(),)
        return Intervention(node=rec.node, step=self.timeline.step,
                            target=self.target.currentData(), value=float(self.value.value()),
                            units=units, layer=rec.layer, direction=rec.direction,
                            span=self.span.currentData(),
                            call=self._call(rec))

    def _call(self, rec) -> int | None:
        """The call on view of a user's module called more than once (else every call)."""
        s = self.session
        if s.inspected is None or s.module_calls(rec.node) < 2:
            return None
        return rec.call

    def apply(self) -> bool:
        iv = self.intervention()
        return iv is not None and self.session.apply_interventions([iv])

    def restore(self) -> None:
        self.session.clear_whatif()
