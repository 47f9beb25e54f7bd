"""Lessons as data (playground.files.lessons): every bundled preset's steps name what exists for
its model, bad lesson data is reported with its field path, and the registry names the
window's real docks (ui.main_window.DOCKS, not a copy of their names)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from playground.data import bind_inputs
from playground.errors import FileFormatError
from playground.files import lessons
from playground.files.experiment import Experiment, load, preset_names, resolve
from playground.model import registry
from playground.tracing import trace
from playground.tracing.kernels import QUANTITIES
from playground.tracing.records import RecurrentTrace

pytestmark = pytest.mark.usefixtures("one_thread")


def dock_keys() -> set[str]:
    from ui.main_window import DOCKS  # the window's own table (no window is made)

    return {d[0] for d in DOCKS}


@pytest.mark.parametrize("name", preset_names())
def test_every_step_of_every_preset_names_what_its_model_has(name):
    exp = load(resolve(name), weights=False)
    assert exp.lesson, f"{name} has no lesson"
    assert not exp.what_to_look_at, f"{name}: the lesson replaces the paragraph"
    model, ds = exp.build_model(), exp.make_dataset()
    b = ds.example()
    tr = trace(model, bind_inputs(model, b), b.targets, b.mask)
    nodes = {n.id: n for n in exp.graph.nodes}
    docks = dock_keys()
    for i, s in enumerate(exp.lesson):
        where = f"{name} lesson[{i}]"
        assert len(s.text.split()) >= 5, where
        assert s.panel in lessons.PANELS and s.panel in docks, f"{where}: no panel {s.panel}"
        decl = lessons.PANELS[s.panel]
        n = tr.steps
        if s.layer is not None:
            kind = registry.get(nodes[s.layer].kind)            # KeyError: no such node
            assert kind.trace in ((decl.layer,) if decl.layer else
                                  ("recurrent", "attention")), where
            rec = tr.layer(s.layer)
            n = rec.h.shape[1] if isinstance(rec, RecurrentTrace) else rec.weights.shape[2]
            if s.gate is not None:
                assert s.gate in kind.gates, where
            if s.quantity in lessons.NEEDS:
                assert lessons.NEEDS[s.quantity] in QUANTITIES[kind.cell], where
        if s.quantity is not None and s.action != "clamp":
            assert s.quantity in decl.quantities, where
        if s.step is not None or s.span is not None:
            assert decl.timed, where
            assert s.out_of(n) == "", f"{where}: {s.out_of(n)}"
        if s.action is not None:
            act = lessons.ACTIONS[s.action]
            assert act.dock in docks, f"{where}: action {s.action} needs a '{act.dock}' dock"
        if s.action == "clamp":
            assert s.layer is not None and s.value is not None and s.what is not None, where


def test_the_registry_names_only_docks_the_window_has():
    docks = dock_keys()
    assert set(lessons.PANELS) <= docks, set(lessons.PANELS) - docks
    assert {a.dock for a in lessons.ACTIONS.values()} <= docks


def test_steps_count_from_the_end_and_are_clamped_into_the_sequence():
    s = lessons.LessonStep("x", "h", step=-1)
    assert s.steps_in(40) == (39, (39, 39))
    s = lessons.LessonStep("x", "h", span=[9, -1])
    assert s.steps_in(40) == (9, (9, 39)) and s.out_of(40) == ""
    s = lessons.LessonStep("x", "h", span=[9, -1], step=-1)
    assert s.steps_in(40) == (39, (9, 39))
    assert lessons.LessonStep("x", "h", step=50).steps_in(10) == (9, (9, 9))
    assert "outside" in lessons.LessonStep("x", "h", step=50).out_of(10)
    assert "not in the span" in lessons.LessonStep("x", "h", step=2, span=[5, 8]).out_of(10)
    assert "backwards" in lessons.LessonStep("x", "h", span=[8, -5]).out_of(10)
    assert lessons.LessonStep("x", "curves").steps_in(10) == (0, None)


def test_a_walk_moves_through_the_steps_and_says_so():
    walk = lessons.LessonWalk()
    seen = []
    walk.shown.connect(seen.append)
    assert walk.go(0) is None and walk.current is None
    steps = lessons.parse([{"text": "one two three four five", "panel": "h"},
                           {"text": "six seven eight nine ten", "panel": "loss"}])
    walk.reset(steps)
    assert walk.go(5) is steps[1] and walk.index == 1 and seen == [1]
    assert walk.previous_index() == 0 and walk.next_index() == 1


BASE = json.loads(resolve("lstm_forget_gate").read_text(encoding="utf-8"))


def with_lesson(*steps) -> dict:
    d = json.loads(json.dumps(BASE))
    d["lesson"] = list(steps)
    return d


def step(**kw) -> dict:
    return {"text": "look here", "panel": "gates", "layer": "lstm", **kw}


@pytest.mark.parametrize("lesson, message", [
    ("look", "lesson: must be a list of steps, got str"),
    (["x"], "lesson[0]: must be an object, got str"),
    ([step(), {"panel": "h"}], "lesson[1].text: missing"),
    ([step(), step(), step(panel="foo")], "lesson[2].panel: no panel 'foo'"),
    ([step(colour="red")], "lesson[0].colour: unknown field"),
    ([step(layer="head")], "lesson[0].layer: node 'head' is Linear"),
    ([step(layer="nope")], "lesson[0].layer: no node 'nope' in the graph"),
    ([step(gate="z")], "lesson[0].gate: LSTM has no gate 'z'"),
    ([step(panel="gradient", quantity="weights")],
     "lesson[0].quantity: panel 'gradient' cannot point at 'weights'"),
    ([step(step=1.5)], "lesson[0].step: must be an integer"),
    ([step(span=[5, 2])], "lesson[0].span: runs backwards"),
    ([step(span=[5])], "lesson[0].span: must be [first, last]"),
    ([step(panel="curves", layer=None, step=3)], "lesson[0].step: panel 'curves' has no time"),
    ([step(action="fly")], "lesson[0].action: no action 'fly'"),
    ([step(gate="f", action="clamp", step=3)], "lesson[0].value: missing"),
    ([step(gate="f", action="clamp", step=3, value="x")], "lesson[0].value: must be a number"),
    ([step(gate="f", action="clamp", span=[3, 8], value=0)], "lesson[0].span: a clamp holds"),
    ([step(value=1.0)], "lesson[0].value: only a clamp takes a value"),
    ([step(gate="f", quantity="c")], "lesson[0].quantity: name a gate or a quantity"),
    ([step(panel="gradient", layer=None, quantity="dh")], "lesson[0].layer: missing"),
])
def test_bad_lessons_are_named_by_their_field_path(lesson, message):
    d = with_lesson(*lesson) if isinstance(lesson, list) else {**BASE, "lesson": lesson}
    with pytest.raises(FileFormatError) as e:
        Experiment.from_dict(d)
    assert message in str(e.value)


def test_a_cell_quantity_needs_a_cell():
    d = json.loads(resolve("adding_rnn").read_text(encoding="utf-8"))
    d["lesson"] = [{"text": "the cell gradient", "panel": "gradient", "layer": "rnn",
                    "quantity": "dc"}]
    with pytest.raises(FileFormatError, match=r"lesson\[0\]\.quantity: .*has no 'dc'"):
        Experiment.from_dict(d)


def test_an_old_file_keeps_its_paragraph_and_a_lesson_round_trips(tmp_path):
    old = {k: v for k, v in BASE.items() if k != "lesson"}
    old["what_to_look_at"] = "the forget gate"
    exp = Experiment.from_dict(old)
    assert exp.lesson == () and exp.what_to_look_at == "the forget gate"
    assert exp.to_dict()["what_to_look_at"] == "the forget gate" and "lesson" not in exp.to_dict()
    assert lessons.summary(exp.lesson, exp.what_to_look_at) == "the forget gate"
    new = Experiment.from_dict(BASE)
    assert "what_to_look_at" not in new.to_dict()
    assert Experiment.from_dict(new.to_dict()) == new
    assert lessons.summary(new.lesson).startswith(new.lesson[0].text)


# -- numbers the lessons state, measured on the model they describe -----------------------
def _example_probs(name: str, trained: bool):
    exp = load(resolve(name), weights=trained)
    model, ds = exp.build_model(weights=trained), exp.make_dataset()
    b = ds.example()
    tr = trace(model, bind_inputs(model, b), b.targets, b.mask)
    return exp, ds, tr.probs[0]


def test_hello_untrained_step_says_what_the_seeds_weights_give():
    exp, ds, probs = _example_probs("hello_rnn", trained=False)
    step = next(s for s in exp.lesson if s.action == "untrained")
    said = {"l": 0.35, "e": 0.24, "o": 0.23}          # as the text gives them, in order
    assert [f"{p:.2f}" for p in said.values()] == re.findall(r"\d\.\d\d", step.text)
    for symbol, p in said.items():
        assert probs[step.step][ds.vocab.encode([symbol])[0]] == pytest.approx(p, abs=0.005)
    _, _, trained = _example_probs("hello_rnn", trained=True)
    assert trained[step.step].argmax() == ds.vocab.encode(["o"])[0]     # "the right letter"


def test_the_sine_forecast_keeps_oscillating_for_the_steps_the_lesson_names():
    from playground.train.generate import generate, suggest

    exp = load(resolve("gru_sine"))
    step = next(s for s in exp.lesson if s.action == "generate")
    assert "for 100 steps" in step.text
    model, ds = exp.build_model(), exp.make_dataset()
    prompt, _ = suggest(model, ds)
    out = np.asarray(generate(model, ds, prompt, 100).continuation, np.float64).ravel()
    assert out.shape == (100,) and np.isfinite(out).all()
    for a in range(0, 100, 25):       # every quarter still swings through a peak and a trough
        part = out[a:a + 25]
        assert part.max() > 0.5 and part.min() < -0.3, (a, part.min(), part.max())
