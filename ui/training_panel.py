"""The training dock: which weights the model has (trained or untrained, one click to switch),
start / pause / stop, device, steps, progress with speed and ETA.

The controller's :class:`~ui.jobs.TrainingJob` trains in a worker thread and hands over
snapshots at 5 Hz; this dock only shows them (and the curves draw them).
"""

from __future__ import annotations

import time

import torch
from PySide6 import QtCore, QtWidgets


class TrainingPanel(QtWidgets.QWidget):
    """Controls and progress of training the session's model on its dataset."""

    message = QtCore.Signal(str)

    def __init__(self, controller, curves, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.job = controller.training
        self.curves = curves                   # TrainingPlotsPanel
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        top = QtWidgets.QHBoxLayout()
        self.weights_btn = QtWidgets.QCheckBox("Trained weights")
        self.weights_btn.setObjectName("trainedWeights")
        self.weights_btn.setToolTip(
            "checked: the model has its trained weights; unchecked: the untrained weights the "
            "seed gives, so a lesson's before and after can both be seen (saving keeps the "
            "trained weights)")
        self.weights_state = QtWidgets.QLabel()
        self.weights_state.setObjectName("weightsState")
        self.weights_state.setWordWrap(True)
        top.addWidget(self.weights_btn)
        top.addWidget(self.weights_state, 1)
        lay.addLayout(top)
        row = QtWidgets.QHBoxLayout()
        self.start_btn = QtWidgets.QPushButton("Train")
        self.start_btn.setObjectName("trainButton")
        self.start_btn.setToolTip("train the model on the task (continues where it stopped)")
        self.pause_btn = QtWidgets.QPushButton("Pause")
        self.pause_btn.setCheckable(True)
        self.stop_btn = QtWidgets.QPushButton("Stop")
        for b in (self.start_btn, self.pause_btn, self.stop_btn):
            row.addWidget(b)
        lay.addLayout(row)
        form = QtWidgets.QFormLayout()
        self.device = QtWidgets.QComboBox()
        self.device.addItem("CPU", "cpu")
        if torch.cuda.is_available():
            self.device.addItem(f"CUDA ({torch.cuda.get_device_name(0)})", "cuda")
            self.device.setCurrentIndex(1)
        self.steps = QtWidgets.QSpinBox()
        self.steps.setRange(1, 10_000_000)
        self.steps.setValue(500)
        self.steps.setSuffix(" steps")
        form.addRow("Device", self.device)
        form.addRow("Run for", self.steps)
        self._rate_form(form)
        lay.addLayout(form)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setFormat("step %v of %m")
        lay.addWidget(self.progress)
        self.status = QtWidgets.QLabel("ready")
        self.status.setObjectName("trainStatus")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.error = QtWidgets.QLabel()
        self.error.setObjectName("trainError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color:#c62828; font-weight:bold;")
        self.error.hide()
        lay.addWidget(self.error)
        lay.addStretch(1)
        self.start_btn.clicked.connect(lambda: self.start())
        self.pause_btn.toggled.connect(self._pause_toggled)
        self.stop_btn.clicked.connect(self.job.stop)
        self.weights_btn.toggled.connect(self._weights_toggled)
        controller.weightsChanged.connect(self._show_weights)
        self.job.started.connect(lambda: self._set_running(True))
        self.job.progress.connect(self._on_progress)
        self.job.failed.connect(self._show_error)
        self.job.finished.connect(self._on_finished)
        controller.opened.connect(self.reset)
        controller.modelChanged.connect(self.reset)
        self._set_running(False)

    def _rate_form(self, form: QtWidgets.QFormLayout) -> None:
        """Learning rate and schedule: written to the experiment, used by the next Train."""
        self.lr = QtWidgets.QDoubleSpinBox()
        self.lr.setObjectName("learningRate")
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 10.0)
        self.lr.setStepType(QtWidgets.QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.lr.setToolTip("the base learning rate; the schedule scales it at each step")
        self.schedule = QtWidgets.QComboBox()
        self.schedule.setObjectName("lrSchedule")
        for key, text in (("constant", "constant"), ("step", "step (x factor every N steps)"),
                          ("cosine", "cosine (down to 0 at the last step)")):
            self.schedule.addItem(text, key)
        self.schedule.setToolTip("how the learning rate changes over the run; the Training "
                                 "curves panel draws the rate of each step")
        self.warmup = QtWidgets.QSpinBox()
        self.warmup.setRange(0, 10_000_000)
        self.warmup.setSuffix(" steps")
        self.warmup.setToolTip("linear warm-up: the rate rises from lr/N to lr over N steps "
                               "(0: none)")
        self.step_every = QtWidgets.QSpinBox()
        self.step_every.setRange(1, 10_000_000)
        self.step_every.setPrefix("every ")
        self.step_every.setSuffix(" steps")
        self.step_factor = QtWidgets.QDoubleSpinBox()
        self.step_factor.setDecimals(3)
        self.step_factor.setRange(0.001, 1.0)
        self.step_factor.setSingleStep(0.05)
        self.step_factor.setPrefix("x ")
        cut = QtWidgets.QHBoxLayout()
        cut.addWidget(self.step_every)
        cut.addWidget(self.step_factor)
        for w in (self.step_every, self.step_factor):
            w.setToolTip("the step schedule multiplies the rate by the factor every N steps")
        form.addRow("Learning rate", self.lr)
        form.addRow("Schedule", self.schedule)
        form.addRow("Warm-up", self.warmup)
        form.addRow("Cut", cut)
        self.forget_on = QtWidgets.QCheckBox()
        self.forget_on.setObjectName("forgetBiasOn")
        self.forget_bias = QtWidgets.QDoubleSpinBox()
        self.forget_bias.setObjectName("forgetBias")
        self.forget_bias.setRange(-100.0, 100.0)
        self.forget_bias.setDecimals(2)
        self.forget_bias.setSingleStep(0.5)
        self.forget_bias.setValue(1.0)
        for w in (self.forget_on, self.forget_bias):
            w.setToolTip("LSTM layers only: the forget gate's bias at initialisation (1.0 is "
                         "the usual choice), so the cell keeps what it holds until it learns to "
                         "forget; the untrained weights are made again with it, and Train starts "
                         "from them")
        fb = QtWidgets.QHBoxLayout()
        fb.addWidget(self.forget_on)
        fb.addWidget(self.forget_bias, 1)
        form.addRow("Forget-gate bias", fb)
        self._rate_widgets = (self.lr, self.schedule, self.warmup, self.step_every,
                              self.step_factor, self.forget_on, self.forget_bias)
        self.forget_on.toggled.connect(lambda _: self._rate_edited())
        for w in (self.lr, self.step_factor, self.forget_bias):
            w.valueChanged.connect(lambda _: self._rate_edited())
        for w in (self.warmup, self.step_every):
            w.valueChanged.connect(lambda _: self._rate_edited())
        self.schedule.currentIndexChanged.connect(lambda _: self._rate_edited())

    def _show_rate(self) -> None:
        """The experiment's rate settings in the form (without writing them back)."""
        cfg = self.controller.train_config
        for w in self._rate_widgets:
            w.blockSignals(True)
        if cfg is not None:
            self.lr.setValue(float(cfg.lr))
            self.schedule.setCurrentIndex(max(0, self.schedule.findData(cfg.schedule)))
            self.warmup.setValue(int(cfg.warmup))
            self.step_every.setValue(int(cfg.step_every))
            self.step_factor.setValue(float(cfg.step_factor))
            self.forget_on.setChecked(cfg.forget_bias is not None)
            if cfg.forget_bias is not None:
                self.forget_bias.setValue(float(cfg.forget_bias))
        for w in self._rate_widgets:
            w.blockSignals(False)
            w.setEnabled(cfg is not None and not self.running)
        self._cut_enabled()

    def _cut_enabled(self) -> None:
        on = self.schedule.isEnabled() and self.schedule.currentData() == "step"
        self.step_every.setEnabled(on)
        self.step_factor.setEnabled(on)
        model = self.controller.model
        lstm = model is not None and any(n.kind == "lstm" for n in model.graph.nodes)
        self.forget_on.setEnabled(self.schedule.isEnabled() and lstm)
        self.forget_bias.setEnabled(self.forget_on.isEnabled() and self.forget_on.isChecked())

    def _rate_edited(self) -> None:
        self._cut_enabled()
        problem = self.controller.set_training(
            lr=float(self.lr.value()), schedule=self.schedule.currentData(),
            warmup=int(self.warmup.value()), step_every=int(self.step_every.value()),
            step_factor=float(self.step_factor.value()),
            forget_bias=float(self.forget_bias.value()) if self.forget_on.isChecked() else None)
        self.error.setText(problem)
        self.error.setVisible(bool(problem))

    # -- state ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job.running

    def reset(self) -> None:
        """A new experiment or model: new curves, its own number of steps."""
        if self.running:
            return
        self.curves.clear()
        cfg = self.controller.train_config
        self.steps.setValue(int(cfg.steps) if cfg is not None else 500)
        self.progress.setRange(0, self.steps.value())
        self.progress.setValue(0)
        self._show_rate()
        self.status.setText("ready: press Train" if self.controller.model is not None else
                            "build a valid model on the canvas to train it")
        self.start_btn.setEnabled(self.controller.model is not None)
        self.error.hide()

    def _set_running(self, on: bool) -> None:
        self.start_btn.setEnabled(not on and self.controller.model is not None)
        self.pause_btn.setEnabled(on)
        self.stop_btn.setEnabled(on)
        self.device.setEnabled(not on)
        self.steps.setEnabled(not on)
        for w in self._rate_widgets:
            w.setEnabled(not on and self.controller.train_config is not None)
        self._cut_enabled()
        if not on:
            self.pause_btn.blockSignals(True)
            self.pause_btn.setChecked(False)
            self.pause_btn.blockSignals(False)
        self._show_weights()

    def _show_weights(self) -> None:
        """The weights the model has, in words, and the switch between trained and not."""
        w = self.controller.weights
        self.weights_btn.blockSignals(True)
        self.weights_btn.setChecked(w.shown)
        self.weights_btn.blockSignals(False)
        self.weights_btn.setEnabled(w.can_switch and not self.running)
        self.weights_state.setText(w.label())

    def _weights_toggled(self, on: bool) -> None:
        problem = self.controller.use_trained(on)
        if problem:
            self._show_error(problem)
            self._show_weights()

    # -- actions --------------------------------------------------------------------------
    def start(self, steps: int | None = None) -> bool:
        """Start (or continue) training for ``steps`` more steps in the worker thread."""
        self.error.hide()
        problem = self.controller.start_training(int(steps or self.steps.value()),
                                                 self.device.currentData())
        if problem:
            self._show_error(problem)
            return False
        self.progress.setRange(self.job.start_step, self.job.target_step)
        self.progress.setValue(self.job.start_step)
        self.status.setText("starting...")
        return True

    def stop(self) -> None:
        self.job.stop()

    def _pause_toggled(self, on: bool) -> None:
        self.job.pause(on)
        if on:
            step = self.job.trainer.step if self.job.trainer else 0
            self.status.setText(f"paused at step {step}: press Pause again to go on")

    def shutdown(self) -> None:
        """The window is closing: the controller has stopped the worker."""
        self._set_running(False)

    # -- from the job ---------------------------------------------------------------------
    def _on_progress(self, snaps) -> None:
        for sn in snaps:
            self.curves.add(sn.step, sn.loss, sn.val_loss, sn.grad_norm, sn.grad_norm_clipped,
                            sn.lr)
        self.curves.redraw()
        last = snaps[-1]
        self.progress.setValue(min(last.step, self.job.target_step))
        if last.status != "running":   # the run is over: nothing left to pause or stop
            self.pause_btn.setEnabled(False)
            self.stop_btn.setEnabled(False)
        if self.job.paused:
            return
        rate = last.steps_per_second
        left = self.job.target_step - last.step
        eta = f", ETA {left / rate:.0f} s" if rate > 0 and left > 0 else ""
        self.status.setText(f"step {last.step}: loss {last.loss:.4f}, "
                            f"{rate:.0f} steps/s{eta}")

    def _show_error(self, msg: str) -> None:
        self.error.setText(msg)
        self.error.show()
        self.message.emit(msg)

    def _on_finished(self, last) -> None:
        self._set_running(False)
        if last is not None:
            took = time.perf_counter() - self.job.t_start
            self.status.setText(f"{last.status} at step {last.step}: loss {last.loss:.4f} "
                                f"({last.step - self.job.start_step} steps in {took:.1f} s)")
