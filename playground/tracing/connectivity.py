"""Connectivity: how strongly each output step depends on each input step.

As in Distill's "Visualizing memorization in RNNs" (Madsen, 2019): ``C[t, s] =
||d y_t / d x_s||_2`` for the output ``y_t`` at step t (a logit, or every output) and the
model's input ``x_s`` at step s (for token inputs the input layer's output, one-hot or
embedding; for value inputs the raw features). A causal model (every layer sees only the
steps so far) gives zeros above the diagonal; a bidirectional or attention model fills
the whole matrix.

Exact reverse mode. A chain ``input -> RNN/LSTM/GRU nodes -> linear head`` (what
:func:`~.connectivity_fast.fast_chain` recognises) goes through
:mod:`.connectivity_fast`: closed-form per-step Jacobians, all output steps' cotangents
carried back through time together, one GEMM per step. Any other model is vectorised over
the output steps by putting them in the batch: the sequence is repeated once per output step
(and per output unit with ``output="all"``), each copy gets the cotangent of its own
``y_t``, and one backward through PyTorch's own kernels gives ``d y_t / d x_s`` for every s
at once. A causal model runs each chunk of output steps only up to its last step, so the
work is about half the ``T x T`` square.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..errors import SequenceError
from ..model.build import SequenceModel
from ..model.inputs import check_inputs
from .connectivity_fast import chain_connectivity, fast_chain

OUTPUTS = ("auto", "predicted", "all")
# Sequence copies times steps per backward (the fast path: cotangent rows per sweep): bounds
# memory, not results.
ROW_STEPS = 65536


def _forward(model: SequenceModel, inputs: dict, node: str, x: torch.Tensor) -> torch.Tensor:
    """The graph walk of :meth:`SequenceModel.run` with input ``node``'s vectors replaced by
    ``x`` (B, T, E), so that the gradient reaches them."""
    seq: dict = {}
    final: dict = {}
    for nid, decl, ports in model.plan:
        if decl.role == "input":
            seq[nid] = x if nid == node else model.embed(nid, inputs[nid])
            continue
        args = [None if s is None else (final.get(s) if takes else seq[s])
                for s, takes in ports]
        out = model.layers[nid](*args)
        if "state" in decl.outputs:
            seq[nid], final[nid] = out
        else:
            seq[nid] = out
    return seq[model.info.output]


def connectivity(model: SequenceModel, inputs, *, input_node: str | None = None,
                 output: str | int = "auto", batch: int = 0,
                 should_stop: Callable[[], bool] | None = None,
                 row_steps: int = ROW_STEPS) -> np.ndarray | None:
    """``(T_out, T_in)`` float64 matrix ``C[t, s] = ||d y_t / d x_s||_2`` for sequence
    ``batch`` of ``inputs`` (a tensor, or a dict keyed by input node id, as for ``trace``).

    ``input_node``: whose steps are ``x_s`` (default: the first input node). ``output``:
    which ``y_t``: ``"predicted"`` the largest logit at step t (Distill's choice), ``"all"``
    every output unit (the Frobenius norm of the Jacobian; costs one pass per unit), an int
    a fixed output unit, ``"auto"`` predicted for a softmax head and all for values.
    ``should_stop`` is called between chunks; when it returns true the work stops and the
    result is None (safe to run in a worker thread on a model nobody else changes)."""
    inputs = check_inputs(model, inputs)
    node = input_node or model.input_ids[0]
    if node not in inputs:
        raise SequenceError(f"no input node {node!r}; inputs are {', '.join(inputs)}")
    if output not in OUTPUTS and (isinstance(output, bool) or not isinstance(output, int)):
        raise SequenceError(f"output must be one of {', '.join(OUTPUTS)} or a unit, got "
                            f"{output!r}")
    one = {k: v[batch:batch + 1] for k, v in inputs.items()}
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            return _connectivity(model, one, node, output, should_stop, max(1, row_steps))
    finally:
        if was_training:
            model.train(True)


def _connectivity(model, one, node, output, should_stop, row_steps):
    with torch.no_grad():
        x = model.embed(node, one[node]).detach()            # (1, T_in, E)
        y = _forward(model, one, node, x)                    # (1, T_out, C)
    T_in, T_out, C = x.shape[1], y.shape[1], y.shape[2]
    if output == "auto":
        output = "predicted" if model.head_output == "softmax" else "all"
    if isinstance(output, int) and not 0 <= output < C:
        raise SequenceError(f"output unit {output} is out of range; the model has {C}")
    units = (torch.arange(C) if output == "all" else
             y[0].argmax(-1) if output == "predicted" else torch.full((T_out,), output))
    every = output == "all"
    chain = fast_chain(model, node)
    if chain is not None and T_in == T_out:   # closed-form Jacobians, no autograd graph
        return chain_connectivity(*chain, x[0], None if every else units, should_stop,
                                  row_steps)
    return _autograd_rows(model, one, node, x, T_out, units, every, should_stop, row_steps)


def _autograd_rows(model, one, node, x, T_out, units, every, should_stop, row_steps):
    """Any model: the sequence repeated once per (output step, unit), each copy given the
    cotangent of its own ``y_t``, one backward through PyTorch's kernels per chunk."""
    T_in = x.shape[1]
    per_step = len(units) if every else 1
    # Causal: y_t reads only x_{<=t}, so a chunk of output steps runs up to its last one.
    causal = model.window_problem() is None and T_in == T_out
    others = {k: v for k, v in one.items() if k != node}
    result = np.zeros((T_out, T_in), np.float64)
    t = 0
    while t < T_out:
        if should_stop is not None and should_stop():
            return None
        n = max(1, row_steps // (T_in * per_step))
        if causal:  # grow the chunk while its copies are short
            while t + n < T_out and (n + 1) * per_step * (t + n + 1) <= row_steps:
                n += 1
        n = min(n, T_out - t)
        L = t + n if causal else T_in
        rows = n * per_step
        xs = x[:, :L].expand(rows, L, x.shape[2]).clone().requires_grad_(True)
        rest = {k: v[:, :L].expand(rows, *v.shape[1:]) if causal else
                v.expand(rows, *v.shape[1:]) for k, v in others.items()}
        out = _forward(model, rest, node, xs)   # (rows, L|T_out, C)
        steps = torch.arange(t, t + n).repeat_interleave(per_step)   # (rows,)
        unit = units.repeat(n) if every else units[t:t + n]
        picked = out[torch.arange(rows), steps, unit.to(out.device)]
        (g,) = torch.autograd.grad(picked.sum(), xs)                 # (rows, L, E)
        sq = g.detach().double().square().sum(-1).view(n, per_step, L).sum(1)
        result[t:t + n, :L] = sq.sqrt().cpu().numpy()
        t += n
    return result
