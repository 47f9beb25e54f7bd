"""``inspect(model, inputs, targets, loss_fn, interventions) -> Trace`` for any
``torch.nn.Module``: the user's own forward runs once, with its ``nn.RNN`` / ``nn.LSTM`` /
``nn.GRU`` modules computed by this project's exact recurrent function and its cells and
attention recorded (:mod:`.patching`); then ``loss_fn(output, targets)`` is
backpropagated with ``torch.autograd.grad``, so no ``.grad`` field of the model changes.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import SequenceError
from ..tracing.gates import _np
from ..tracing.records import Trace
from .assemble import attention_record, cell_record, recurrent_records
from .patching import Recording, check_interventions, patched

PATHS = ("auto", "compiled", "fused", "stepwise")
OUTPUTS = ("auto", "logits", "values")


def _is_cross_entropy(loss_fn) -> bool:
    """Whether ``loss_fn`` is PyTorch's cross-entropy (function or module) or a function
    named so (the command line's ``--loss cross_entropy``): its output is then logits."""
    if loss_fn is None:
        return False
    if loss_fn is torch.nn.functional.cross_entropy or isinstance(loss_fn, nn.CrossEntropyLoss):
        return True
    return getattr(loss_fn, "__name__", "") == "cross_entropy"


def _steps(records, out: np.ndarray) -> int:
    """The trace's time steps: its first record's (an output need not have a time axis, as
    a classifier's ``(B, C)``), else the output's second axis."""
    from ..tracing.records import AttentionTrace, RecurrentTrace

    for r in records:
        if isinstance(r, RecurrentTrace):
            return int(r.h.shape[1])
        if isinstance(r, AttentionTrace):
            return int(r.weights.shape[2])
    return int(out.shape[1]) if out.ndim >= 2 else 1


def _first_tensor(output):
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for o in output:
            t = _first_tensor(o)
            if t is not None:
                return t
    if isinstance(output, dict):
        for o in output.values():
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


def _inputs(inputs) -> dict[str, np.ndarray]:
    if isinstance(inputs, torch.Tensor):
        return {"input": _np(inputs)}
    return {f"input_{i}": _np(x) for i, x in enumerate(inputs) if isinstance(x, torch.Tensor)}


def inspect(model: nn.Module, inputs, targets=None, loss_fn=None, interventions=(), *,
            path: str = "auto", output: str = "auto") -> Trace:
    """Run ``model(*inputs)`` once and record every recurrent layer, cell and attention in it.

    ``inputs`` is a tensor or a tuple of positional arguments. With ``loss_fn`` (and
    ``targets``), ``loss = loss_fn(output, targets)`` -- a scalar, or per-step losses
    ``(B, T)`` whose mean is the loss (losses of another shape, one per sequence say, count
    by their mean too, but are not per step) -- is backpropagated: the trace then holds dL/dh_t and
    dL/dc_t of every step (the total BPTT delivers) and dL/dW of every parameter, while the
    model's own ``.grad`` fields stay as they were. ``interventions``
    (:class:`playground.Intervention`, ``node`` = the module's name in
    ``model.named_modules()``) change a gate or state from a step on, in every call of that
    module; the rest of the user's forward sees the changed values.

    Each ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` gives one :class:`RecurrentTrace` per call,
    layer and direction; a cell (``nn.LSTMCell`` ...) one record whose steps are its calls;
    ``nn.MultiheadAttention`` (also in ``nn.TransformerEncoderLayer``) an
    :class:`AttentionTrace` per call. ``trace.outputs`` is the model's output (its first
    tensor when it returns several). The model's mode, weights and device are untouched.
    ``path`` picks the recurrent path as in :func:`playground.trace`. ``output`` says what
    the output is: ``"logits"`` (then ``trace.probs`` is their softmax over the last axis),
    ``"values"``, or ``"auto"``: logits when ``loss_fn`` is cross-entropy.
    ``trace.steps`` is the recorded modules' number of steps.
    """
    if not isinstance(model, nn.Module):
        raise SequenceError(f"inspect takes a torch.nn.Module, got {type(model).__name__}")
    if path not in PATHS:
        raise SequenceError(f"unknown trace path {path!r}; choose one of {', '.join(PATHS)}")
    if output not in OUTPUTS:
        raise SequenceError(f"unknown output {output!r}; choose one of {', '.join(OUTPUTS)}")
    logits = output == "logits" or (output == "auto" and _is_cross_entropy(loss_fn))
    if loss_fn is None and targets is not None:
        raise SequenceError("targets were given without a loss_fn(output, targets)")
    interventions = tuple(interventions)
    check_interventions(model, interventions)
    args = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    rec = Recording(interventions, path)
    with torch.enable_grad(), patched(model, rec):
        output = model(*args)
    unused = {iv.node for iv in interventions} - rec.used - set(rec.cells)
    if unused:
        raise SequenceError(f"intervention on '{sorted(unused)[0]}': that module was not "
                            "called in the forward pass")
    for iv in interventions:
        made = rec.calls.get(iv.node, 0)
        if iv.call is not None and iv.call >= made:
            raise SequenceError(f"intervention on '{iv.node}': call {iv.call} does not exist "
                                f"(the module was called {made} time(s), counted from 0)")
        steps = rec.cells.get(iv.node)
        if steps is not None and iv.step >= len(steps.x):
            raise SequenceError(f"intervention on '{iv.node}': step {iv.step} is outside the "
                                f"cell's {len(steps.x)} calls")
    out = _first_tensor(output)
    if out is None:
        raise SequenceError("the model returned no tensor")
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    loss = sl = None
    grads: dict[int, torch.Tensor] = {}
    if loss_fn is not None:
        with torch.enable_grad():
            value = loss_fn(output, targets)
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise SequenceError("loss_fn must return a float tensor: a scalar loss or "
                                "per-step losses")
        if value.dim() == 0:
            loss = value
        else:       # per step (B, T) is kept per step; any other shape (per sequence) is not
            sl, loss = (value if value.dim() == 2 else None), value.mean()
        wanted = [p for _, p in params]
        for call in rec.recurrent:
            for _, _, runs in call.groups:
                for run in runs.values():
                    wanted += run.grad_targets()
        for steps in rec.cells.values():
            wanted += steps.probe_h + steps.probe_c
        wanted += [a.out for a in rec.attention]
        live = list({id(w): w for w in wanted if w is not None and w.requires_grad}.values())
        if loss.requires_grad and live:
            got = torch.autograd.grad(loss, live, allow_unused=True)
            grads = {id(w): g for w, g in zip(live, got) if g is not None}
    has_loss = loss is not None
    pg = {n: _np(grads[id(p)]) if id(p) in grads else np.zeros(tuple(p.shape),
                                                               _np(p.detach()).dtype)
          for n, p in params} if has_loss else {}
    records: list = []
    for call in rec.recurrent:
        records += recurrent_records(call, grads if has_loss else None, pg)
    for steps in rec.cells.values():
        records.append(cell_record(steps, grads if has_loss else None, pg))
    for a in rec.attention:
        records.append(attention_record(a, grads if has_loss else None))
    t_np = None
    if targets is not None and isinstance(targets, torch.Tensor):
        t_np = _np(targets)
    probs = None
    if logits and out.is_floating_point() and out.dim() >= 1:
        with torch.no_grad():
            probs = _np(torch.softmax(out.detach().double(), dim=-1).to(out.dtype)).copy()
    outputs = _np(out).copy()
    return Trace(
        layers=records, inputs=_inputs(args if len(args) > 1 else args[0]),
        outputs=outputs, probs=probs, targets=t_np, mask=None,
        step_loss=None if sl is None else _np(sl).copy(),
        loss=None if loss is None else float(loss.item()), param_grads=pg,
        head_output="softmax" if logits else "identity", interventions=interventions,
        time_steps=_steps(records, outputs))
