"""The core's layout: one package per stage, imports one way, no import cycles.

The import graph is read from the source with ``ast`` (every import, also those inside
functions), as napari's import-linter contracts do. Stages and their ranks::

    base (errors, events, schema, timeline)  <-  model  <-  data, tracing  <-  train
        <-  files  <-  cli  <-  playground/__init__ (the public API)

A module may import its own stage or a lower rank; ``data`` and ``tracing`` stand side by
side and never import each other.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BASE = ("errors", "events", "schema", "timeline")
RANK = {"base": 0, "model": 1, "data": 2, "tracing": 2, "train": 3, "probe": 3, "files": 4,
        "cli": 5, "api": 6}
MAX_LINES = 400


def modules(root: Path, package: str = "playground") -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package under ``root``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph(root: Path, package: str = "playground") -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (relative imports resolved)."""
    mods = modules(root, package)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        here = name.split(".") if is_pkg else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[:len(here) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                for a in node.names:  # ``from pkg import sub`` names a module
                    targets.append(f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod)
            for t in targets:
                while t and t not in mods:  # ``import a.b.c`` of a non-module: its module
                    t = t.rpartition(".")[0]
                if t and t != name:
                    graph[name].add(t)
    return graph


def stage(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "api"
    if parts[1] in BASE:
        return "base"
    return parts[1]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def wrong_way(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for src, targets in graph.items():
        for dst in targets:
            a, b = stage(src), stage(dst)
            if a == b:
                continue
            if a not in RANK or b not in RANK:
                bad.append(f"{src} -> {dst}: {a if a not in RANK else b} is not a known stage")
            elif RANK[b] >= RANK[a]:
                bad.append(f"{src} ({a}) imports {dst} ({b})")
    return sorted(bad)


def test_no_import_cycles_in_the_core():
    assert cycles(import_graph(ROOT)) == []


def test_imports_point_one_way_between_stages():
    assert wrong_way(import_graph(ROOT)) == []


def test_every_module_is_in_a_declared_stage_and_under_the_size_limit():
    for name, path in modules(ROOT).items():
        assert stage(name) in RANK, f"{name}: not in a declared stage ({', '.join(RANK)})"
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"


def test_every_stage_package_says_what_it_owns_and_may_import():
    for pkg in ("model", "data", "tracing", "train", "files"):
        doc = ast.get_docstring(ast.parse((ROOT / "playground" / pkg / "__init__.py")
                                          .read_text(encoding="utf-8")))
        assert doc and "Owns" in doc and "May import" in doc, pkg


# -- the checks themselves catch what they should (a small package written for the test) --
def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / "playground" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_the_checks_find_a_cycle_a_lazy_import_and_a_wrong_way_import(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "errors.py": "",
        "model/__init__.py": "",
        "model/spec.py": "from . import fileform\n",
        "model/fileform.py": "def f():\n    from .spec import x  # a lazy import still counts\n",
        "data/__init__.py": "",
        "data/tasks.py": "from ..tracing.runs import chunks\n",   # data -> tracing: refused
        "tracing/__init__.py": "",
        "tracing/runs.py": "from ..errors import E\nfrom ..train import trainer\n",
        "train/__init__.py": "",
        "train/trainer.py": "from playground.model.spec import GraphSpec\n",
    })
    g = import_graph(root)
    assert g["playground.model.fileform"] == {"playground.model.spec"}
    assert cycles(g) == [["playground.model.fileform", "playground.model.spec"]]
    assert wrong_way(g) == [
        "playground.data.tasks (data) imports playground.tracing.runs (tracing)",
        "playground.tracing.runs (tracing) imports playground.train.trainer (train)"]


# -- the base stays light -----------------------------------------------------------------
@pytest.mark.parametrize("module", ["playground", "playground.model.editing",
                                    "playground.model.validate", "playground.timeline"])
def test_reading_and_editing_a_graph_loads_no_torch(module):
    """The canvas reads kinds, validates and edits before torch is loaded; only building
    and tracing need it."""
    code = (f"import sys, importlib; m = importlib.import_module({module!r})\n"
            "from playground.model.editing import GraphModel\n"
            "from playground.model.spec import chain\n"
            "g = GraphModel(chain(('x', 'input', {}), ('r', 'lstm', {}), "
            "('h', 'linear', {})))\n"
            "assert g.analyze().ok, g.analyze().problems\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_no_node_id_is_a_name_the_installed_torch_reserves():
    """Before torch is loaded the ids are checked against a list; once it is, against the
    installed torch itself, so a newer torch's new ModuleDict names are refused too."""
    from torch import nn

    from playground.model import spec

    torch_names = {n for n in dir(nn.ModuleDict()) if not n.startswith("__")}
    assert torch_names <= spec._reserved(), sorted(torch_names - spec._reserved())
    assert {"parameters", "state_dict", "forward", "keys"} <= spec._MODULEDICT_NAMES
    for name in ("parameters", "type", "_modules"):
        assert "reserved" in spec.node_id_problem(name)
    assert spec.node_id_problem("lstm1") is None
