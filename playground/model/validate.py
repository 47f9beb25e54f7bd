"""Validation and shape inference for model graphs.

:func:`analyze` walks the graph once, collecting every problem (typed, with the
node and port) and inferring the width of each node's output sequence. What each kind
allows (parameters, ports, widths, extra checks) comes from its declaration in the
registry. Nothing is built here, so the canvas can call it after every edit.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from .. import errors as E
from ..errors import GraphError, Problem
from ..schema import param_applies
from . import registry
from .spec import GraphSpec, NodeSpec, node_id_problem


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
    decl = registry.get(node.kind)
    return None if decl is None else decl.width(node.params, in_width)


def _topological(ids: list[str], deps: dict[str, set[str]]) -> tuple[list[str], set[str]]:
    """Kahn's algorithm, linear in nodes and edges; returns the order and the nodes left on
    a cycle (or waiting for a node that is not there). Ready nodes are taken first come,
    first served, and those one node makes ready in the order of ``ids``."""
    users: dict[str, list[str]] = {n: [] for n in ids}
    waiting = {m: len(deps[m]) for m in ids}
    for m in ids:
        for n in deps[m]:
            if n in users:
                users[n].append(m)
    ready = deque(n for n in ids if not waiting[n])
    order: list[str] = []
    while ready:
        n = ready.popleft()
        order.append(n)
        for m in users[n]:
            waiting[m] -= 1
            if not waiting[m]:
                ready.append(m)
    placed = set(order)
    return order, {n for n in ids if n not in placed}


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
    decls: dict[str, registry.LayerKind] = {}
    for n in graph.nodes:
        if n.id in nodes:
            P.append(E.problem(E.DUPLICATE_ID, f"duplicate node id '{n.id}'", n.id, n.kind))
            continue
        decl = registry.get(n.kind)
        if decl is None:
            P.append(E.problem(E.UNKNOWN_KIND, f"unknown kind {n.kind!r}; expected one of "
                             f"{', '.join(registry.names())}", n.id, n.kind))
            continue
        bad_id = node_id_problem(n.id)
        if bad_id:
            P.append(E.problem(E.BAD_PARAMETER, f"id: {bad_id}", n.id, n.kind))
        nodes[n.id] = n
        decls[n.id] = decl
        for prm in decl.params:
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
        if decls[e.dst].port(e.port) is None:
            what = "takes no input" if not decls[e.dst].inputs else f"has no '{e.port}' input"
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
        for port in decls[nid].inputs:
            if port.required and port.name not in ins[nid]:
                P.append(E.problem(E.MISSING_INPUT, f"needs an input on port '{port.name}'", nid,
                                   n.kind, port.name))
        if decls[nid].role == "head" and outs[nid]:
            P.append(E.problem(E.BAD_EDGE, "a linear head is the model's output; nothing may "
                               "follow it", nid, n.kind))

    ids = list(nodes)
    order, stuck = _topological(ids, {nid: set(ins[nid].values()) for nid in ids})
    on_cycle = {n for n in stuck if _reaches(n, n, outs)}
    for nid in sorted(on_cycle):
        P.append(E.problem(E.CYCLE, "is on a cycle; sequences must flow one way", nid,
                         nodes[nid].kind))

    heads = [nid for nid in ids if decls[nid].role == "head"]
    if not heads:
        P.append(E.problem(E.NO_OUTPUT, "the model has no linear output head"))
    elif len(heads) > 1:
        for nid in heads[1:]:
            P.append(E.problem(E.NO_OUTPUT, f"a model has one output head; '{heads[0]}' is already "
                             "one", nid, nodes[nid].kind))
    info.output = heads[0] if heads else None
    info.inputs = [nid for nid in order if decls[nid].role == "input"]
    if not any(decls[n].role == "input" for n in ids):
        P.append(E.problem(E.MISSING_INPUT, "the model has no sequence input node"))

    # Shapes, in topological order.
    for nid in order:
        n, decl = nodes[nid], decls[nid]
        src = ins[nid]
        in_w = info.width.get(src["seq"]) if "seq" in src else None
        if nid in bad_params or (decl.role != "input" and in_w is None):
            continue  # already reported, not connected yet, or upstream is broken
        widths = {port: info.width[s] for port, s in src.items() if s in info.width}
        found = decl.check(n, widths, {port: nodes[s] for port, s in src.items()}) \
            if decl.check else []
        for code, message, port in found:
            edge = (src[port], nid, port) if port in src and port != "seq" else None
            P.append(E.problem(code, message, nid, n.kind, port, edge))
        if found:
            continue
        seq_ports = [p.name for p in decl.inputs if p.takes == "seq"]
        if any(p in src and src[p] not in info.width for p in seq_ports):
            continue  # a sequence it reads has no known width (a problem upstream)
        w = decl.width(n.params, in_w)
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


def validate(graph: GraphSpec) -> GraphInfo:
    """Like :func:`analyze`, but raise :class:`GraphError` listing every problem."""
    info = analyze(graph)
    if info.problems:
        raise GraphError(info.problems)
    return info
