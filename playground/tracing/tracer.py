"""Exact per-step traces: everything a user steps through, as float numpy arrays.

:func:`trace` runs a model on one batch of sequences and records, per time step
and per layer, the input, the hidden and cell states, every gate with its
pre-activation, attention weights with Q/K/V, the outputs, probabilities and
per-step losses, and the gradients BPTT delivers: the *total* dL/dh_t and dL/dc_t
at each step (recurrent path included) and dL/dW for every weight.

Arrays are batch-first, ``(B, T, ...)``. A trace holds no torch tensors: the
views draw from it without ever reaching back into torch.


How a node is recorded is its kind's ``trace`` style (:mod:`playground.model.registry`):
``recurrent`` layers run one layer-direction at a time down one of three paths (fused,
compiled, step by step: :mod:`playground.tracing.runs`), ``attention`` layers give their
per-head weights, ``output`` kinds their output and its gradient.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import SequenceError
from ..model.build import SequenceModel
from ..model.inputs import check_inputs
from ..model.losses import mean_loss, step_losses
from . import compiled
from .gates import _np, flip_time, forward_quantities, gradient_quantities
from .incremental import base_prefix, first_change, model_key
from .interventions import check_interventions, records_for
from .records import AttentionTrace, OutputTrace, RecurrentTrace, Trace
from .recurrent import run_traced
from .runs import Run, chunks, cut_masks
from .stepwise import run_stepwise

PATHS = ("auto", "compiled", "fused", "stepwise")


def _steps(inputs: dict) -> int:
    return max(int(x.shape[1]) for x in inputs.values())


def _natural_cut(run_cut: np.ndarray) -> np.ndarray:
    """The reverse direction's cuts in natural time: run step r follows natural step
    T-1-r, so a cut before run step r is the gap before natural step T-r."""
    T = run_cut.shape[0]
    nat = np.zeros(T, bool)
    r = np.nonzero(run_cut)[0]
    nat[T - r[r > 0]] = True
    return nat


def trace(model: SequenceModel, inputs, targets=None, mask=None, *, tbptt: int | None = None,
          interventions=(), path: str = "auto", base: Trace | None = None) -> Trace:
    """Run ``model`` on ``inputs`` and record everything (see module doc).

    ``inputs`` is a tensor for a one-input model or a dict keyed by input node id,
    ``(B, T)`` token ids or ``(B, T, F)`` values. With ``targets`` (and ``mask``,
    default all steps) the loss is computed and everything is backpropagated.
    ``tbptt`` cuts the recurrent gradient every ``tbptt`` steps. ``interventions``
    (:class:`~playground.tracing.interventions.Intervention`) change gates or states from
    some step on; everything after is recomputed.

    ``path`` picks how recurrent layers are traced (:mod:`playground.tracing.runs`):
    ``"compiled"`` (waits for the kernels to compile; CPU, float32/64, numba), ``"fused"``
    (PyTorch's kernel and a torch loop, any device), ``"stepwise"`` (an autograd unroll), or
    ``"auto"``: compiled where it is available and ready, else fused. All give the same
    numbers up to rounding.

    ``base``, a trace of the same model (weights unchanged) on inputs that agree up to some
    step, is reused: each layer is recomputed only from the first step where its input or an
    intervention differs (a what-if on the current trace costs what follows the change).
    A base that does not fit is ignored.
    """
    inputs = check_inputs(model, inputs)
    if tbptt is not None and (isinstance(tbptt, bool) or not isinstance(tbptt, int)
                              or tbptt < 1):
        raise SequenceError(f"truncated BPTT window must be a positive number of steps, "
                            f"got {tbptt!r}")
    check_interventions(model, interventions, _steps(inputs))
    if path not in PATHS:
        raise SequenceError(f"unknown trace path {path!r}; choose one of {', '.join(PATHS)}")
    # Dropout off; skip the module walk (measurable on short traces) when nothing drops out.
    was_training = model.training and model.has_dropout
    if was_training:
        model.eval()
    try:
        with torch.enable_grad():
            return _trace(model, inputs, targets, mask, tbptt, tuple(interventions), path, base)
    finally:
        if was_training:
            model.train(True)


def _trace(model, inputs, targets, mask, tbptt, interventions, path, base):  # noqa: C901
    info = model.info
    key = model_key(model)
    if base is not None and base.model_key != key:
        base = None
    runs: list[tuple[str, int, int, Run]] = []
    attn: list[tuple[str, str, torch.Tensor, torch.Tensor, torch.Tensor, dict]] = []
    plain: list[tuple[str, str, torch.Tensor]] = []

    def visit(nid, decl, layer, args):
        if decl.trace == "recurrent":
            return _trace_recurrent(nid, decl.cell, layer, args[0], args[1], tbptt,
                                    interventions, path, base, runs, nid in model.state_sources)
        if decl.trace == "attention":
            out, parts = layer.with_weights(*args)
            mem = args[1] if len(args) > 1 else args[0]  # self-attention: keys are the queries
            attn.append((nid, decl.name, args[0], mem, out, parts))
            return out
        out = layer(*args)
        if decl.trace == "output":
            plain.append((nid, decl.name, out[0] if "state" in decl.outputs else out))
        return out

    outputs = model.run(inputs, visit=visit)[0]
    T = outputs.shape[1]
    head = model.head_output
    has_loss = targets is not None
    params = model.trainable()
    sl = loss = None
    grad_list: list = []
    if has_loss:
        targets_t = torch.as_tensor(targets, device=outputs.device)
        if targets_t.shape[:2] != outputs.shape[:2]:
            raise SequenceError(f"targets have shape {tuple(targets_t.shape)} but the model "
                                f"outputs {tuple(outputs.shape[:2])} (batch, steps)")
        mask_t = None if mask is None else torch.as_tensor(mask, device=outputs.device)
        if mask_t is not None and tuple(mask_t.shape) != tuple(outputs.shape[:2]):
            raise SequenceError(f"the loss mask has shape {tuple(mask_t.shape)} but the model "
                                f"outputs {tuple(outputs.shape[:2])} (batch, steps)")
        if targets_t.dtype.is_floating_point:
            bad = ~torch.isfinite(targets_t)
            if mask_t is not None:
                bad &= (mask_t > 0).view(*mask_t.shape, *[1] * (targets_t.dim() - 2))
            if bool(bad.any()):
                b, t = (int(i) for i in bad.nonzero()[0][:2])
                raise SequenceError(f"the target at step {t} (sequence {b}) is not a finite "
                                    "number")
        if mask is None:  # every step carries loss: fewer autograd nodes on short traces
            sl = step_losses(outputs, targets_t, None, head)
            loss = sl.mean()
        else:
            sl = step_losses(outputs, targets_t, mask_t, head)
            loss = mean_loss(sl, mask_t)
        wanted = [p for _, p in params]
        for _, _, _, run in runs:
            wanted += run.grad_targets()
        wanted += [a[4] for a in attn]
        wanted += [o for _, _, o in plain]
        live = [w for w in wanted if w is not None and w.requires_grad]
        got = dict(zip(map(id, live), torch.autograd.grad(loss, live, allow_unused=True)))
        grad_list = [got.get(id(w)) if w is not None else None for w in wanted]
    pg = {n: _np(grad_list[i]) if grad_list and grad_list[i] is not None
          else np.zeros(tuple(p.shape), dtype=_np(p.detach()).dtype)
          for i, (n, p) in enumerate(params)}
    pos = len(params)
    records: list = []
    for nid, l, d, run in runs:
        res = forward_quantities(run)
        k = len(run.grad_targets())
        g = grad_list[pos:pos + k] if has_loss else [None] * k
        pos += k
        # A quantity the loss does not reach gets zeros (as numpy, without torch calls).
        g = [_np(gi) if gi is not None else
             (None if gt is None else np.zeros(tuple(gt.shape), _np(gt).dtype))
             for gi, gt in zip(g, run.grad_targets())]
        res.update(gradient_quantities(run, g) if has_loss else
                   {"dh": None, "dc": None, "dh_dropped": None})
        flip = flip_time if d == 1 else (lambda a: a)
        sfx = f"_l{l}" + ("_reverse" if d else "")
        wg = {name: pg.get(f"layers.{nid}.rnn.{name}{sfx}") for name in
              ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        records.append(RecurrentTrace(
            node=nid, kind=run.kind, layer=l, direction=d, nonlinearity=run.nonlinearity,
            x=flip(_np(run.x)), h=flip(res["h"]), h0=_np(run.h0),
            c=flip(res["c"]), c0=_np(run.c0), gates=flip(res["gates"]), pre=flip(res["pre"]),
            dh=flip(res["dh"]), dc=flip(res["dc"]), dh_dropped=flip(res["dh_dropped"]),
            cut=_natural_cut(run.cut) if d else run.cut.copy(),
            weight_grads={k: v for k, v in wg.items() if v is not None},
            # natural time: the first steps of the forward direction only
            prefix_of=run.base_serial if d == 0 else None,
            prefix_steps=run.start if d == 0 and run.base_serial is not None else 0))

    def output_grad(i: int, out: torch.Tensor) -> np.ndarray | None:
        """dL/d(out) from the i-th wanted gradient: zeros where the loss does not reach."""
        if not has_loss:
            return None
        g = grad_list[i]
        return _np(g) if g is not None else np.zeros(tuple(out.shape), _np(out).dtype)

    for i, (nid, kind, x, mem, out, parts) in enumerate(attn, pos):
        q_from = _upstream_input(model.graph, nid, "seq")
        k_from = _upstream_input(model.graph, nid, "memory") or q_from
        records.append(AttentionTrace(
            node=nid, kind=kind, x=_np(x), memory=_np(mem), q=_np(parts["q"]),
            k=_np(parts["k"]), v=_np(parts["v"]), weights=_np(parts["weights"]),
            scores=_np(parts["scores"]) if "scores" in parts else None,
            query_input=q_from, key_input=k_from,
            out=_np(out), dout=output_grad(i, out)))
    for i, (nid, kind, out) in enumerate(plain, pos + len(attn)):
        records.append(OutputTrace(node=nid, kind=kind, out=_np(out), dout=output_grad(i, out)))
    order = {nid: i for i, nid in enumerate(info.order)}
    records.sort(key=lambda r: (order[r.node], r.layer, r.direction))
    probs = _np(torch.softmax(outputs.detach(), -1)) if head == "softmax" else None
    return Trace(
        layers=records, inputs={k: _np(v) for k, v in inputs.items()}, outputs=_np(outputs),
        probs=probs, targets=None if targets is None else _np(targets_t),
        mask=None if not has_loss else (np.ones(outputs.shape[:2], np.float32) if mask_t is None
                                        else _np(mask_t)),
        step_loss=_np(sl), loss=None if loss is None else loss.item(), param_grads=pg,
        head_output=head, tbptt=tbptt if tbptt and tbptt < T else None, interventions=interventions,
        model_key=key)


def _trace_recurrent(nid, kind, layer, x, state, tbptt, interventions, path, base, runs,
                     need_final=True):
    rnn = layer.rnn
    L, D, H = rnn.num_layers, 2 if rnn.bidirectional else 1, rnn.hidden_size
    B, T = x.shape[0], x.shape[1]
    windows = chunks(T, tbptt)
    # The reverse direction runs the same windows backwards, so both cut the same gaps.
    rev_windows = [(T - e, T - s) for s, e in reversed(windows)]
    cut, keep = cut_masks(T, tuple(windows))  # natural time: no gradient across the gap before t
    rev_cut, rev_keep = cut_masks(T, tuple(rev_windows)) if D == 2 else (None, None)  # run order
    if state is None:
        zeros = x.new_zeros(L * D, B, H)
        h0_all, c0_all = zeros, (zeros if kind == "lstm" else None)
    elif kind == "lstm":
        h0_all, c0_all = state
    else:
        h0_all, c0_all = state, None
    backend = path
    if path in ("auto", "compiled"):
        dtype = {torch.float32: np.float32, torch.float64: np.float64}.get(x.dtype)
        ok = compiled.available(kind, dtype, x.device.type, H, wait=path == "compiled")
        if path == "compiled" and not ok:
            raise SequenceError(
                f"layer '{nid}' cannot take the compiled path: it needs numba and a CPU model in "
                f"float32 or float64 with at most {compiled.MAX_HIDDEN} hidden units")
        backend = "compiled" if ok else "fused"
    layer_in = x
    hs, cs = [], []
    for l in range(L):
        outs = []
        for d in range(D):
            sfx = f"_l{l}" + ("_reverse" if d else "")
            W = (getattr(rnn, "weight_ih" + sfx), getattr(rnn, "weight_hh" + sfx),
                 getattr(rnn, "bias_ih" + sfx, None), getattr(rnn, "bias_hh" + sfx, None))
            xin = layer_in.flip(1) if d else layer_in
            run = Run(kind, layer.nonlinearity, xin, h0_all[l * D + d],
                      c0_all[l * D + d] if c0_all is not None else None, W,
                      rev_cut if d else cut, rev_keep if d else keep, backend=backend)
            mine = [iv for iv in interventions
                    if iv.node == nid and iv.layer == l and iv.direction == d]
            if backend == "stepwise":
                ivs_at: dict[int, list] = {}
                for t in range(T):
                    nat = T - 1 - t if d else t
                    active = [iv for iv in mine if iv.covers(nat)]
                    if active:
                        ivs_at[t] = active
                run_stepwise(run, rev_windows if d else windows, ivs_at)
            else:
                run.ivs = records_for(mine, kind, T, H, reverse=bool(d))
                old = base.layer(nid, l, d) if base is not None and base.has_layer(nid, l, d) \
                    else None
                run.start = first_change(run, old, d, _first_changed(base, old, nid, l, d,
                                                                      kind, H))
                run.base = base_prefix(old, kind, d, run.start) if run.start else None
                run.base_serial = old.serial if run.start else None
                run_traced(run)
            runs.append((nid, l, d, run))
            outs.append(run.out.flip(1) if d else run.out)
            hs.append(run.hT)
            cs.append(run.cT)
        layer_in = torch.cat(outs, -1) if D == 2 else outs[0]
    if not need_final:  # no layer starts from this one's final state
        return layer_in, None
    final = (torch.stack(hs), torch.stack(cs)) if kind == "lstm" else torch.stack(hs)
    return layer_in, final


def _first_changed(base, old, nid: str, l: int, d: int, kind: str, H: int) -> int | None:
    """The first run-order step at which ``base`` was traced with an intervention on this
    layer-direction (its values from there on are no plain forward), or None."""
    if old is None:
        return None
    theirs = [iv for iv in base.interventions
              if iv.node == nid and iv.layer == l and iv.direction == d]
    if not theirs:
        return None
    ivs = records_for(theirs, kind, old.h.shape[1], H, reverse=bool(d))
    return int(ivs.lo.min()) if len(ivs) else None


def _upstream_input(graph, node_id: str, port: str) -> str:
    """The input node whose steps the ``port`` of ``node_id`` reads, step for step: up the
    edges into ``seq`` ports ("" when there is none, as for a port with no edge)."""
    seen = set()
    src = graph.inputs_of(node_id).get(port)
    while src is not None and src not in seen:
        seen.add(src)
        if graph.node(src).kind == "input":
            return src
        src = graph.inputs_of(src).get("seq")
    return ""
