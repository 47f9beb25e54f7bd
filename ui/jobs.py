"""Work the controller runs off the GUI thread: training and the Jacobian analysis.

:class:`TrainingJob` creates the :class:`~playground.train.Trainer` (or continues the last
one), runs it in a :class:`~ui.worker.TrainingRunner` thread and hands the window batched
snapshots at 5 Hz (``progress``) and the newest live trace (``trace``): the GUI thread then
holds the worker's GIL as little as it can. :class:`AnalysisJob` computes step Jacobian
norms and singular values in a thread of its own, with ``busy`` while it works; a result
for a layer or model that is no longer shown is dropped. :class:`GenerationJob` runs the
Generate dock's generation the same way, on a copy of the model.
"""

from __future__ import annotations

import time

from PySide6 import QtCore

from playground.errors import PlaygroundError
from playground.train import TrainConfig, Trainer

from .worker import TrainingRunner

REDRAW_MS = 200   # curves and progress: 5 Hz, live to the eye; every redraw holds the
                  # GIL the worker needs (10 Hz took the GUI thread from 10% to 15% busy)


class TrainingJob(QtCore.QObject):
    """Training of the controller's model; see the module docstring."""

    started = QtCore.Signal()
    progress = QtCore.Signal(object)    # list of Snapshots since the last batch
    trace = QtCore.Signal(object)       # the newest live trace
    failed = QtCore.Signal(str)
    finished = QtCore.Signal(object)    # the last Snapshot (or None)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.runner = TrainingRunner(self)
        self.trainer: Trainer | None = None
        self.target_step = self.start_step = 0
        self.t_start = 0.0
        self.paused = False
        self.ended = True        # the last snapshot said done / stopped / diverged
        self._pending: list = []
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._flush)
        self.runner.progress.connect(self._received)
        self.runner.failed.connect(self.failed)
        self.runner.finished.connect(self._on_finished)

    @property
    def running(self) -> bool:
        return self.runner.running

    def forget(self) -> None:
        """A new experiment or model: the next run starts a new trainer."""
        if not self.running:
            self.trainer = None

    def start(self, model, dataset, config, steps: int, device: str, batch) -> str:
        if self.running:
            return "training is already running"
        try:
            if self.trainer is None or self.trainer.model is not model or \
                    str(self.trainer.device.type) != device:
                self.trainer = Trainer(model, dataset, config or TrainConfig(), device=device)
            elif config is not None:     # the rate and schedule as the dock has them now
                self.trainer.set_schedule(config)
            if batch is not None:
                self.trainer.request_trace(batch)
        except (PlaygroundError, ValueError, RuntimeError) as e:
            return f"cannot train: {e}"
        self.start_step = self.trainer.step
        self.target_step = self.trainer.step + int(steps)
        self.t_start = time.perf_counter()
        self.paused, self.ended = False, False
        self.runner.start(self.trainer, int(steps))
        self._timer.start()
        self.started.emit()
        return ""

    def pause(self, on: bool) -> None:
        self.paused = bool(on) and self.running
        (self.runner.pause if on else self.runner.resume)()

    def stop(self) -> None:
        self.runner.stop()

    def request_trace(self, batch) -> None:
        self.runner.request_trace(batch)

    def shutdown(self) -> None:
        """Stop the worker and wait for it (the window is closing)."""
        self._timer.stop()
        self.runner.shutdown()
        self._pending.clear()

    def _received(self, snaps) -> None:
        self._pending.extend(snaps)

    def _flush(self) -> None:
        snaps, self._pending = self._pending, []
        if not snaps:
            return
        self.ended = snaps[-1].status != "running"
        self.progress.emit(snaps)
        tr = next((s.trace for s in reversed(snaps) if s.trace is not None), None)
        if tr is not None:
            self.trace.emit(tr)

    def _on_finished(self, last) -> None:
        self._timer.stop()
        self._flush()
        self.paused, self.ended = False, True
        self.finished.emit(last)


