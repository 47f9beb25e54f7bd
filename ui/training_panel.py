"""The training dock: start / pause / stop, device, steps, progress with speed and ETA.

Training runs in a :class:`~ui.worker.TrainingRunner` thread. Snapshots arrive in batches;
a 30 Hz timer (running only while training) moves them into the curves and the progress
line, and hands the newest trace to the session, so the panels follow the model live
without redrawing more than ~30 times a second.
"""

from __future__ import annotations

import time

import torch
from PySide6 import QtCore, QtWidgets

from playground.errors import PlaygroundError

from .worker import TrainingRunner

REDRAW_MS = 200   # curves and progress: 5 Hz, live to the eye; every redraw holds the
                  # GIL the worker needs (10 Hz took the GUI thread from 10% to 15% busy)


class TrainingPanel(QtWidgets.QWidget):
    """Controls and progress of training the session's model on its dataset."""

    trainingStarted = QtCore.Signal()
    trainingFinished = QtCore.Signal(object)   # the last Snapshot (or None)
    message = QtCore.Signal(str)

    def __init__(self, session, curves, parent=None):
        super().__init__(parent)
        self.session = session
        self.curves = curves                   # TrainingPlotsPanel
        self.runner = TrainingRunner(self)
        self.trainer = None
        self._pending: list = []
        self._target_step = 0
        self._t_start = 0.0
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
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
        self.start_btn.clicked.connect(self.start)
        self.pause_btn.toggled.connect(self._pause_toggled)
        self.stop_btn.clicked.connect(self.stop)
        self.runner.progress.connect(self._on_progress)
        self.runner.failed.connect(self._on_failed)
        self.runner.finished.connect(self._on_finished)
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.redraw)
        session.modelChanged.connect(self.reset)
        self._set_running(False)

    # -- state ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.runner.running

    def reset(self) -> None:
        """A new model or dataset: forget the trainer and the curves."""
        if self.running:
            return
        self.trainer = None
        self.curves.clear()
        cfg = self.session.train_config
        if cfg is not None:
            self.steps.setValue(int(cfg.steps))
        self.progress.setRange(0, self.steps.value())
        self.progress.setValue(0)
        self.status.setText("ready: press Train")
        self.error.hide()

    def _set_running(self, on: bool) -> None:
        self.start_btn.setEnabled(not on)
        self.pause_btn.setEnabled(on)
        self.stop_btn.setEnabled(on)
        self.device.setEnabled(not on)
        self.steps.setEnabled(not on)
        if not on:
            self.pause_btn.blockSignals(True)
            self.pause_btn.setChecked(False)
            self.pause_btn.blockSignals(False)

    # -- actions --------------------------------------------------------------------------
    def start(self, steps: int | None = None) -> bool:
        """Start (or continue) training for ``steps`` more steps in the worker thread."""
        if self.running:
            return False
        s = self.session
        if s.model is None or s.dataset is None:
            return False
        from playground.train import TrainConfig, Trainer

        self.error.hide()
        steps = int(steps or self.steps.value())
        device = self.device.currentData()
        try:
            if self.trainer is None or str(self.trainer.device.type) != device or \
                    self.trainer.model is not s.model:
                cfg = s.train_config or TrainConfig()
                self.trainer = Trainer(s.model, s.dataset, cfg, device=device)
            if s.batch is not None:
                self.trainer.request_trace(s.batch)
        except (PlaygroundError, ValueError, RuntimeError) as e:
            self._show_error(f"cannot train: {e}")
            return False
        self._target_step = self.trainer.step + steps
        self._start_step = self.trainer.step
        self.progress.setRange(self.trainer.step, self._target_step)
        self.progress.setValue(self.trainer.step)
        self._t_start = time.perf_counter()
        s.clear_whatif()
        s.training = True
        s.trace_requester = self.runner.request_trace
        self._set_running(True)
        self.status.setText("starting...")
        self.runner.start(self.trainer, steps)
        self._timer.start()
        self.trainingStarted.emit()
        return True

    def stop(self) -> None:
        self.runner.stop()

    def _pause_toggled(self, on: bool) -> None:
        if on:
            self.runner.pause()
            self.status.setText(self.status.text() + " (paused)")
        else:
            self.runner.resume()

    def shutdown(self) -> None:
        """Stop the worker and wait for it (the window is closing)."""
        self._timer.stop()
        self.runner.shutdown()
        self._finish_session()

    # -- from the worker --------------------------------------------------------------------
    def _on_progress(self, snaps) -> None:
        self._pending.extend(snaps)

    def redraw(self) -> None:
        """Move the pending snapshots into the curves, progress and (newest) trace."""
        snaps, self._pending = self._pending, []
        if not snaps:
            return
        trace = None
        for sn in snaps:
            self.curves.add(sn.step, sn.loss, sn.val_loss, sn.grad_norm, sn.grad_norm_clipped)
            if sn.trace is not None:
                trace = sn.trace
        self.curves.redraw()
        last = snaps[-1]
        self.progress.setValue(min(last.step, self._target_step))
        rate = last.steps_per_second
        left = self._target_step - last.step
        eta = f", ETA {left / rate:.0f} s" if rate > 0 else ""
        self.status.setText(f"step {last.step}: loss {last.loss:.4f}, "
                            f"{rate:.0f} steps/s{eta}")
        if trace is not None:
            self.session.set_training_trace(trace)

    def _on_failed(self, msg: str) -> None:
        self._show_error(msg)

    def _show_error(self, msg: str) -> None:
        self.error.setText(msg)
        self.error.show()
        self.message.emit(msg)

    def _on_finished(self, last) -> None:
        self._timer.stop()
        self.redraw()
        self._finish_session()
        if last is not None:
            took = time.perf_counter() - self._t_start
            self.status.setText(f"{last.status} at step {last.step}: loss {last.loss:.4f} "
                                f"({last.step - self._start_step} steps in {took:.1f} s)")
        self.trainingFinished.emit(last)

    def _finish_session(self) -> None:
        s = self.session
        was = s.training
        s.training = False
        s.trace_requester = None
        self._set_running(False)
        if was:
            s.set_dirty(True)
            if s.model is not None:
                s.retrace()
