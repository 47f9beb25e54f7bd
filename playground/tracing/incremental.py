"""Reusing a trace: a what-if or an edited sequence recomputes a layer only from the first
step where something it depends on changed.

A trace carries :func:`model_key` of the weights that made it. For each recurrent
layer-direction, :func:`first_change` finds the first run-order step where its input, its
initial state or an intervention (of the new trace or of the base) differs from the base
trace's, or where the base ends (a sequence typed further keeps its first steps);
:func:`base_prefix` hands the base's arrays of the steps before it to the forward pass,
which starts there. The backward pass always runs over the whole sequence.
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


def first_change(run: Run, old: RecurrentTrace | None, d: int, old_first: int | None = None
                 ) -> int:
    """The first run-order step whose value may differ from ``old`` (0: all of them): where
    the inputs differ, an intervention of this run or of ``old`` (``old_first``: the first
    run-order step ``old`` was changed at) comes, or ``old`` ends. A sequence typed further
    or cut short keeps its common first steps (forward in time: the first steps of its
    text; the reverse direction of a bidirectional layer starts from the end)."""
    x = run.x.detach()
    B, T = x.shape[:2]
    H = run.weights[1].shape[1]
    first = int(run.ivs.lo.min()) if len(run.ivs) else T
    if old_first is not None:
        first = min(first, int(old_first))
    if (old is None or old.kind != run.kind or old.nonlinearity != run.nonlinearity
            or old.h.ndim != 3 or old.h.shape[0] != B or old.h.shape[2] != H
            or old.x.shape[0] != B or old.x.shape[2:] != tuple(x.shape[2:])
            or old.h.dtype != np.dtype(str(x.dtype).removeprefix("torch."))):
        return 0
    if not np.array_equal(old.h0, run.h0.detach().cpu().numpy()):
        return 0
    if run.c0 is not None and not np.array_equal(old.c0, run.c0.detach().cpu().numpy()):
        return 0
    n = min(T, old.x.shape[1])
    first = min(first, n)
    xs = x[:, :n].cpu().numpy()
    xo = _run_order(old.x, d, n)
    differs = np.nonzero((xs != xo).reshape(B, n, -1).any(axis=(0, 2)))[0]
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
