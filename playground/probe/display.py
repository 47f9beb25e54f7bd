"""An inspected trace put in the form the panels and the timeline read: per step, batch
first.

``playground.inspect`` keeps a model's own output as the model returned it (time-major
``(T, B, ...)`` when the model is, or a classifier's ``(B, C)`` without a time axis);
:func:`per_step` gives the same trace with ``outputs`` (and ``probs``, the targets and
per-step losses where they follow the output's shape) as ``(B, T, ...)`` over the
recorded modules' steps.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..tracing.records import AttentionTrace, RecurrentTrace, Trace


def recorded_shape(trace: Trace) -> tuple[int, int] | None:
    """``(B, T)`` of the trace's first recurrent or attention record."""
    for r in trace.layers:
        if isinstance(r, RecurrentTrace):
            return r.h.shape[0], r.h.shape[1]
        if isinstance(r, AttentionTrace):
            return r.weights.shape[0], r.weights.shape[2]
    return None


def _swap(a):
    return None if a is None else np.swapaxes(np.asarray(a), 0, 1)


def _at_last_step(a, B: int, T: int):
    """``a`` (B, ...) flattened per sequence and placed at the last of T steps (NaN before)."""
    flat = np.asarray(a, dtype=np.float64).reshape(B, -1)
    shown = np.full((B, T, flat.shape[1]), np.nan)
    shown[:, -1] = flat
    return shown


def per_step(trace: Trace) -> Trace:
    """``trace`` with its output ``(B, T, ...)`` over the records' steps. A time-major
    output ``(T, B, ...)`` is put batch first (its probabilities, targets and per-step
    losses too, where they have that shape); an output that is not per step (a
    classifier's ``(B, C)``) is shown at the last step, the steps before it empty (NaN),
    and so are its targets (a class per sequence: ``-1``, no target, before the last
    step). The records are the same objects."""
    bt = recorded_shape(trace)
    out = np.asarray(trace.outputs)
    if bt is None or (out.ndim >= 2 and out.shape[:2] == bt):
        return dataclasses.replace(trace, time_steps=None) if out.ndim >= 2 else trace
    B, T = bt
    if out.ndim >= 2 and out.shape[:2] == (T, B):
        tg, sl = trace.targets, trace.step_loss
        return dataclasses.replace(
            trace, outputs=_swap(out), probs=_swap(trace.probs), time_steps=None,
            targets=_swap(tg) if tg is not None and np.ndim(tg) >= 2 and
            np.shape(tg)[:2] == (T, B) else None,
            step_loss=_swap(sl) if sl is not None and np.shape(sl) == (T, B) else None)
    targets = None
    if out.ndim >= 1 and out.shape[0] == B:
        shown = _at_last_step(out, B, T)
        probs = None if trace.probs is None else _at_last_step(trace.probs, B, T)
        tg = None if trace.targets is None else np.asarray(trace.targets)
        if tg is not None and probs is not None and tg.shape == (B,) and tg.dtype.kind in "iu":
            targets = np.full((B, T), -1, dtype=np.int64)
            targets[:, -1] = tg
        elif tg is not None and probs is None and tg.shape[:1] == (B,) and \
                tg.size == out.size:
            targets = _at_last_step(tg, B, T)
    else:
        shown, probs = np.full((B, T, 1), np.nan), None
    return dataclasses.replace(trace, outputs=shown, probs=probs, targets=targets,
                               step_loss=None, time_steps=None)
