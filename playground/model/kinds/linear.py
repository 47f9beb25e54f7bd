"""The linear output head: the model's output, class logits (softmax) or values."""

from __future__ import annotations

from ...schema import Param
from ..registry import ExportCode, LayerKind, register


def _build(node, widths):
    from torch import nn

    return nn.Linear(widths["seq"], node.params["out_features"])


def _count(p, widths):
    """``I*O + O``."""
    E = widths.get("seq")
    return None if E is None else E * p["out_features"] + p["out_features"]


LINEAR = register(LayerKind(
    name="linear", label="Linear head", role="head", trace="none", id_prefix="head",
    description="Linear output head (softmax classes or values)", color="#3d7a4a",
    params=(Param("out_features", int, 8, 1, 1_000_000, label="Outputs"),
            Param("output", str, "softmax", choices=("softmax", "identity"), label="Output")),
    width=lambda p, _w: p["out_features"], build=_build, param_count=_count,
    summary=lambda p: f"{p['out_features']} outputs, {p['output']}",
    window=lambda node, ports: None,
    export=ExportCode(lambda p, w: f"nn.Linear({w['seq']}, {p['out_features']})"),
))
