"""An editable model graph with events, for the canvas (Qt-free).

:class:`GraphModel` wraps a :class:`~playground.model.spec.GraphSpec`. Every change goes
through one of its methods, which checks the change, applies it and fires a plain
Python event (``node_added``, ``node_removed``, ``edge_added``, ``edge_removed``,
``param_changed``, ``node_moved``, ``reset``; ``changed`` after any of them). The
canvas scene only follows these events, and undo commands only call these
methods, so undo and redo need no knowledge of the drawing.

:func:`carry_weights` keeps the trained weights of layers an edit left unchanged.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ..errors import PlaygroundError
from ..events import Event
from . import registry
from .spec import EdgeSpec, GraphSpec, NodeSpec, node_id_problem
from .validate import GraphInfo, analyze


class EditError(PlaygroundError):
    """An edit was refused; the message says why (shown to the user as is)."""


@dataclass
class EditInfo(GraphInfo):
    """:class:`GraphInfo` plus parameter counts per node (for nodes whose widths are known)
    and each port's tensor shape as text, e.g. ``{"seq_in": "(B, T, 4)"}``."""

    params: dict[str, int] = field(default_factory=dict)
    shapes: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def total_params(self) -> int:
        return sum(self.params.values())


class GraphModel:
    """The graph being edited. Node ids are unique; methods raise :class:`EditError`."""

    EVENTS = ("node_added", "node_removed", "edge_added", "edge_removed", "param_changed",
              "node_moved", "reset", "changed")

    def __init__(self, graph: GraphSpec | None = None):
        self._graph = graph.copy() if graph is not None else GraphSpec()
        for name in self.EVENTS:
            setattr(self, name, Event())

    # -- reading ---------------------------------------------------------------------------
    @property
    def graph(self) -> GraphSpec:
        """The live spec; read it, change it only through this model's methods."""
        return self._graph

    def spec(self) -> GraphSpec:
        """A copy of the graph, safe to keep or build."""
        return self._graph.copy()

    def node(self, node_id: str) -> NodeSpec:
        try:
            return self._graph.node(node_id)
        except KeyError:
            raise EditError(f"there is no node '{node_id}'") from None

    def has_node(self, node_id: str) -> bool:
        return any(n.id == node_id for n in self._graph.nodes)

    def edges_of(self, node_id: str) -> list[EdgeSpec]:
        return [e for e in self._graph.edges if node_id in (e.src, e.dst)]

    def analyze(self) -> EditInfo:
        """Validate the graph (:func:`playground.model.validate.analyze`), count parameters and
        describe port shapes. Never raises."""
        return analyze_graph(self._graph)

    # -- whole graph -----------------------------------------------------------------------
    def set_graph(self, graph: GraphSpec) -> None:
        self._graph = graph.copy()
        self.reset.emit()
        self.changed.emit()

    # -- nodes -----------------------------------------------------------------------------
    def new_id(self, kind: str) -> str:
        decl = registry.kind_of(kind)
        base = decl.prefix
        ids = {n.id for n in self._graph.nodes}
        if decl.role in ("input", "head") and base not in ids:  # usually there is one of each
            return base
        i = 1
        while f"{base}{i}" in ids:
            i += 1
        return f"{base}{i}"

    def add_node(self, kind: str, pos: tuple[float, float] = (0.0, 0.0),
                 params: dict[str, Any] | None = None, node_id: str | None = None,
                 index: int | None = None) -> str:
        """Add a ``kind`` node (default parameters updated by ``params``); returns its id."""
        decl = registry.get(kind)
        if decl is None:
            raise EditError(f"unknown layer kind {kind!r}; expected one of "
                            f"{', '.join(registry.names())}")
        node_id = node_id or self.new_id(kind)
        bad_id = node_id_problem(node_id)
        if bad_id:
            raise EditError(f"node id {bad_id}")
        if self.has_node(node_id):
            raise EditError(f"a node '{node_id}' already exists")
        full = decl.defaults()
        for name, value in (params or {}).items():
            full[name] = self._checked(kind, node_id, name, value)
        node = NodeSpec(node_id, kind, full, (float(pos[0]), float(pos[1])))
        self.restore_node(node, index)
        return node_id

    def restore_node(self, node: NodeSpec, index: int | None = None,
                     edges: list[tuple[int, EdgeSpec]] = ()) -> None:
        """Put back a node (and its edges at their old indices) exactly as it was."""
        nodes = self._graph.nodes
        nodes.insert(len(nodes) if index is None else index, copy.deepcopy(node))
        self.node_added.emit(node.id)
        for i, e in sorted(edges, key=lambda ie: ie[0]):
            self._insert_edge(e, i)
        self.changed.emit()

    def remove_node(self, node_id: str) -> tuple[int, NodeSpec, list[tuple[int, EdgeSpec]]]:
        """Remove a node and its edges; returns ``(index, node, [(edge index, edge)])`` for
        :meth:`restore_node`."""
        node = self.node(node_id)
        edges = [(i, e) for i, e in enumerate(self._graph.edges) if node_id in (e.src, e.dst)]
        for i, e in reversed(edges):
            del self._graph.edges[i]
            self.edge_removed.emit(e)
        index = self._graph.nodes.index(node)
        del self._graph.nodes[index]
        self.node_removed.emit(node_id)
        self.changed.emit()
        return index, node, edges

    def move_node(self, node_id: str, pos: tuple[float, float]) -> tuple[float, float]:
        """Move a node; returns its old position."""
        node = self.node(node_id)
        old, node.pos = node.pos, (float(pos[0]), float(pos[1]))
        if old != node.pos:
            self.node_moved.emit(node_id, node.pos)
            self.changed.emit()
        return old

    def set_param(self, node_id: str, name: str, value: Any) -> Any:
        """Set one parameter (checked against its kind's schema); returns the old value."""
        node = self.node(node_id)
        value = self._checked(node.kind, node_id, name, value)
        old = node.params.get(name)
        if old != value or type(old) is not type(value):
            node.params[name] = value
            self.param_changed.emit(node_id, name, value)
            self.changed.emit()
        return old

    def check_param(self, node_id: str, name: str, value: Any) -> Any:
        """The value as it would be stored; raises :class:`EditError` when it is not allowed."""
        return self._checked(self.node(node_id).kind, node_id, name, value)

    @staticmethod
    def _checked(kind: str, node_id: str, name: str, value: Any) -> Any:
        decl = registry.kind_of(kind)
        schema = decl.schema()
        if name not in schema:
            raise EditError(f"node '{node_id}': a {decl.label} has no parameter "
                            f"'{name}' (it has {', '.join(schema)})")
        p = schema[name]
        if p.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        bad = p.check(value)
        if bad:
            raise EditError(f"node '{node_id}': {p.label or name} {bad}")
        return value

    # -- edges -----------------------------------------------------------------------------
    def connection_problem(self, src: str, dst: str, port: str = "seq",
                           from_output: str | None = None) -> str | None:
        """Why ``src -> dst.port`` cannot be made, or None. ``from_output`` (``seq`` or
        ``state``) is the source port the user dragged from, when known."""
        if not self.has_node(src) or not self.has_node(dst):
            return f"there is no node '{src if not self.has_node(src) else dst}'"
        s, d = self.node(src), self.node(dst)
        sk, dk = registry.kind_of(s.kind), registry.kind_of(d.kind)
        if not dk.inputs:
            return f"'{dst}' is a {dk.label.lower()}; it takes no input"
        target = dk.port(port)
        if target is None:
            return (f"a {dk.label} has no '{port}' input (its inputs: "
                    f"{', '.join(dk.port_names)})")
        if src == dst:
            return "a node cannot feed itself"
        if sk.role == "head":
            return f"'{src}' is the {sk.label.lower()}, the model's output; nothing may follow it"
        want = target.takes
        if from_output is not None and from_output != want:
            return (f"the '{port}' input takes a {want} output, not the {from_output} "
                    f"output of '{src}'")
        if want not in sk.outputs:
            return (f"{target.what or f'the {port!r} input'} must come from "
                    f"{target.source or f'a node with a {want} output'}, not a {sk.label} "
                    f"('{src}')")
        taken = self._graph.inputs_of(dst).get(port)
        if taken is not None:
            return f"port '{port}' of '{dst}' already takes '{taken}'; disconnect it first"
        if self._reaches(dst, src):
            return f"'{src}' already depends on '{dst}'; this edge would make a cycle"
        return None

    def _reaches(self, start: str, goal: str) -> bool:
        frontier, seen = [start], {start}
        while frontier:
            n = frontier.pop()
            if n == goal:
                return True
            for e in self._graph.edges:
                if e.src == n and e.dst not in seen:
                    seen.add(e.dst)
                    frontier.append(e.dst)
        return False

    def connect(self, src: str, dst: str, port: str = "seq",
                from_output: str | None = None) -> EdgeSpec:
        """Feed ``src`` into ``dst``'s input ``port``; refuses invalid connections."""
        problem = self.connection_problem(src, dst, port, from_output)
        if problem:
            raise EditError(f"cannot connect {src} -> {dst} ({port}): {problem}")
        edge = EdgeSpec(src, dst, port)
        self.restore_edge(edge)
        return edge

    def restore_edge(self, edge: EdgeSpec, index: int | None = None) -> None:
        """Insert an edge without checks (undo of a removal)."""
        self._insert_edge(edge, index)
        self.changed.emit()

    def _insert_edge(self, edge: EdgeSpec, index: int | None) -> None:
        edges = self._graph.edges
        edges.insert(len(edges) if index is None else index, edge)
        self.edge_added.emit(edge)

    def disconnect(self, src: str, dst: str, port: str = "seq") -> int:
        """Remove the edge; returns its index (for :meth:`restore_edge`)."""
        edge = EdgeSpec(src, dst, port)
        try:
            index = self._graph.edges.index(edge)
        except ValueError:
            raise EditError(f"there is no edge {src} -> {dst} ({port})") from None
        del self._graph.edges[index]
        self.edge_removed.emit(edge)
        self.changed.emit()
        return index

    # -- copy, paste, duplicate -------------------------------------------------------------
    def fragment(self, node_ids: list[str]) -> dict[str, Any]:
        """Plain data of some nodes and the edges among them (for the clipboard)."""
        ids = set(node_ids)
        return {"nodes": [self.node(n).to_dict() for n in node_ids],
                "edges": [e.to_dict() for e in self._graph.edges
                          if e.src in ids and e.dst in ids]}

    def paste(self, fragment: dict[str, Any], offset: tuple[float, float] = (30.0, 30.0),
              ids: list[str] | None = None) -> list[str]:
        """Add a fragment's nodes (fresh ids, or ``ids``) shifted by ``offset``, with its
        inner edges; returns the new ids."""
        try:
            nodes = [NodeSpec(d["id"], d["kind"], dict(d["params"]),
                              (float(d["pos"][0]), float(d["pos"][1])))
                     for d in fragment["nodes"]]
            edges = [EdgeSpec(d["src"], d["dst"], d["port"]) for d in fragment["edges"]]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise EditError(f"the clipboard does not hold canvas nodes ({exc})") from None
        rename: dict[str, str] = {}
        for i, n in enumerate(nodes):
            pos = (n.pos[0] + offset[0], n.pos[1] + offset[1])
            rename[n.id] = self.add_node(n.kind, pos, n.params, ids[i] if ids else None)
        for e in edges:
            self.connect(rename[e.src], rename[e.dst], e.port)
        return [rename[n.id] for n in nodes]

    def duplicate(self, node_ids: list[str], offset=(30.0, 30.0)) -> list[str]:
        return self.paste(self.fragment(node_ids), offset)


