"""Validation and shape inference for model graphs.

:func:`analyze` walks the graph once, collecting every problem (typed, with the
node and port) and inferring the width of each node's output sequence. Nothing
is built here, so the canvas can call it after every edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import errors as E
from .errors import GraphError, Problem
from .spec import (
    ATTENTION_KINDS,
    INPUT_PORTS,
    KINDS,
    PARAMS,
    RECURRENT_KINDS,
    GraphSpec,
    NodeSpec,
    node_id_problem,
    param_applies,
)


@dataclass
class GraphInfo:
    """What validation learned: order, widths, problems."""

    order: list[str] = field(default_factory=list)        # topological order of usable nodes
    width: dict[str, int] = field(default_factory=dict)   # node -> width of its output sequence
    inputs: list[str] = field(default_factory=list)       # sequence input nodes
    output: str | None = None                             # the linear head
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problems_of(self, node_id: str) -> list[Problem]:
        return [p for p in self.problems if p.node == node_id]


def output_width(node: NodeSpec, in_width: int | None) -> int | None:
    """Width of ``node``'s output sequence given the width of its ``seq`` input."""
    p = node.params
    if node.kind == "input":
        return {"onehot": p["vocab_size"], "embedding": p["embed_dim"],
                "numeric": p["features"]}.get(p["encoding"])
    if node.kind in RECURRENT_KINDS:
        return p["hidden_size"] * (2 if p["bidirectional"] else 1)
    if node.kind in ATTENTION_KINDS:
        return in_width
    if node.kind == "linear":
        return p["out_features"]
    return None


def _topological(ids: list[str], deps: dict[str, set[str]]) -> tuple[list[str], set[str]]:
    """Kahn's algorithm; returns the order and the nodes left on a cycle."""
    remaining = {n: set(d) for n, d in deps.items()}
    order: list[str] = []
    ready = [n for n in ids if not remaining[n]]
    while ready:
        n = ready.pop(0)
        order.append(n)
        for m in ids:
            if n in remaining[m]:
                remaining[m].discard(n)
                if not remaining[m] and m not in order and m not in ready:
                    ready.append(m)
    return order, {n for n in ids if n not in order}


def _reaches(start: str, goal: str, outs: dict[str, list[tuple[str, str]]]) -> bool:
    seen, frontier = set(), [start]
    while frontier:
        n = frontier.pop()
        for m, _ in outs.get(n, []):
            if m == goal:
                return True
            if m not in seen:
                seen.add(m)
                frontier.append(m)
    return False


