"""Training off the GUI thread (the superqt pattern).

A :class:`TrainWorker` QObject is moved to a QThread: ``thread.started -> worker.run``,
``worker.finished -> thread.quit``. Inside the thread ``torch.set_num_threads(1)`` keeps
the GUI's core free. Snapshots are batched and emitted at most ~30 times a second, so a
fast trainer never floods the event loop; errors arrive as the ``failed`` signal, never as
an exception inside Qt. :class:`TrainingRunner` owns thread and worker, and stops them
cleanly (request stop, quit, wait) on :meth:`shutdown`.
"""

from __future__ import annotations

import threading
import time

import torch
from PySide6 import QtCore

from playground.errors import PlaygroundError

EMIT_INTERVAL_S = 1.0 / 30.0
TRACE_INTERVAL_S = 2.0   # live trace while training: keeps the GUI (and its GIL use) light


class TrainWorker(QtCore.QObject):
    """Runs ``trainer.run(steps)`` in its thread; ``progress(list[Snapshot])`` in batches,
    ``failed(str)`` for NaN / out of memory / any error, ``finished(object)`` at the end."""

    progress = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    finished = QtCore.Signal(object)

    def __init__(self, trainer, steps: int, trace_interval_s: float = TRACE_INTERVAL_S,
                 threads: int = 1):
        super().__init__()
        self.trainer = trainer
        trainer.clear_stop()     # (here, before the thread starts: a Stop from now on counts)
        self.steps = steps
        self.trace_interval_s = trace_interval_s
        self.threads = threads
        self._lock = threading.Lock()
        self._pending: list = []
        self._last_emit = 0.0
        self._last_trace = 0.0
        self._trace_batch = None

    # -- from the GUI thread (thread-safe) -----------------------------------------------
    def stop(self) -> None:
        self.trainer.stop()

    def pause(self) -> None:
        self.trainer.pause()

    def resume(self) -> None:
        self.trainer.resume()

    def request_trace(self, batch) -> None:
        """Trace ``batch`` at the next step (the input changed while training)."""
        self.trainer.request_trace(batch)

    # -- in the worker thread --------------------------------------------------------------
    @QtCore.Slot()
    def run(self) -> None:
        torch.set_num_threads(self.threads)
        last = None
        self.trainer.add_callback("on_step_end", self._on_step)
        try:
            last = self.trainer.run(self.steps, keep_stop=True)
        except torch.cuda.OutOfMemoryError:
            self.failed.emit("out of GPU memory: use a smaller batch or model, or the CPU")
        except MemoryError:
            self.failed.emit("out of memory: use a smaller batch size or model")
        except (PlaygroundError, ValueError, RuntimeError) as e:
            msg = str(e)
            if "out of memory" in msg.lower():
                msg = "out of memory: use a smaller batch size or model (" + msg[:200] + ")"
            self.failed.emit(f"training stopped: {msg}")
        except Exception as e:  # noqa: BLE001  (never let an error escape into Qt)
            self.failed.emit(f"training stopped by an unexpected error: {type(e).__name__}: {e}")
        finally:
            # a reused Trainer ("continue training") must not call this finished worker
            self.trainer.remove_callback("on_step_end", self._on_step)
        self._flush()
        if last is not None and last.status == "diverged":
            self.failed.emit(last.error or "training diverged")
        self.finished.emit(last)

    def _on_step(self, snap) -> None:
        now = time.perf_counter()
        if now - self._last_trace >= self.trace_interval_s:
            self._last_trace = now
            self.trainer.request_trace()
        with self._lock:
            self._pending.append(snap)
        if now - self._last_emit >= EMIT_INTERVAL_S:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        self._last_emit = time.perf_counter()
        if batch:
            self.progress.emit(batch)


class TrainingRunner(QtCore.QObject):
    """Starts a TrainWorker in a fresh QThread and keeps both alive until it finished."""

    progress = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    finished = QtCore.Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.thread: QtCore.QThread | None = None
        self.worker: TrainWorker | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.isRunning()

    def start(self, trainer, steps: int, **kw) -> None:
        if self.running:
            raise RuntimeError("training is already running")
        self.thread = QtCore.QThread()
        self.thread.setObjectName("training")
        self.worker = TrainWorker(trainer, steps, **kw)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.progress.connect(self._on_progress)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self.thread.quit)
        self.worker.finished.connect(self._on_finished)
        self.thread.start()

    # bound methods of this GUI-thread object: queued into the GUI thread
    def _on_progress(self, snaps) -> None:
        self.progress.emit(snaps)

    def _on_failed(self, msg: str) -> None:
        self.failed.emit(msg)

    def _on_finished(self, last) -> None:
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait()
        self.thread = None
        self.worker = None
        self.finished.emit(last)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def pause(self) -> None:
        if self.worker is not None:
            self.worker.pause()

    def resume(self) -> None:
        if self.worker is not None:
            self.worker.resume()

    def request_trace(self, batch) -> None:
        if self.worker is not None:
            self.worker.request_trace(batch)

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Stop the worker and wait for its thread (closing the window while training)."""
        if self.thread is None:
            return
        self.stop()
        self.thread.quit()
        self.thread.wait(timeout_ms)
        worker, self.worker, self.thread = self.worker, None, None
        if worker is not None:
            worker.deleteLater()