class ThreadCall(QtCore.QObject):
    """Runs ``fn()`` in its thread; ``done(generation, result)`` or ``failed(generation,
    describe(exception))``, never an exception into Qt."""

    done = QtCore.Signal(int, object)
    failed = QtCore.Signal(int, str)

    def __init__(self, fn, generation: int, describe=lambda e: f"cannot compute: {e}"):
        super().__init__()
        self.fn, self.generation, self.describe = fn, generation, describe

    @QtCore.Slot()
    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as e:  # noqa: BLE001 - reported as a message, like any other error
            self.failed.emit(self.generation, self.describe(e))
        else:
            self.done.emit(self.generation, result)

    def start_in(self, name: str, done, failed, finished) -> QtCore.QThread:
        """A started thread named ``name`` running this call; ``done``/``failed`` (slots of a
        GUI-thread object, so queued there) get its result, ``finished`` the thread's end."""
        thread = QtCore.QThread()
        thread.setObjectName(name)
        self.moveToThread(thread)
        thread.started.connect(self.run)
        self.done.connect(thread.quit)
        self.failed.connect(thread.quit)
        self.done.connect(done)
        self.failed.connect(failed)
        thread.finished.connect(finished)
        thread.start()
        return thread


def jacobian_analysis(model, rec) -> dict:
    """Step Jacobian norms (and max f_t for an LSTM) and W_hh's singular values."""
    from playground.tracing import analysis

    norms = analysis.jacobian_norms(model, rec)
    svs = analysis.recurrent_singular_values(model, rec.node, rec.layer, rec.direction)
    return {"key": (rec.node, rec.layer, rec.direction), "norms": norms["h"],
            "cell": norms.get("c"), "svs": svs, "label": rec.label}


class LatestCall(QtCore.QObject):
    """Runs one function at a time in a thread of its own (:class:`ThreadCall`); ``busy``
    while it works. The result of a call that a newer one (or :meth:`cancel`) replaced is
    dropped: the newest call wins."""

    busy = QtCore.Signal(bool)
    ready = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    NAME = "job"

    def __init__(self, parent=None):
        super().__init__(parent)
        self._threads: list[tuple[QtCore.QThread, ThreadCall]] = []
        self._generation = 0

    @property
    def running(self) -> bool:
        return any(t.isRunning() for t, _ in self._threads)

    def _start(self, fn, describe=None) -> None:
        self._generation += 1
        kw = {} if describe is None else {"describe": describe}
        call = ThreadCall(fn, self._generation, **kw)
        self.busy.emit(True)
        self._threads.append((call.start_in(self.NAME, self._done, self._failed, self._reap),
                              call))

    def cancel(self, wait: bool = False) -> None:
        """Drop the result of what runs now (and wait for its thread when closing)."""
        self._generation += 1
        if wait:
            for t, _ in list(self._threads):
                t.quit()
                t.wait(10_000)
            self._threads.clear()
        self.busy.emit(False)

    # queued into the GUI thread (this object lives there)
    def _done(self, gen: int, result) -> None:
        if gen == self._generation:
            self.busy.emit(False)
            self.ready.emit(result)

    def _failed(self, gen: int, msg: str) -> None:
        if gen == self._generation:
            self.busy.emit(False)
            self.failed.emit(msg)

    def _reap(self) -> None:
        self._threads = [x for x in self._threads if not x[0].isFinished()]


class AnalysisJob(LatestCall):
    """The Jacobian analysis of one layer (``ready``: the dict of :func:`jacobian_analysis`);
    see the module docstring."""

    NAME = "analysis"

    def start(self, model, rec) -> None:
        self._start(lambda: jacobian_analysis(model, rec))


class GenerationJob(LatestCall):
    """Generation from a prompt (:func:`playground.train.generate.generate`; ``ready``: a
    Generation) on a copy of the model, so training and edits go on meanwhile."""

    NAME = "generation"

    def start(self, fn) -> None:
        """Run ``fn() -> Generation`` in a thread; the newest call wins."""
        self._start(fn, describe=lambda e: f"cannot generate: {e}")

