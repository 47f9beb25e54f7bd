"""Parse plain data into specs, naming the field path of anything malformed.

The file format is parsed into plain data first (``json.load``), then checked
here field by field before any object is built, so a broken file yields one
clear message such as ``graph.nodes[2].params.hidden_size: must be a positive
integer, got -3`` and never a traceback.
"""

from __future__ import annotations

from typing import Any

from .errors import FileFormatError
from .spec import (
    GRAPH_VERSION,
    INPUT_PORTS,
    KINDS,
    PARAMS,
    PORTS,
    EdgeSpec,
    GraphSpec,
    NodeSpec,
    node_id_problem,
)


def _expect(cond: bool, path: str, message: str) -> None:
    if not cond:
        raise FileFormatError(message, path)


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
        _expect(kind in KINDS, f"{npath}.kind",
                f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        params = raw.get("params", {})
        _expect(isinstance(params, dict), f"{npath}.params", "must be an object")
        known = {p.name: p for p in PARAMS[kind]}
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
    edges: list[EdgeSpec] = []
    for i, raw in enumerate(edges_raw):
        epath = f"{path}.edges[{i}]"
        _expect(isinstance(raw, dict), epath, "must be an object with src, dst and port")
        src, dst, port = raw.get("src"), raw.get("dst"), raw.get("port", "seq")
        for name, value in (("src", src), ("dst", dst), ("port", port)):
            _expect(isinstance(value, str), f"{epath}.{name}", f"must be a string, got {value!r}")
        _expect(src in seen, f"{epath}.src", f"no node with id {src!r}")
        _expect(dst in seen, f"{epath}.dst", f"no node with id {dst!r}")
        _expect(port in PORTS, f"{epath}.port", f"must be one of {', '.join(PORTS)}, got {port!r}")
        dst_kind = next(n.kind for n in nodes if n.id == dst)
        _expect(port in INPUT_PORTS[dst_kind], f"{epath}.port",
                f"a {dst_kind} node has no '{port}' input")
        edges.append(EdgeSpec(src, dst, port))
    return GraphSpec(nodes, edges, GRAPH_VERSION)
