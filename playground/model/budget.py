"""What a model will cost in memory, told before it is built.

A graph inside every layer's own limits can still need tens of GB (hidden 8192 x 16
layers, bidirectional): torch would then fail half-way through allocating, with its raw
allocator message. :func:`check_memory` counts the parameters each kind declares
(:mod:`.registry`) and refuses, with a sentence, a model whose weights, gradients and
optimiser state would not fit in the memory this machine has free.
"""

from __future__ import annotations

import os

from ..errors import GraphError, Problem
from . import registry
from .spec import GraphSpec

BYTES_PER_PARAM = 4 * 4   # float32 weight, its gradient and Adam's two moments
MAX_PARAMS = 2_000_000_000


def parameter_count(graph: GraphSpec, info=None) -> int:
    """Trainable parameters of ``graph`` by the kinds' formulas (nodes whose widths are not
    known yet count 0: validation reports them). ``info``: its :func:`.validate.analyze`,
    when the caller has it already."""
    if info is None:
        from .validate import analyze

        info = analyze(graph)
    w = info.width
    src: dict[str, dict[str, str]] = {}
    for e in graph.edges:
        src.setdefault(e.dst, {})[e.port] = e.src
    total = 0
    for node in graph.nodes:
        decl = registry.get(node.kind)
        if decl is None or decl.param_count is None:
            continue
        widths = {port: w[s] for port, s in src.get(node.id, {}).items() if s in w}
        try:
            total += int(decl.param_count(node.params, widths) or 0)
        except (KeyError, TypeError, ValueError):
            continue
    return total


def free_bytes() -> int | None:
    """Memory this machine can give now (Linux: MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def activation_values(graph: GraphSpec, info, batch_size: int, length: int) -> tuple[int, int]:
    """Float values training keeps for the backward pass of one batch of ``batch_size``
    sequences of ``length`` steps, and the largest layer width. Per step and sequence: a
    recurrent layer keeps its gates, ``h`` and the cell state (an LSTM ``4H + 2H``) per
    layer and direction; attention its ``T`` scores per head besides ``q, k, v`` and its
    output; any other node its output."""
    per_step, scores, widest = 0, 0, 0
    for node in graph.nodes:
        decl = registry.get(node.kind)
        width = int(info.width.get(node.id) or 0)
        if decl is None or not width:
            continue
        p = node.params
        if decl.gates:
            hidden = int(p.get("hidden_size") or width)
            copies = int(p.get("num_layers") or 1) * (2 if p.get("bidirectional") else 1)
            per_step += copies * hidden * (len(decl.gates) + 2)
            widest = max(widest, hidden)
        elif decl.trace == "attention":
            per_step += 5 * width
            scores += int(p.get("num_heads") or 1) * length
            widest = max(widest, width)
        else:
            per_step += width
    return batch_size * length * (per_step + scores), widest


def check_memory(graph: GraphSpec, info=None, batch_size: int | None = None,
                 length: int | None = None) -> None:
    """GraphError when the model of ``graph`` would not fit (see the module docstring);
    with ``batch_size`` and ``length`` (the steps backpropagated at once), when training
    it on such batches would not: its weights, gradients and optimiser state, and the
    activations of a batch (:func:`activation_values`) twice (the values and their
    gradients). ``info``: the graph's :func:`.validate.analyze` when the caller has it."""
    if info is None:
        from .validate import analyze

        info = analyze(graph)
    n = parameter_count(graph, info)
    need = n * BYTES_PER_PARAM
    free = free_bytes()
    have = "" if free is None else f"; this machine has {free / 2 ** 30:.1f} GB free"
    if n > MAX_PARAMS or (free is not None and need > free):
        raise GraphError([Problem(
            "too-large", f"the model has {n:,} parameters and needs about "
            f"{need / 2 ** 30:.1f} GB of memory to train{have}: use fewer or smaller layers")])
    if batch_size is None or length is None or free is None:
        return
    values, widest = activation_values(graph, info, int(batch_size), int(length))
    need += 2 * 4 * values
    if need > free:
        raise GraphError([Problem(
            "too-large", f"training with batch size {batch_size:,} on sequences of "
            f"{length:,} steps and hidden size {widest:,} needs about "
            f"{need / 2 ** 30:.1f} GB of memory{have}: use a smaller batch size, shorter "
            "sequences (or truncated BPTT) or a smaller hidden size")])


def check_training(graph: GraphSpec, example, batch_size: int, tbptt: int | None) -> None:
    """:func:`check_memory` for training on batches of ``batch_size`` sequences as long as
    ``example``'s (a Batch: its longest input or target), ``tbptt`` steps at a time when
    set."""
    arrays = [*getattr(example, "inputs", {}).values(), getattr(example, "targets", None)]
    length = max((a.shape[1] for a in arrays if getattr(a, "ndim", 0) >= 2), default=1)
    check_memory(graph, batch_size=batch_size, length=min(length, tbptt or length))
