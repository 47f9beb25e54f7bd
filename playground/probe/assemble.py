"""The records of an inspected forward pass, after its backward: numpy, batch-first, in the
classes every trace uses (:mod:`playground.tracing.records`)."""

from __future__ import annotations

import numpy as np

from ..tracing.gates import _np, flip_time, forward_quantities, gradient_quantities
from ..tracing.records import AttentionTrace, RecurrentTrace

WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _grad(grads, t):
    if t is None:
        return None
    g = grads.get(id(t))
    return _np(g) if g is not None else np.zeros(tuple(t.shape), _np(t.detach()).dtype)


def _merge(parts, B: int, T: int | None):
    """Group arrays ``[(rows, array (b, T_g, ...))]`` as one ``(B, T, ...)`` array, zeros
    where a sequence has ended (``T`` None: arrays without a time axis)."""
    first = parts[0][1]
    if first is None:
        return None
    if isinstance(first, dict):
        return {k: _merge([(r, a[k]) for r, a in parts], B, T) for k in first}
    if parts[0][0] is None:
        return np.ascontiguousarray(first)
    shape = (B,) + ((T,) + first.shape[2:] if T is not None else first.shape[1:])
    out = np.zeros(shape, first.dtype)
    for rows, a in parts:
        r = rows.cpu().numpy()
        if T is None:
            out[r] = a
        else:
            out[r, :a.shape[1]] = a
    return out


def recurrent_records(call, grads, pg) -> list[RecurrentTrace]:
    """One record per layer and direction of one call of an ``nn.RNN`` / ``LSTM`` / ``GRU``."""
    records = []
    for layer in range(call.layers):
        for d in range(call.directions):
            parts = []
            for rows, _, runs in call.groups:
                run = runs[(layer, d)]
                res = forward_quantities(run)
                if grads is None:
                    res.update({"dh": None, "dc": None, "dh_dropped": None})
                else:
                    res.update(gradient_quantities(run, [_grad(grads, t)
                                                         for t in run.grad_targets()]))
                flip = flip_time if d else (lambda a: a)
                res = {k: flip(res[k]) for k in ("h", "c", "gates", "pre", "dh", "dc",
                                                 "dh_dropped")}
                res["x"] = flip(_np(run.x))
                res["h0"], res["c0"] = _np(run.h0), _np(run.c0)
                parts.append((rows, res))
            m = {k: _merge([(r, p[k]) for r, p in parts], call.batch,
                           None if k in ("h0", "c0") else call.steps)
                 for k in parts[0][1]}
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            wg = {w: pg[f"{call.node}.{w}{sfx}"] for w in WEIGHTS
                  if f"{call.node}.{w}{sfx}" in pg}
            records.append(RecurrentTrace(
                node=call.node, kind=call.kind, layer=layer, direction=d,
                nonlinearity=call.nonlinearity, x=m["x"], h=m["h"], h0=m["h0"], c=m["c"],
                c0=m["c0"], gates=m["gates"], pre=m["pre"], dh=m["dh"], dc=m["dc"],
                dh_dropped=m["dh_dropped"], cut=np.zeros(call.steps, bool), weight_grads=wg,
                call=call.call))
    return records


def _stack(ts) -> np.ndarray:
    return np.stack([_np(t) for t in ts], 1)


def cell_record(steps, grads, pg) -> RecurrentTrace:
    """A cell's calls as the steps of one layer."""
    lstm = steps.kind == "lstm"
    gates = {k: _stack([g[k] for g in steps.gates]) for k in steps.gates[0]}
    pre = {k: _stack([g[k] for g in steps.pre]) for k in steps.pre[0]}
    dh = dc = None
    if grads is not None:
        dh = np.stack([_grad(grads, p) for p in steps.probe_h], 1)
        dc = np.stack([_grad(grads, p) for p in steps.probe_c], 1) if lstm else None
    return RecurrentTrace(
        node=steps.node, kind=steps.kind, layer=0, direction=0,
        nonlinearity=steps.nonlinearity, x=_stack(steps.x), h=_stack(steps.h),
        h0=_np(steps.h0).copy(), c=_stack(steps.c) if lstm else None,
        c0=_np(steps.c0).copy() if lstm else None, gates=gates, pre=pre, dh=dh, dc=dc,
        dh_dropped=None, cut=np.zeros(len(steps.x), bool),
        weight_grads={w: pg[f"{steps.node}.{w}"] for w in WEIGHTS if f"{steps.node}.{w}" in pg})


def attention_record(a, grads) -> AttentionTrace:
    """One call of an ``nn.MultiheadAttention``, batch-first."""
    out = _np(a.out)
    dout = None if grads is None else _grad(grads, a.out)
    if not a.batch_first:
        out = np.ascontiguousarray(out.transpose(1, 0, 2))
        dout = None if dout is None else np.ascontiguousarray(dout.transpose(1, 0, 2))
    return AttentionTrace(
        node=a.node, kind="self_attention" if a.self_attention else "cross_attention",
        x=_np(a.x).copy(), memory=_np(a.memory).copy(), q=_np(a.q), k=_np(a.k), v=_np(a.v),
        weights=_np(a.weights), out=out.copy(), dout=dout, call=a.call)
