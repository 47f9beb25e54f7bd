"""Model description: a graph of layer nodes, as plain, versioned JSON data.

A node is ``(id, kind, params, pos)``; an edge ``(src, dst, port)`` feeds an output of
``src`` into the input port ``port`` of ``dst``. Each kind's parameters and ports are
declared in the registry (:mod:`playground.model.registry`); the built-in ports are

* ``seq``    -- the sequence a layer reads, ``(B, T, width)``;
* ``state``  -- the initial state of a recurrent layer, taken from another
  recurrent layer's final state (encoder -> decoder);
* ``memory`` -- the keys/values sequence of a cross-attention layer.

The file form is parsed into plain data first (``json.load``), then checked here field
by field before any object is built (:func:`graph_from_dict`), so a broken file yields
one clear message such as ``graph.nodes[2].params.hidden_size: must be a positive
integer, got -3`` and never a traceback. Semantic problems (sizes, cycles) are left to
:func:`playground.model.validate.analyze`.
"""

from __future__ import annotations

import copy
import functools
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from ..errors import FileFormatError
from . import registry

GRAPH_VERSION = 1


def all_ports() -> tuple[str, ...]:
    """Every input port name some registered kind has, in registration order."""
    return tuple(dict.fromkeys(p.name for k in registry.kinds() for p in k.inputs))


_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
# Names nn.ModuleDict already uses: a layer cannot be registered under them. Read from torch
# when it is loaded; before that (the canvas validates before torch is imported) this list,
# taken from torch 2.13 (a test checks that it still covers the installed torch).
_MODULEDICT_NAMES = frozenset((
    'T_destination', '_apply', '_backward_hooks', '_backward_pre_hooks', '_buffers',
    '_call_impl', '_compiled_call_impl', '_forward_hooks', '_forward_hooks_always_called',
    '_forward_hooks_with_kwargs', '_forward_pre_hooks', '_forward_pre_hooks_with_kwargs',
    '_get_backward_hooks', '_get_backward_pre_hooks', '_get_name', '_is_full_backward_hook',
    '_load_from_state_dict', '_load_state_dict_post_hooks', '_load_state_dict_pre_hooks',
    '_maybe_warn_non_full_backward_hook', '_modules', '_named_members',
    '_non_persistent_buffers_set', '_parameters', '_register_load_state_dict_pre_hook',
    '_register_state_dict_hook', '_replicate_for_data_parallel', '_save_to_state_dict',
    '_slow_forward', '_state_dict_hooks', '_state_dict_pre_hooks', '_version',
    '_wrapped_call_impl', 'add_module', 'apply', 'bfloat16', 'buffers', 'call_super_init',
    'children', 'clear', 'compile', 'cpu', 'cuda', 'double', 'dump_patches', 'eval',
    'extra_repr', 'float', 'forward', 'get_buffer', 'get_extra_state', 'get_parameter',
    'get_submodule', 'half', 'ipu', 'items', 'keys', 'load_state_dict', 'modules', 'mtia',
    'named_buffers', 'named_children', 'named_modules', 'named_parameters', 'parameters',
    'pop', 'register_backward_hook', 'register_buffer', 'register_forward_hook',
    'register_forward_pre_hook', 'register_full_backward_hook',
    'register_full_backward_pre_hook', 'register_load_state_dict_post_hook',
    'register_load_state_dict_pre_hook', 'register_module', 'register_parameter',
    'register_state_dict_post_hook', 'register_state_dict_pre_hook', 'requires_grad_',
    'set_extra_state', 'set_submodule', 'share_memory', 'state_dict', 'to', 'to_empty',
    'train', 'training', 'type', 'update', 'values', 'xpu', 'zero_grad',
))


@functools.cache
def _torch_names() -> frozenset[str]:
    from torch import nn

    return frozenset(n for n in dir(nn.ModuleDict()) if not n.startswith("__"))


def _reserved() -> frozenset[str]:
    names = _MODULEDICT_NAMES | {"type"}
    if "torch" in sys.modules:
        names |= _torch_names()
    return names


def node_id_problem(node_id: object) -> str | None:
    """What is wrong with a node id, or None. Ids are letters, digits, ``_`` and ``-``
    (starting with a letter or ``_``), and not a name PyTorch's modules reserve."""
    if not isinstance(node_id, str) or not _ID.match(node_id):
        return (f"{node_id!r} is not a valid id: use letters, digits, _ and -, starting with a "
                "letter (at most 64)")
    if node_id in _reserved():
        return f"{node_id!r} is reserved by PyTorch; choose another id"
    return None


def default_params(kind: str) -> dict[str, Any]:
    """Every parameter of ``kind`` at its default value."""
    return registry.kind_of(kind).defaults()


@dataclass
class NodeSpec:
    """One layer on the canvas. ``params`` holds every parameter of its kind."""

    id: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    pos: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        decl = registry.get(self.kind)
        if decl is not None:
            full = decl.defaults()
            full.update(self.params)
            self.params = full

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "params": dict(self.params),
                "pos": [float(self.pos[0]), float(self.pos[1])]}


@dataclass(frozen=True)
class EdgeSpec:
    """``src``'s output feeds ``dst``'s input port ``port``."""

    src: str
    dst: str
    port: str = "seq"

    def to_dict(self) -> dict[str, str]:
        return {"src": self.src, "dst": self.dst, "port": self.port}