# -- analysis --------------------------------------------------------------------------------
def node_parameter_count(node: NodeSpec, widths: dict[str, int]) -> int | None:
    """Trainable parameters of one node, from its params and the widths of its input ports
    (each kind declares the formula); None when they are not known yet."""
    decl = registry.get(node.kind)
    if decl is None or decl.param_count is None:
        return None
    return decl.param_count(node.params, widths)


def analyze_graph(graph: GraphSpec) -> EditInfo:
    """:func:`playground.model.validate.analyze`, plus parameter counts and port shapes."""
    base = analyze(graph)
    info = EditInfo(**{f: getattr(base, f) for f in ("order", "width", "inputs", "output",
                                                     "problems")})
    w = info.width
    for node in graph.nodes:
        decl = registry.get(node.kind)
        if decl is None:
            continue
        src = {e.port: e.src for e in graph.edges if e.dst == node.id}
        shapes: dict[str, str] = {}
        in_w = w.get(src.get("seq")) if "seq" in src else None
        if in_w is not None:
            shapes["seq_in"] = f"(B, T, {in_w})"
        if "memory" in src and src["memory"] in w:
            shapes["memory_in"] = f"(B, S, {w[src['memory']]})"
        if "state" in src and any(n.id == src["state"] for n in graph.nodes):
            s = graph.node(src["state"])
            s_decl = registry.get(s.kind)
            if s_decl is not None and s_decl.state_shape is not None:
                shapes["state_in"] = s_decl.state_shape(s.params)
        if node.id in w:
            shapes["seq_out"] = f"(B, T, {w[node.id]})"
        if decl.state_shape is not None:
            shapes["state_out"] = decl.state_shape(node.params)
        info.shapes[node.id] = shapes
        if any(p.code != "disconnected" for p in info.problems_of(node.id)):
            continue  # no meaningful count until its own problems are fixed
        try:
            count = node_parameter_count(node, {port: w[s] for port, s in src.items() if s in w})
        except (KeyError, TypeError):
            count = None  # malformed parameters: already a problem
        if count is not None:
            info.params[node.id] = count
    return info


