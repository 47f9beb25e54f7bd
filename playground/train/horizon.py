"""The gradient horizon: how far back the gradient reaches, watched while training.

Every ``every`` optimiser steps, :class:`GradientHorizon` traces one fixed sequence and
keeps, per recurrent layer (and direction), the row ``||dL/dh_t||`` over t (float64, the
trace's total gradient, recurrent path included) and the top-k singular values of the
Jacobian of the whole sequence's state map, ``dh_T/dh_0 = prod_t dh_t/dh_{t-1}`` (step
Jacobians of :func:`playground.tracing.analysis.step_jacobians`). Rows over iterations make
a heatmap where the gradient either reaches further back as training goes on or dies out.

Memory is bounded: at most ``max_rows`` rows; when full, every other row is dropped and
rows are then taken half as often, so the kept rows stay evenly spaced. ``to_dict`` /
``from_dict`` give the plain data an experiment file keeps (numbers to 6 significant digits).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from ..data.bind import bind_inputs
from ..errors import FileFormatError, PlaygroundError
from ..tracing.analysis import step_jacobians
from ..tracing.records import RecurrentTrace
from ..tracing.tracer import trace

FORMAT = 1
MAX_SAVED = 300_000     # numbers in a saved horizon: the indented JSON stays under ~8 MB
MAX_SV_WIDTH = 1024     # wider layers: no singular values (H x H products per step)
_CHUNK = 64             # step Jacobians made at a time (each (H, H) float64)


def top_singular_values(model, rec: RecurrentTrace, k: int, batch: int = 0,
                        should_stop=None) -> np.ndarray:
    """``(k,)`` the largest singular values of ``prod_t dh_t/dh_{t-1}`` over the whole
    sequence (in the order the layer runs: natural time forward, backwards for a reverse
    direction), float64. The product is renormalised as it grows so that neither it nor
    the result underflows while representable; NaN pads when H < k."""
    T, H = rec.h.shape[1], rec.h.shape[2]
    if H > MAX_SV_WIDTH:                   # (T products of H x H: too long to wait for)
        return np.full(k, np.nan)
    chunk = max(1, min(_CHUNK, 2**27 // (8 * H * H)))   # step Jacobians of <= 128 MB at once
    order = np.arange(T) if rec.direction == 0 else np.arange(T)[::-1]
    P, log_scale = np.eye(H), 0.0
    for i in range(0, T, chunk):
        if should_stop is not None and should_stop():
            return np.full(k, np.nan)
        steps = order[i:i + chunk]
        Js = step_jacobians(model, rec, batch, steps)
        Js[np.abs(Js) < 1e-200] = 0.0                    # (no subnormal arithmetic)
        for J in Js:
            P = J @ P
            n = np.abs(P).max()
            if n > 0 and np.isfinite(n):
                P /= n
                log_scale += np.log(n)
                # entries 1e-200 below the largest cannot move the top singular values, and
                # as subnormal numbers they would make every later product ~100x slower
                P[np.abs(P) < 1e-200] = 0.0
    s = np.linalg.svd(P, compute_uv=False)[:k] * np.exp(log_scale)
    return np.pad(s, (0, k - s.size), constant_values=np.nan)


class GradientHorizon:
    """Records the gradient horizon of ``batch`` (a :class:`playground.data.Batch` of one
    sequence, e.g. ``dataset.example()``) every ``every`` steps of a trainer.

    ``attach(trainer)`` registers it as an ``on_step_end`` callback (it is one: calling it
    with a snapshot records when ``snapshot.step`` is due). Reading is thread-safe:
    :meth:`rows` and :meth:`singular_values` return copies."""

    def __init__(self, batch=None, every: int = 10, top_k: int = 3, max_rows: int = 500,
                 tbptt: int | None = None, budget: float | None = None):
        if every < 1 or top_k < 1 or max_rows < 2:
            raise ValueError("every and top_k must be at least 1, max_rows at least 2")
        self.batch, self.every, self.top_k, self.max_rows = batch, every, top_k, max_rows
        self.tbptt = tbptt
        # ``budget``: the share of a trainer's time recording may take (None: no limit);
        # a row that costs more makes rows half as frequent (thinning the kept ones)
        self.budget = budget
        self._step_time: float | None = None   # seconds per training step, smoothed
        self._last_call: tuple[int, float] | None = None
        self.failed = ""        # why recording stopped, if it did
        self.stride = every          # steps between rows now (doubles at each thinning)
        self.steps: list[int] = []
        self.layers: list[tuple[str, int, int]] = []   # (node, layer, direction)
        self._norms: list[list[np.ndarray]] = []       # per layer: rows (T,)
        self._sv: list[list[np.ndarray]] = []          # per layer: rows (top_k,)
        self._lock = threading.Lock()
        self._trainer = None

    # -- recording ---------------------------------------------------------------------------
    def attach(self, trainer) -> GradientHorizon:
        """Record from ``trainer`` (its model, its truncated BPTT window, and its chosen
        sequence when no ``batch`` was given)."""
        self._trainer = trainer
        self.tbptt = trainer.config.tbptt
        if self.batch is None:
            self.batch = trainer._trace_batch or trainer.dataset.example()
        trainer.add_callback("on_step_end", self)
        return self

    def __call__(self, snapshot) -> None:
        now = time.perf_counter()
        if self._last_call is not None and snapshot.step > self._last_call[0]:
            per = (now - self._last_call[1]) / (snapshot.step - self._last_call[0])
            self._step_time = per if self._step_time is None else \
                0.8 * self._step_time + 0.2 * per
        if snapshot.status == "running" and self._trainer is not None \
                and self.due(snapshot.step):
            try:
                self.record(self._trainer.model, snapshot.step)
            except (PlaygroundError, MemoryError, ValueError, np.linalg.LinAlgError) as e:
                self.failed = f"the gradient horizon stopped recording: {e}"   # training goes on
                self._trainer = None
                return
            cost = time.perf_counter() - now
            self._keep_to_budget(cost)
        self._last_call = (snapshot.step, time.perf_counter())   # (not counting the row)

    def _keep_to_budget(self, cost: float) -> None:
        """Rows half as often while one row costs more than ``budget`` of the training
        time between rows."""
        if self.budget is None or self._step_time is None or self._step_time <= 0:
            return
        with self._lock:
            while cost > self.budget * self.stride * self._step_time and self.stride < 2**30:
                if len(self.steps) >= 2:
                    self._thin()
                else:
                    self.stride *= 2

    def due(self, step: int) -> bool:
        """Whether iteration ``step`` gets a row: every ``every`` steps, and after thinning
        every ``stride`` steps from the first kept row (rows stay evenly spaced)."""
        with self._lock:
            first = self.steps[0] if self.steps else 0
        return step >= first and (step - first) % self.stride == 0

    def record(self, model, step: int) -> None:
        """Trace ``batch`` on ``model`` now and keep its row as iteration ``step``."""
        b = self.batch
        tr = trace(model, bind_inputs(model, b), b.targets, b.mask, tbptt=self.tbptt)
        recs = [r for r in tr.layers if isinstance(r, RecurrentTrace)]
        keys = [(r.node, r.layer, r.direction) for r in recs]
        rows = [r.dh_norm[0] for r in recs]
        stop = getattr(self._trainer, "_stop", None)        # a Stop ends the row early
        svs = [top_singular_values(model, r, self.top_k,
                                   should_stop=None if stop is None else stop.is_set)
               for r in recs]
        if stop is not None and stop.is_set():
            return                                          # no half-made row
        self._keep(keys, step, rows, svs)

    def _keep(self, keys, step, rows, svs) -> None:
        with self._lock:
            if keys != self.layers:   # another model: start afresh
                self.layers, self.steps = keys, []
                self._norms, self._sv = [[] for _ in keys], [[] for _ in keys]
            self.steps.append(int(step))
            for i in range(len(keys)):
                self._norms[i].append(rows[i])
                self._sv[i].append(svs[i])
            if len(self.steps) >= self.max_rows:
                self._thin()

    def _thin(self) -> None:
        self.steps = self.steps[::2]
        self._norms = [r[::2] for r in self._norms]
        self._sv = [r[::2] for r in self._sv]
        self.stride *= 2

    # -- reading -----------------------------------------------------------------------------
    def rows(self, layer: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(iterations (R,), ||dL/dh_t|| (R, T) float64)`` of recurrent layer ``layer``
        (an index into :attr:`layers`): the heatmap, iterations as rows."""
        with self._lock:
            steps = np.asarray(self.steps, dtype=np.int64)
            if not self.layers:
                return steps, np.zeros((0, 0))
            return steps, np.array(self._norms[layer], dtype=np.float64)

    def snapshot(self, layer: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(iterations, norms, singular values)`` of layer ``layer`` read under one lock: a
        row the trainer adds meanwhile is in all three or in none."""
        with self._lock:
            steps = np.asarray(self.steps, dtype=np.int64)
            if not self.layers:
                return steps, np.zeros((0, 0)), np.zeros((0, self.top_k))
            return (steps, np.array(self._norms[layer], dtype=np.float64),
                    np.array(self._sv[layer], dtype=np.float64).reshape(-1, self.top_k))

    def singular_values(self, layer: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(iterations (R,), top-k singular values (R, top_k))`` of layer ``layer``."""
        with self._lock:
            steps = np.asarray(self.steps, dtype=np.int64)
            if not self.layers:
                return steps, np.zeros((0, self.top_k))
            return steps, np.array(self._sv[layer], dtype=np.float64).reshape(-1, self.top_k)

    # -- files -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain JSON data (6 significant digits; non-finite numbers as null), with rows
        thinned further when they would pass :data:`MAX_SAVED` numbers."""
        with self._lock:
            steps, norms, svs = list(self.steps), list(self._norms), list(self._sv)
        per_row = sum(len(r[0]) + self.top_k for r in norms if r)
        step = 1
        while per_row and len(steps[::step]) * per_row > MAX_SAVED:
            step *= 2
        return {"format": FORMAT, "every": self.every, "stride": self.stride * step,
                "top_k": self.top_k, "max_rows": self.max_rows, "steps": steps[::step],
                "layers": [{"node": n, "layer": lyr, "direction": d,
                            "norms": [_round(r) for r in norms[i][::step]],
                            "singular": [_round(r) for r in svs[i][::step]]}
                           for i, (n, lyr, d) in enumerate(self.layers)]}

    @classmethod
    def from_dict(cls, data, where: str = "horizon") -> GradientHorizon:
        """The horizon ``to_dict`` wrote; every problem is a FileFormatError naming the
        field (``horizon.layers[0].norms[3]: ...``)."""
        def need(ok, msg, path=""):
            if not ok:
                raise FileFormatError(msg, where + path)

        need(isinstance(data, dict), "must be an object")
        need(data.get("format") == FORMAT, f"unknown format {data.get('format')!r}", ".format")
        for key in ("every", "stride", "top_k", "max_rows"):
            v = data.get(key)
            need(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 10 ** 9,
                 f"must be a positive integer, got {v!r}", f".{key}")
        steps, layers = data.get("steps"), data.get("layers")
        need(isinstance(steps, list) and all(isinstance(s, int) and not isinstance(s, bool)
                                             for s in steps), "must be a list of integers",
             ".steps")
        need(isinstance(layers, list), "must be a list", ".layers")
        h = cls(None, data["every"], data["top_k"], max(2, data["max_rows"]))
        h.stride, h.steps = data["stride"], list(steps)
        for i, lay in enumerate(layers):
            p = f".layers[{i}]"
            need(isinstance(lay, dict) and isinstance(lay.get("node"), str)
                 and isinstance(lay.get("layer"), int) and lay.get("direction") in (0, 1),
                 "must be an object with node, layer and direction", p)
            norms = _rows(lay.get("norms"), len(steps), None, need, p + ".norms")
            svs = _rows(lay.get("singular"), len(steps), h.top_k, need, p + ".singular")
            h.layers.append((lay["node"], lay["layer"], lay["direction"]))
            h._norms.append(norms)
            h._sv.append(svs)
        return h


def _round(row) -> list:
    return [float(f"{x:.6g}") if np.isfinite(x) else None for x in np.asarray(row, float)]


def _rows(raw, count, width, need, path) -> list[np.ndarray]:
    need(isinstance(raw, list) and len(raw) == count, f"must be a list of {count} rows", path)
    out = []
    for j, row in enumerate(raw):
        need(isinstance(row, list) and all(v is None or (isinstance(v, (int, float))
                                                         and not isinstance(v, bool))
                                           for v in row), "must be a list of numbers",
             f"{path}[{j}]")
        need(width is None or len(row) == width, f"must have {width} numbers", f"{path}[{j}]")
        need(not out or len(row) == len(out[0]), "rows must have the same length",
             f"{path}[{j}]")
        out.append(np.array([np.nan if v is None else v for v in row], dtype=np.float64))
    return out