@dataclass
class GraphSpec:
    """A model: nodes and edges. ``to_dict``/``from_dict`` round-trip exactly."""

    nodes: list[NodeSpec] = field(default_factory=list)
    edges: list[EdgeSpec] = field(default_factory=list)
    version: int = GRAPH_VERSION

    def node(self, node_id: str) -> NodeSpec:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def inputs_of(self, node_id: str) -> dict[str, str]:
        """Port -> source node id, for the edges into ``node_id`` (last edge wins)."""
        return {e.port: e.src for e in self.edges if e.dst == node_id}

    def copy(self) -> GraphSpec:
        return copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "nodes": [n.to_dict() for n in self.nodes],
                "edges": [e.to_dict() for e in self.edges]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphSpec:
        """Build from plain data. Structural problems raise FileFormatError with a field path;
        semantic problems (sizes, cycles) are left to :func:`playground.model.validate.validate`."""
        return graph_from_dict(data)


def chain(*nodes: tuple[str, str, dict[str, Any]]) -> GraphSpec:
    """A linear stack ``nodes[0] -> nodes[1] -> ...`` (each ``(id, kind, params)``),
    laid out left to right. Handy for presets, tests and the command line."""
    specs = [NodeSpec(nid, kind, dict(params), (i * 220.0, 0.0))
             for i, (nid, kind, params) in enumerate(nodes)]
    edges = [EdgeSpec(a.id, b.id, "seq") for a, b in zip(specs, specs[1:])]
    return GraphSpec(specs, edges)


def _expect(cond: bool, path: str, message: str) -> None:
    if not cond:
        raise FileFormatError(message, path)


MAX_NODES = 500    # a canvas that a person reads; checks stay well under a second


def graph_from_dict(data: Any, path: str = "graph") -> GraphSpec:
    _expect(isinstance(data, dict), path, f"must be an object, got {type(data).__name__}")
    version = data.get("version", GRAPH_VERSION)
    _expect(isinstance(version, int) and not isinstance(version, bool), f"{path}.version",
            f"must be an integer, got {version!r}")
    _expect(version >= 1, f"{path}.version", f"must be 1 or more, got {version}")
    _expect(version <= GRAPH_VERSION, f"{path}.version",
            f"version {version} is newer than this program understands ({GRAPH_VERSION}); "
            "update Sequence Playground")
    nodes_raw = data.get("nodes")
    _expect(isinstance(nodes_raw, list), f"{path}.nodes", "must be a list of nodes")
    _expect(len(nodes_raw) <= MAX_NODES, f"{path}.nodes",
            f"{len(nodes_raw):,} nodes; a graph has at most {MAX_NODES}")
    nodes: list[NodeSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(nodes_raw):
        npath = f"{path}.nodes[{i}]"
        _expect(isinstance(raw, dict), npath, "must be an object")
        nid = raw.get("id")
        _expect(isinstance(nid, str) and nid != "", f"{npath}.id",
                f"must be a non-empty string, got {nid!r}")
        bad_id = node_id_problem(nid)
        _expect(bad_id is None, f"{npath}.id", bad_id or "")
        _expect(nid not in seen, f"{npath}.id", f"duplicate node id '{nid}'")
        seen.add(nid)
        kind = raw.get("kind")
        decl = registry.get(kind) if isinstance(kind, str) else None
        _expect(decl is not None, f"{npath}.kind",
                f"unknown kind {kind!r}; expected one of {', '.join(registry.names())}")
        params = raw.get("params", {})
        _expect(isinstance(params, dict), f"{npath}.params", "must be an object")
        known = decl.schema()
        for name, value in params.items():
            _expect(name in known, f"{npath}.params.{name}",
                    f"unknown parameter for {kind}; expected one of {', '.join(known)}")
            problem = known[name].check(value)
            _expect(problem is None, f"{npath}.params.{name}", problem or "")
        pos = raw.get("pos", [0.0, 0.0])
        _expect(isinstance(pos, (list, tuple)) and len(pos) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos),
                f"{npath}.pos", f"must be [x, y], got {pos!r}")
        nodes.append(NodeSpec(nid, kind, dict(params), (float(pos[0]), float(pos[1]))))
    edges_raw = data.get("edges", [])
    _expect(isinstance(edges_raw, list), f"{path}.edges", "must be a list of edges")
    _expect(len(edges_raw) <= 4 * MAX_NODES, f"{path}.edges",
            f"{len(edges_raw):,} edges; a graph has at most {4 * MAX_NODES}")
    edges: list[EdgeSpec] = []
    for i, raw in enumerate(edges_raw):
        epath = f"{path}.edges[{i}]"
        _expect(isinstance(raw, dict), epath, "must be an object with src, dst and port")
        src, dst, port = raw.get("src"), raw.get("dst"), raw.get("port", "seq")
        for name, value in (("src", src), ("dst", dst), ("port", port)):
            _expect(isinstance(value, str), f"{epath}.{name}", f"must be a string, got {value!r}")
        _expect(src in seen, f"{epath}.src", f"no node with id {src!r}")
        _expect(dst in seen, f"{epath}.dst", f"no node with id {dst!r}")
        ports = all_ports()
        _expect(port in ports, f"{epath}.port", f"must be one of {', '.join(ports)}, got {port!r}")
        dst_kind = next(n.kind for n in nodes if n.id == dst)
        _expect(registry.kind_of(dst_kind).port(port) is not None, f"{epath}.port",
                f"a {dst_kind} node has no '{port}' input")
        edges.append(EdgeSpec(src, dst, port))
    return GraphSpec(nodes, edges, GRAPH_VERSION)
