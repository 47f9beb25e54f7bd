"""One registry of layer kinds: a new kind, declared once here in the test, is validated,
built, traced, generated from, exported and offered on the canvas with no edit to any
module of the project (docs/ARCHITECTURE.md shows the same example)."""

from __future__ import annotations

import runpy

import pytest
import torch
from torch import nn

from playground.errors import BAD_PARAMETER, GraphError
from playground.files.export import export_pytorch
from playground.model import registry
from playground.model.build import build
from playground.model.spec import chain
from playground.model.validate import analyze, validate
from playground.schema import Param
from playground.tracing import OutputTrace, trace
from playground.train.generate import generate_ids


class GatedScale(nn.Module):
    """``y_t = sigmoid(w) * x_t + b``, one weight and bias per feature (a toy kind)."""

    def __init__(self, node, widths):
        super().__init__()
        E = widths["seq"]
        self.w = nn.Parameter(torch.full((E,), float(node.params["init"])))
        self.b = nn.Parameter(torch.zeros(E))

    def forward(self, x):
        return torch.sigmoid(self.w) * x + self.b  # (B, T, E)


EXPORTED = '''
class GatedScale(nn.Module):
    """y_t = sigmoid(w) * x_t + b."""

    def __init__(self, width, init):
        super().__init__()
        self.w = nn.Parameter(torch.full((width,), float(init)))
        self.b = nn.Parameter(torch.zeros(width))

    def forward(self, x):
        return torch.sigmoid(self.w) * x + self.b
'''

TOY = registry.LayerKind(
    name="gated_scale", label="Gated scale", description="y = sigmoid(w) x + b, per feature",
    params=(Param("init", float, 0.0, -10.0, 10.0, label="Initial w"),),
    build=GatedScale, width=lambda p, seq_width: seq_width,
    param_count=lambda p, w: None if w.get("seq") is None else 2 * w["seq"],
    summary=lambda p: f"w0 {p['init']:g}", window=lambda node, ports: None,
    export=registry.ExportCode(
        lambda p, w: f"GatedScale({w['seq']}, {p['init']!r})", (("gated_scale", EXPORTED),)),
)


@pytest.fixture
def toy():
    registry.register(TOY)
    yield TOY
    registry.unregister(TOY.name)


def graph(init=0.5):
    return chain(("x", "input", {"encoding": "onehot", "vocab_size": 5}),
                 ("gs", "gated_scale", {"init": init}),
                 ("head", "linear", {"out_features": 5}))


def test_a_new_kind_is_validated_with_its_own_schema_and_shapes(toy):
    info = validate(graph())
    assert info.order == ["x", "gs", "head"] and info.width["gs"] == 5
    bad = analyze(graph(init=99.0))
    assert [(p.code, p.node) for p in bad.problems] == [(BAD_PARAMETER, "gs")]
    assert "init: must be <= 10.0" in str(bad.problems[0])


def test_without_its_declaration_the_kind_is_unknown():
    with pytest.raises(GraphError, match="unknown kind 'gated_scale'"):
        validate(graph())


def test_a_new_kind_builds_and_runs_its_own_module(toy):
    model = build(graph(), seed=0)
    assert isinstance(model.layers["gs"], GatedScale)
    x = torch.tensor([[0, 3, 1, 4]])
    onehot = nn.functional.one_hot(x, 5).float()
    ref = model.layers["head"](torch.sigmoid(torch.tensor(0.5)) * onehot)  # b starts at 0
    assert torch.allclose(model(x), ref, atol=1e-6)


def test_a_new_kind_is_traced_with_its_output_and_the_gradient_reaching_it(toy):
    model = build(graph(), seed=1).double()
    with torch.no_grad():
        model.layers["gs"].b.normal_()
    x, y = torch.tensor([[0, 3, 1, 4, 2]]), torch.tensor([[3, 1, 4, 2, 0]])
    tr = trace(model, x, y)
    (rec,) = [r for r in tr.layers if r.node == "gs"]
    assert isinstance(rec, OutputTrace) and rec.kind == "gated_scale"
    # the reference: the same computation by hand, gradient by autograd
    gs = model.layers["gs"]
    mid = (torch.sigmoid(gs.w) * nn.functional.one_hot(x, 5).double() + gs.b).detach()
    mid.requires_grad_()
    loss = nn.functional.cross_entropy(model.layers["head"](mid)[0], y[0])
    loss.backward()
    assert torch.allclose(torch.from_numpy(rec.out), mid.detach(), atol=1e-12)
    assert torch.allclose(torch.from_numpy(rec.dout), mid.grad, atol=1e-12)
    assert abs(tr.loss - loss.item()) < 1e-12
    assert tr.param_grads["layers.gs.w"].shape == (5,)


def test_a_new_kind_generates_step_by_step_like_the_full_forward(toy):
    model = build(graph(), seed=2)
    out = generate_ids(model, [1, 2], 4, greedy=True)
    seq = [1, 2]
    for _ in range(4):  # the reference: argmax of a full forward over the whole prefix
        seq.append(int(model(torch.tensor([seq]))[0, -1].argmax()))
    assert out == seq[2:]


def test_a_new_kind_exports_to_plain_pytorch(toy, tmp_path):
    model = build(graph(init=-1.5), seed=3)
    with torch.no_grad():
        model.layers["gs"].b.uniform_(-1, 1)
    py, pt = export_pytorch(model, tmp_path / "toy.py")
    ns = runpy.run_path(str(py))
    exported = ns["Model"]()
    exported.load_state_dict(torch.load(pt, weights_only=True))
    x = torch.tensor([[4, 0, 2, 2]])
    assert torch.allclose(exported(x), model(x), atol=1e-6)
    assert "GatedScale(5, -1.5)" in py.read_text()


def test_a_new_kind_is_offered_in_the_palette_and_edited_in_the_property_editor(toy, qtbot):
    pytest.importorskip("PySide6")
    from ui.canvas import CanvasView

    view = CanvasView()
    qtbot.addWidget(view)
    pal = view.palette_widget
    assert pal.kinds()[-1] == "gated_scale" and pal.item_for("gated_scale").text() == "Gated scale"
    assert "sigmoid(w) x + b" in pal.item_for("gated_scale").toolTip()
    nid = view.add_node("gated_scale")
    assert view.model.node(nid).params == {"init": 0.0}
    view.select_node(nid)
    fields = view.properties_widget.fields
    assert set(fields) == {"init"}
    fields["init"].setValue(2.5)
    fields["init"].editingFinished.emit()
    assert view.model.node(nid).params["init"] == 2.5


def test_the_worked_example_in_the_architecture_doc_adds_a_working_kind(tmp_path):
    """docs/ARCHITECTURE.md's example, run as written: afterwards the kind validates,
    builds and exports like the one above."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "ARCHITECTURE.md").read_text()
    section = doc.split("### Worked example: adding a kind", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    try:
        exec(compile(code, "ARCHITECTURE.md", "exec"), {})
        model = build(graph(init=1.0), seed=0)
        py, pt = export_pytorch(model, tmp_path / "doc.py")
        exported = runpy.run_path(str(py))["Model"]()
        exported.load_state_dict(torch.load(pt, weights_only=True))
        x = torch.tensor([[1, 2, 3]])
        assert torch.allclose(exported(x), model(x), atol=1e-6)
        assert any(isinstance(r, OutputTrace) for r in trace(model, x).layers)
    finally:
        registry.unregister("gated_scale")
