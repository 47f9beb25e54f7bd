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


def parameter_count(graph: GraphSpec) -> int:
    """Trainable parameters of ``graph`` by the kinds' formulas (nodes whose widths are not
    known yet count 0: validation reports them)."""
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


def check_memory(graph: GraphSpec) -> None:
    """GraphError when the model of ``graph`` would not fit (see the module docstring)."""
    n = parameter_count(graph)
    need = n * BYTES_PER_PARAM
    free = free_bytes()
    if n > MAX_PARAMS or (free is not None and need > free):
        have = "" if free is None else f"; this machine has {free / 2 ** 30:.1f} GB free"
        raise GraphError([Problem(
            "too-large", f"the model has {n:,} parameters and needs about "
            f"{need / 2 ** 30:.1f} GB of memory to train{have}: use fewer or smaller layers")])
