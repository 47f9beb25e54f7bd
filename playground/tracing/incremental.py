"""Reusing a trace: a what-if or an edited sequence recomputes a layer only from the first
step where something it depends on changed.

A trace carries :func:`model_key` of the weights that made it. For each recurrent
layer-direction, :func:`first_change` finds the first run-order step where its input, its
initial state or an intervention differs from the base trace's; :func:`base_prefix` hands
the base's arrays of the steps before it to the forward pass, which starts there. The
backward pass always runs over the whole sequence.
"""

from __future__ import annotations

import numpy as np

from .records import RecurrentTrace
from .runs import GATES, Run


def model_key(model) -> tuple:
    """Which weights these are: each parameter's storage and version counter (which every
    in-place update, such as an optimiser step or a load, advances), and its dtype."""
    return tuple((p.data_ptr(), p._version, str(p.dtype), str(p.device))
                 for p in model.parameters())


def _run_order(a: np.ndarray, d: int, s: int) -> np.ndarray:
    """Steps ``0..s-1`` in run order of a natural-time ``(B, T, ...)`` array."""
    return a[:, :s] if d == 0 else a[:, a.shape[1] - s:][:, ::-1]


def first_change(run: Run, old: RecurrentTrace | None, d: int) -> int:
    """The first run-order step whose value may differ from ``old`` (0: all of them)."""
    x = run.x.detach()
    B, T = x.shape[:2]
    H = run.weights[1].shape[1]
    first = int(run.ivs.lo.min()) if len(run.ivs) else T
    if (old is None or old.kind != run.kind or old.nonlinearity != run.nonlinearity
            or old.h.shape != (B, T, H) or old.x.shape != tuple(x.shape)
            or old.h.dtype != np.dtype(str(x.dtype).removeprefix("torch."))):
        return 0
    if not np.array_equal(old.h0, run.h0.detach().cpu().numpy()):
        return 0
    if run.c0 is not None and not np.array_equal(old.c0, run.c0.detach().cpu().numpy()):
        return 0
    xs = x.cpu().numpy()
    xo = _run_order(old.x, d, T)
    differs = np.nonzero((xs != xo).reshape(B, T, -1).any(axis=(0, 2)))[0]
    return min(first, int(differs[0])) if differs.size else first


def base_prefix(old: RecurrentTrace, kind: str, d: int, s: int) -> dict[str, np.ndarray]:
    """``old``'s arrays of run-order steps ``0..s-1`` in the kernels' layout."""
    letters = "".join(GATES[kind])
    out = {"h": _run_order(old.h, d, s)}
    if letters:
        out["act"] = np.concatenate([_run_order(old.gates[k], d, s) for k in letters], -1)
        out["pre"] = np.concatenate([_run_order(old.pre[k], d, s) for k in letters], -1)
    else:
        out["pre"] = _run_order(old.pre["pre"], d, s)
    if kind == "lstm":
        out["c"] = _run_order(old.c, d, s)
    return out
