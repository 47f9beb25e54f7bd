"""Where and when the controller's traces run: at once while cheap, else off the GUI thread.

:class:`TraceJob` runs each :class:`TraceRequest` (a batch and a what-if on the controller's
model). A trace estimated under :data:`BACKGROUND_S` runs at once in the GUI thread, so
typing on a small model redraws with no pause; the estimate is the last measured trace of
this model (plain or what-if) per step, times the steps (:class:`TraceCosts`). A longer
one runs in a thread of its own while the panels keep the last trace and ``busy`` says
so. A newer request supersedes it: a torch call cannot be stopped half-way, so its
result is dropped when it arrives (a generation counter, as in
:class:`~ui.jobs.AnalysisJob`), and at most one request waits for the thread.

Every trace, in either thread, runs on one frozen copy of the model per set of weights
(``copy.deepcopy`` once, made again when training changed them): a thread never reads
weights that training writes, nor sees the train/eval switch a trace makes, and each
trace can hand the last one to the core as ``base`` (``trace(..., base=)``, where the core
has it: only what follows a change is recomputed), since both came from the same weights.
A what-if reuses the trace without it as its dashed original instead of tracing it again.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import time
import weakref
from dataclasses import dataclass, field

import numpy as np
from PySide6 import QtCore

from playground.errors import PlaygroundError

from .jobs import ThreadCall

BACKGROUND_S = 0.1       # an estimated trace longer than this runs off the GUI thread
UNKNOWN_STEP_S = 1e-3    # seconds per step assumed before any trace was measured


@dataclass(eq=False)
class TraceRequest:
    """What to trace (the controller's model, a batch, a what-if) and what the controller
    shows with the result: the step labels and the text of that batch."""

    model: object
    batch: object
    tokens: list = field(default_factory=list)
    text: str = ""
    interventions: tuple = ()
    tbptt: int | None = None
    ngram: object = None        # the n-gram baseline whose probabilities go beside it
    emit: bool = True           # traceChanged when it is shown
    new_input: bool = False     # a new sequence: clears the input's error line
    generation: int = 0

    @property
    def steps(self) -> int:
        return max(int(np.shape(x)[1]) for x in self.batch.inputs.values())


class TraceCosts:
    """How long a trace will take. Each of the last few traces of this model (plain or
    with a what-if) is scaled to the steps asked for, up and never down (a trace has a
    fixed part that does not shrink with the steps), and the least of them is the estimate:
    one trace slowed by something else (kernels compiling, a busy machine) does not send
    the next ones to the background. The last trace of any model stands in for a model
    not measured yet. Not counted: the first trace of the process (imports and first
    allocations land on it) and any made while the core compiles its kernels (they take
    the slower torch path then, and share the CPU and the GIL with the compiler)."""

    KEEP = 3

    def __init__(self):
        self._by_model: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._any: dict[bool, tuple[int, float]] = {}

    def record(self, model, whatif: bool, steps: int, seconds: float) -> None:
        global _COLD
        if _COLD or core_warming():
            _COLD = False
            return
        got = self._by_model.setdefault(model, {}).setdefault(whatif, [])
        got[:] = got[-(self.KEEP - 1):] + [(max(int(steps), 1), float(seconds))]
        self._any[whatif] = got[-1]

    def estimate(self, model, whatif: bool, steps: int) -> float:
        got = self._by_model.get(model, {}).get(whatif) or \
            ([self._any[whatif]] if whatif in self._any else [])
        if not got:
            return UNKNOWN_STEP_S * steps
        return min(s * max(1.0, steps / n) for n, s in got)


_COLD = True     # no trace has run in this process yet


def core_warming() -> bool:
    """Whether the core is compiling (or loading) its trace kernels in the background."""
    from playground.tracing import compiled

    return compiled.warming()


def weights_key(model) -> tuple:
    """Which weights a model holds now: every in-place update (an optimiser step, a load)
    advances a parameter's version counter."""
    return tuple((p.data_ptr(), p._version) for p in model.parameters())


@functools.cache
def _core_takes_base() -> bool:
    from playground.tracing import trace

    return "base" in inspect.signature(trace).parameters


def trace_threads(model, default: int | None = None) -> int:
    """torch threads for a trace of ``model``: one for a small model, as for training
    (``playground.train.suggested_threads``: its operations are too small to split, and
    waking a thread pool between keystrokes costs more than it saves: 2.4 against 3.9 ms a
    trace of the hello RNN), else ``default`` (torch's setting)."""
    from playground.train import suggested_threads

    return suggested_threads(model, default)


@contextlib.contextmanager
def threads_for(model):
    """torch's thread count set to :func:`trace_threads` for ``model`` while the block runs
    (a small model's evaluation on two threads of a loaded machine: 1.1 s instead of 0.05)."""
    import torch

    before = torch.get_num_threads()
    n = trace_threads(model, before)
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n != before:
            torch.set_num_threads(before)


def ngram_probs(ngram, batch, last=None):
    """``ngram.probs_for(batch)``, reusing the rows of ``last`` (``(ids, probs)`` of the
    batch before) up to the first symbol that changed: row ``t`` reads only the symbols up
    to ``t`` (typing at the end of 1000 symbols: one row instead of 1000)."""
    if ngram is None:
        return None
    ids = np.asarray(next(iter(batch.inputs.values())))
    if last is not None and last[1] is not None and ids.ndim == 2 and ids.dtype.kind in "iu":
        ids, (old_ids, old) = ids[0], last
        n = min(len(ids), len(old_ids))
        differs = np.nonzero(ids[:n] != old_ids[:n])[0]
        p = int(differs[0]) if differs.size else n
        if p > 0 and len(old) >= p:
            start = max(0, p + 1 - max(ngram.order - 1, 1))
            try:
                tail = ngram.step_probs(ids[start:])[p - start:] if p < len(ids) else \
                    np.zeros((0, old.shape[1]))
            except (PlaygroundError, ValueError, IndexError, TypeError):
                return ngram.probs_for(batch)
            return np.concatenate([old[:p], tail])
    return ngram.probs_for(batch)


def _ids(batch):
    ids = np.asarray(next(iter(batch.inputs.values())))
    return ids[0].copy() if ids.ndim == 2 and ids.dtype.kind in "iu" else None


def compute(req: TraceRequest, model, plain, threads: int | None = None) -> tuple:
    """Trace ``req`` on ``model`` (a frozen copy): ``(trace, base_trace, ngram, seconds)``
    with ``seconds`` {what-if?: time} of each trace it ran. ``plain``: what was shown last
    on this copy without a what-if, ``(batch, trace, ngram)``, or None."""
    import torch

    from playground.data import bind_inputs
    from playground.tracing import trace

    b = req.batch
    has_loss = b.mask is not None and float(np.sum(b.mask)) > 0
    inputs = bind_inputs(model, b)
    targets, mask = (b.targets, b.mask) if has_loss else (None, None)
    seconds: dict[bool, float] = {}

    def run(ivs, base):
        kw = {"base": base} if base is not None and _core_takes_base() else {}
        t0 = time.perf_counter()
        tr = trace(model, inputs, targets, mask, tbptt=req.tbptt, interventions=ivs, **kw)
        seconds[bool(ivs)] = time.perf_counter() - t0
        return tr

    before = torch.get_num_threads()
    threads = trace_threads(model, threads or before)
    if threads != before:
        torch.set_num_threads(threads)
    try:
        if plain is not None and plain[0] is b:
            original, ngram = plain[1], plain[2]     # this batch without a what-if: known
        else:                                        # the last one may be reused in part
            original = run((), None if plain is None else plain[1])
            last = None if plain is None or plain[2] is None else (_ids(plain[0]), plain[2])
            ngram = ngram_probs(req.ngram, b, last if last and last[0] is not None else None)
        tr = run(req.interventions, original) if req.interventions else None
    finally:
        if threads != before:
            torch.set_num_threads(before)
    if tr is None:
        return original, None, ngram, seconds
    return tr, original, ngram, seconds


def _describe(e: Exception) -> str:
    """A background trace's error as the input shows it."""
    if isinstance(e, PlaygroundError):
        return str(e)
    return f"the trace failed: {type(e).__name__}: {e}"


def worker_threads() -> int:
    """torch threads of a background trace: all but one core, which the GUI keeps."""
    import torch

    return max(1, torch.get_num_threads() - 1)


class TraceJob(QtCore.QObject):
    """The controller's traces; see the module docstring."""

    busy = QtCore.Signal(bool)
    ready = QtCore.Signal(object, object)   # the TraceRequest, (trace, base_trace, ngram)
    failed = QtCore.Signal(object, str)     # the TraceRequest, the message

    def __init__(self, parent=None):
        super().__init__(parent)
        self.costs = TraceCosts()
        self._generation = 0
        self._frozen: tuple | None = None      # (weakref to the model, weights key, copy)
        self._plain: tuple | None = None       # (copy, batch, trace without a what-if)
        self._running: tuple | None = None     # (thread, worker, job)
        self._queued: tuple | None = None      # job = (request, copy, plain)
        self._threads: list[QtCore.QThread] = []
        self._busy = False
        self._n_threads: int | None = None

    # -- asked by the controller -----------------------------------------------------------
    @property
    def running(self) -> bool:
        return any(t.isRunning() for t in self._threads)

    def latest(self) -> TraceRequest | None:
        """The newest request not shown yet (waiting or running), or None."""
        if self._queued is not None:
            return self._queued[0]
        job = self._running[2] if self._running is not None else None
        return job[0] if job is not None and job[0].generation == self._generation else None

    def frozen(self, model):
        """The copy of ``model`` traces run on, made again when its weights changed."""
        key = weights_key(model)
        f = self._frozen
        if f is None or f[0]() is not model or f[1] != key:
            twin = copy.deepcopy(model)
            twin.eval()      # the trace's own switch to eval and back never happens in it
            for p in twin.parameters():
                p.grad = None
            self._frozen = f = (weakref.ref(model), key, twin)
        return f[2]

    def estimate(self, req: TraceRequest, plain=None) -> float:
        """Seconds the request is expected to take (0: its answer is known)."""
        known = plain is not None and plain[0] is req.batch
        T = req.steps
        cost = 0.0 if known else self.costs.estimate(req.model, False, T)
        if req.interventions:
            cost += self.costs.estimate(req.model, True, T)
        return cost

    def run(self, req: TraceRequest, wait: bool = False):
        """Trace ``req``, superseding every earlier request. At once when cheap (or
        ``wait``): returns ``(trace, base_trace, ngram)`` and raises :class:`PlaygroundError`.
        Otherwise in the background: returns None, and ``ready`` or ``failed`` follow
        (unless a newer request comes first)."""
        self._generation += 1
        req.generation = self._generation
        self._queued = None
        twin = self.frozen(req.model)
        plain = self._plain[1:] if self._plain is not None and self._plain[0] is twin else None
        if wait or self.estimate(req, plain) < BACKGROUND_S:
            self._set_busy(False)
            tr, base, ngram, seconds = compute(req, twin, plain)
            self._record(req, seconds)
            self._shown(twin, req, tr, base, ngram)
            return tr, base, ngram
        job = (req, twin, plain)
        if self._running is None:
            self._start(job)
        else:
            self._queued = job      # the newest only: the thread takes it when it is free
        self._set_busy(True)
        return None

    def cancel(self, wait: bool = False) -> TraceRequest | None:
        """Drop what runs or waits (its result is never shown) and return the newest request
        dropped; ``wait``: wait for the thread too (closing)."""
        dropped = self.latest()
        self._generation += 1
        self._queued = None
        if wait:
            for t in list(self._threads):
                t.quit()
                t.wait(60_000)
        self._set_busy(False)
        return dropped

    # -- the thread ------------------------------------------------------------------------
    def _start(self, job) -> None:
        req, twin, plain = job
        if self._n_threads is None:
            self._n_threads = worker_threads()
        n = self._n_threads       # torch threads of this thread (OpenMP's are per thread)
        worker = ThreadCall(lambda: compute(req, twin, plain, n), req.generation, _describe)
        thread = worker.start_in("trace", self._done, self._failed, self._next)
        self._running = (thread, worker, job)
        self._threads.append(thread)

    def _done(self, generation: int, result) -> None:
        if self._running is None:
            return
        req, twin, _ = self._running[2]
        tr, base, ngram, seconds = result
        self._record(req, seconds)            # a dropped trace still says what one costs
        if generation == self._generation:
            self._shown(twin, req, tr, base, ngram)
            self._set_busy(False)
            self.ready.emit(req, (tr, base, ngram))

    def _failed(self, generation: int, message: str) -> None:
        if self._running is not None and generation == self._generation:
            req = self._running[2][0]
            self._set_busy(False)
            self.failed.emit(req, message)

    def _next(self) -> None:
        self._threads = [t for t in self._threads if not t.isFinished()]
        self._running = None
        job, self._queued = self._queued, None
        if job is not None:
            self._start(job)

    # -- bookkeeping -------------------------------------------------------------------------
    def _record(self, req: TraceRequest, seconds: dict) -> None:
        for whatif, s in seconds.items():
            self.costs.record(req.model, whatif, req.steps, s)

    def _shown(self, twin, req: TraceRequest, tr, base, ngram) -> None:
        self._plain = (twin, req.batch, base if req.interventions else tr, ngram)

    def _set_busy(self, on: bool) -> None:
        if on != self._busy:
            self._busy = on
            self.busy.emit(on)