def analyze(graph: GraphSpec) -> GraphInfo:  # noqa: C901 - one pass, many checks
    """Check ``graph`` and infer shapes; never raises. See :func:`validate`."""
    info = GraphInfo()
    P = info.problems
    nodes: dict[str, NodeSpec] = {}
    for n in graph.nodes:
        if n.id in nodes:
            P.append(E.problem(E.DUPLICATE_ID, f"duplicate node id '{n.id}'", n.id, n.kind))
            continue
        if n.kind not in KINDS:
            P.append(E.problem(E.UNKNOWN_KIND, f"unknown kind {n.kind!r}; expected one of "
                             f"{', '.join(KINDS)}", n.id, n.kind))
            continue
        bad_id = node_id_problem(n.id)
        if bad_id:
            P.append(E.problem(E.BAD_PARAMETER, f"id: {bad_id}", n.id, n.kind))
        nodes[n.id] = n
        for prm in PARAMS[n.kind]:
            if not param_applies(prm, n.params):
                continue
            if prm.name not in n.params:
                P.append(E.problem(E.BAD_PARAMETER, f"{prm.name}: missing", n.id, n.kind))
                continue
            bad = prm.check(n.params[prm.name])
            if bad:
                P.append(E.problem(E.BAD_PARAMETER, f"{prm.name}: {bad}", n.id, n.kind))
    bad_params = {p.node for p in P if p.code == E.BAD_PARAMETER}

    ins: dict[str, dict[str, str]] = {nid: {} for nid in nodes}
    outs: dict[str, list[tuple[str, str]]] = {nid: [] for nid in nodes}
    for e in graph.edges:
        edge = (e.src, e.dst, e.port)
        if e.src not in nodes or e.dst not in nodes:
            missing = e.src if e.src not in nodes else e.dst
            P.append(E.problem(E.BAD_EDGE, f"edge {e.src} -> {e.dst} refers to unknown node "
                             f"'{missing}'", e.dst if e.dst in nodes else None, port=e.port,
                             edge=edge))
            continue
        dst = nodes[e.dst]
        if e.port not in INPUT_PORTS[dst.kind]:
            what = "takes no input" if not INPUT_PORTS[dst.kind] else f"has no '{e.port}' input"
            P.append(E.problem(E.EXTRA_INPUT, f"a {dst.kind} node {what} (edge from '{e.src}')",
                             dst.id, dst.kind, e.port, edge))
            continue
        if e.port in ins[e.dst]:
            taken = ins[e.dst][e.port]
            P.append(E.problem(E.EXTRA_INPUT, f"port '{e.port}' already takes '{taken}'"
                             f"; a second edge from '{e.src}' is one too many", dst.id, dst.kind,
                             e.port, edge))
            continue
        if e.src == e.dst:
            P.append(E.problem(E.CYCLE, "a node cannot feed itself", dst.id, dst.kind, e.port,
                               edge))
            continue
        ins[e.dst][e.port] = e.src
        outs[e.src].append((e.dst, e.port))

    for nid, n in nodes.items():
        for port, required in INPUT_PORTS[n.kind].items():
            if required and port not in ins[nid]:
                P.append(E.problem(E.MISSING_INPUT, f"needs an input on port '{port}'", nid, n.kind,
                                 port))
        if n.kind == "linear" and outs[nid]:
            P.append(E.problem(E.BAD_EDGE, "a linear head is the model's output; nothing may "
                               "follow it", nid, n.kind))

    ids = list(nodes)
    order, stuck = _topological(ids, {nid: set(ins[nid].values()) for nid in ids})
    on_cycle = {n for n in stuck if _reaches(n, n, outs)}
    for nid in sorted(on_cycle):
        P.append(E.problem(E.CYCLE, "is on a cycle; sequences must flow one way", nid,
                         nodes[nid].kind))

    heads = [nid for nid in ids if nodes[nid].kind == "linear"]
    if not heads:
        P.append(E.problem(E.NO_OUTPUT, "the model has no linear output head"))
    elif len(heads) > 1:
        for nid in heads[1:]:
            P.append(E.problem(E.NO_OUTPUT, f"a model has one output head; '{heads[0]}' is already "
                             "one", nid, "linear"))
    info.output = heads[0] if heads else None
    info.inputs = [nid for nid in order if nodes[nid].kind == "input"]
    if not any(nodes[n].kind == "input" for n in ids):
        P.append(E.problem(E.MISSING_INPUT, "the model has no sequence input node"))

    # Shapes, in topological order.
    for nid in order:
        n = nodes[nid]
        src = ins[nid]
        in_w = info.width.get(src["seq"]) if "seq" in src else None
        if nid in bad_params or (n.kind != "input" and in_w is None):
            continue  # already reported, not connected yet, or upstream is broken
        if n.kind in ("self_attention", "transformer", "cross_attention"):
            heads_n = n.params["num_heads"]
            if in_w % heads_n:
                P.append(E.problem(E.HEADS_NOT_DIVIDING, f"{heads_n} heads do not divide the width "
                                 f"{in_w} of its input '{src['seq']}'", nid, n.kind, "seq"))
                continue
        if n.kind == "cross_attention" and "memory" in src and src["memory"] not in info.width:
            continue
        if n.kind in RECURRENT_KINDS and "state" in src:
            s = nodes[src["state"]]
            problem = _state_problem(s, n)
            if problem:
                P.append(E.problem(E.SHAPE_MISMATCH, problem, nid, n.kind, "state",
                                 (s.id, nid, "state")))
                continue
        w = output_width(n, in_w)
        if w is not None:
            info.width[nid] = w

    # Nodes that cannot reach the output head train nothing; say so.
    if info.output is not None and not stuck:
        reach = {info.output}
        frontier = [info.output]
        while frontier:
            m = frontier.pop()
            for s in ins.get(m, {}).values():
                if s not in reach:
                    reach.add(s)
                    frontier.append(s)
        for nid in ids:
            if nid not in reach:
                P.append(E.problem(E.DISCONNECTED, "is not connected to the output head", nid,
                                 nodes[nid].kind))
    info.order = order  # nodes downstream of a cycle are left out too
    return info


def _state_problem(src: NodeSpec, dst: NodeSpec) -> str | None:
    if src.kind not in RECURRENT_KINDS:
        return f"initial state must come from a recurrent layer, not a {src.kind} ('{src.id}')"
    if (src.kind == "lstm") != (dst.kind == "lstm"):
        return (f"an {dst.kind.upper()} cannot start from the final state of an "
                f"{src.kind.upper()} ('{src.id}'): LSTM state is (h, c)")
    sp, dp = src.params, dst.params
    if sp["bidirectional"] or dp["bidirectional"]:
        return "state edges between bidirectional layers are not supported"
    if sp["hidden_size"] != dp["hidden_size"]:
        return (f"hidden size {dp['hidden_size']} does not match the state of '{src.id}' "
                f"(hidden size {sp['hidden_size']})")
    if sp["num_layers"] != dp["num_layers"]:
        return (f"{dp['num_layers']} layer(s) do not match the state of '{src.id}' "
                f"({sp['num_layers']} layers)")
    return None


def validate(graph: GraphSpec) -> GraphInfo:
    """Like :func:`analyze`, but raise :class:`GraphError` listing every problem."""
    info = analyze(graph)
    if info.problems:
        raise GraphError(info.problems)
    return info