# -- keeping trained weights ----------------------------------------------------------------
def _signature(graph: GraphSpec, info: GraphInfo, node_id: str):
    node = graph.node(node_id)
    src = graph.inputs_of(node_id)
    widths = tuple((port, info.width.get(src[port])) for port in ("seq", "memory") if port in src)
    return node.kind, sorted(node.params.items()), widths


def carry_weights(old_model, new_model, old_graph: GraphSpec, new_graph: GraphSpec) -> list[str]:
    """Copy into ``new_model`` the weights of every layer that did not change (same id, kind,
    parameters and input widths) from ``old_model``; return, in model order, the ids of the
    layers with weights that were re-initialised instead (changed or new layers)."""
    old_info, new_info = old_model.info, new_model.info
    fresh: list[str] = []
    for nid in new_info.order:
        layer = new_model.layers[nid]
        if not any(True for _ in layer.parameters()):
            continue
        same = (nid in old_model.layers and any(n.id == nid for n in old_graph.nodes)
                and _signature(old_graph, old_info, nid) == _signature(new_graph, new_info, nid))
        if same:
            try:
                layer.load_state_dict(old_model.layers[nid].state_dict())
                continue
            except RuntimeError:
                pass  # shapes differ after all: re-initialise
        fresh.append(nid)
    return fresh


def rebuild(old_model, new_graph: GraphSpec, seed: int | None = None, **build_kw):
    """Build ``new_graph`` keeping ``old_model``'s weights where the layers did not change.
    Returns ``(model, reinitialised layer ids)``; raises GraphError when the graph is invalid."""
    from .build import build  # (late: editing a graph needs no torch until it is built)

    model = build(new_graph, seed=seed, **build_kw)
    model.to(old_model.dtype)
    return model, carry_weights(old_model, model, old_model.graph, new_graph)
