"""Lessons as data: what a preset asks a student to look at, one step at a time.

A lesson is the ``"lesson"`` list of an experiment file. Each step names a panel (a dock
of the window, by its key), optionally a layer (a node id of the graph), a time step or a
span of steps, a gate or another quantity the panel draws, and an action; and it says in
one sentence what to see::

    {"text": "Through the blanks the forget gate stays near 1.", "panel": "gates",
     "layer": "lstm", "span": [3, 21], "gate": "f"}

``step`` and ``span`` (``[first, last]``, both included) count from the end when negative
(``-1`` is the last step). ``gate`` is a gate letter of the layer's cell
(:data:`playground.tracing.kernels.QUANTITIES`); ``quantity`` anything else the panel can
point at (:data:`PANELS`). ``action`` is one of :data:`ACTIONS`; a ``clamp`` takes a
``value`` and forces the gate (or ``h`` / ``c``) from the step on, as the What-if dock does.

This module is the one registry of what lessons may name: the panels with the quantities
each can mark, and the actions with the control of the window each stands for. The app
reads it to walk a lesson (``ui/lesson.py``); a test checks it against the real window
(every panel a dock, every quantity one its panel marks, every control a real widget).
Parsing checks the JSON field by field and names the field path in every message
(``lesson[2].panel: no panel 'foo'; ...``); :func:`check` then checks a lesson against its
graph. No Qt here, and no torch until :func:`check` runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import FileFormatError
from ..events import Event

GATE = "gate"   # in PanelDecl.quantities: any gate letter of the panel's layer


@dataclass(frozen=True)
class PanelDecl:
    """A panel a lesson step may name. ``layer``: the style of node it shows
    (``recurrent``, ``attention``, or None when it shows the whole model); ``timed``: it
    draws time steps, so a step may name a step or span; ``quantities``: what it can point
    at (a quantity the layer must have: :data:`NEEDS`)."""

    layer: str | None
    timed: bool
    quantities: tuple[str, ...] = ()


# dock key (ui.main_window.DOCKS) -> what a step may ask of it
PANELS = {
    "h": PanelDecl("recurrent", True, ("h",)),
    "c": PanelDecl("recurrent", True, ("c",)),
    "gates": PanelDecl("recurrent", True, (GATE,)),
    "gradient": PanelDecl("recurrent", True, ("dh", "dc")),
    "jacobian": PanelDecl("recurrent", True),
    "equation": PanelDecl("recurrent", True),
    "attention": PanelDecl("attention", True, ("weights", "scores")),
    "input": PanelDecl(None, True),
    "output": PanelDecl(None, True),
    "loss": PanelDecl(None, True),
    "curves": PanelDecl(None, False, ("loss", "grad_norm")),
    "training": PanelDecl(None, False),
    "whatif": PanelDecl("recurrent", True),
    "generate": PanelDecl(None, False),
}
# a quantity -> the state of the layer it needs (a letter of kernels.QUANTITIES[cell])
NEEDS = {"h": "h", "c": "c", "dh": "h", "dc": "c"}


@dataclass(frozen=True)
class ActionDecl:
    """What a step's ``action`` does, as the control of the window it stands for: the
    ``control`` (a button's or toggle's text) in the dock ``dock``, operated as ``operate``
    says (``click`` it, ``check`` / ``uncheck`` it, ``raise`` the dock, or ``clamp``: fill
    in the What-if dock and apply)."""

    does: str
    dock: str
    control: str
    operate: str


ACTIONS = {
    "train": ActionDecl("starts training (as the Train button does)", "training", "Train",
                        "click"),
    "generate": ActionDecl("opens the Generate dock", "generate", "Generate", "raise"),
    "clamp": ActionDecl("forces a gate or state from the step on (the What-if dock)",
                        "whatif", "Apply at current step", "clamp"),
    "restore": ActionDecl("brings the original run back (the What-if dock)", "whatif",
                          "Restore original", "click"),
    "trained": ActionDecl("shows the trained weights", "training", "Trained weights", "check"),
    "untrained": ActionDecl("shows the weights before training", "training",
                            "Trained weights", "uncheck"),
}
CLAMP_STATES = ("h", "c")   # besides gates, what a clamp may overwrite
FIELDS = ("text", "panel", "layer", "step", "span", "gate", "quantity", "action", "value")


@dataclass(frozen=True)
class LessonStep:
    """One step of a lesson (see the module docstring)."""

    text: str
    panel: str
    layer: str | None = None
    step: int | None = None
    span: tuple[int, int] | None = None
    gate: str | None = None
    quantity: str | None = None
    action: str | None = None
    value: float | None = None

    @property
    def what(self) -> str | None:
        """The gate or quantity the step points at."""
        return self.gate or self.quantity

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in FIELDS:
            v = getattr(self, key)
            if v is not None:
                out[key] = list(v) if key == "span" else v
        return out

    def steps_in(self, n: int) -> tuple[int, tuple[int, int] | None]:
        """``(t, span)`` in a sequence of ``n`` steps: where the timeline goes (``step``,
        else the span's first step, else 0) and the marked steps (None: none), negative
        steps counted from the end, all clamped into ``0..n-1``."""
        def at(s: int) -> int:
            return min(max(s + n if s < 0 else s, 0), max(n - 1, 0))

        span = None if self.span is None else tuple(sorted((at(self.span[0]),
                                                            at(self.span[1]))))
        if self.step is not None:
            t = at(self.step)
            return t, span or (t, t)
        return (span[0] if span else 0), span

    def out_of(self, n: int) -> str:
        """Why the step's time steps do not fit a sequence of ``n`` steps (``""``: they
        do)."""
        def bad(s: int) -> bool:
            return not -n <= s < n

        named = ([self.step] if self.step is not None else []) + list(self.span or ())
        wrong = [s for s in named if bad(s)]
        if wrong:
            return f"step {wrong[0]} is outside the sequence of {n} steps"
        if self.span is not None and self.step is not None:
            t, (a, b) = self.steps_in(n)
            if not a <= t <= b:
                return f"step {self.step} is not in the span {list(self.span)}"
        if self.span is not None:
            a, b = (s + n if s < 0 else s for s in self.span)
            if a > b:
                return f"the span {list(self.span)} runs backwards"
        return ""


def parse(raw: Any, path: str = "lesson") -> tuple[LessonStep, ...]:
    """The steps of a lesson's plain data, checked field by field (FileFormatError with
    the field path); the panels, actions and their fields are checked here, the layers and
    quantities against a graph by :func:`check`."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise FileFormatError(f"must be a list of steps, got {type(raw).__name__}", path)
    return tuple(_step(item, f"{path}[{i}]") for i, item in enumerate(raw))


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _step(d: Any, where: str) -> LessonStep:
    if not isinstance(d, dict):
        raise FileFormatError(f"must be an object, got {type(d).__name__}", where)
    for key in d:
        if key not in FIELDS:
            raise FileFormatError(f"unknown field; expected one of {', '.join(FIELDS)}",
                                  f"{where}.{key}")
    for key in ("text", "panel"):
        if key not in d:
            raise FileFormatError("missing", f"{where}.{key}")
    for key in ("text", "panel", "layer", "gate", "quantity", "action"):
        v = d.get(key)
        if v is not None and (not isinstance(v, str) or not v.strip()):
            raise FileFormatError(f"must be a non-empty string, got {v!r}", f"{where}.{key}")
    panel = PANELS.get(d["panel"])
    if panel is None:
        raise FileFormatError(f"no panel {d['panel']!r}; choose one of {', '.join(PANELS)}",
                              f"{where}.panel")
    step, span = d.get("step"), d.get("span")
    if step is not None and not _int(step):
        raise FileFormatError(f"must be an integer (negative: from the end), got {step!r}",
                              f"{where}.step")
    if span is not None:
        if not (isinstance(span, list) and len(span) == 2 and all(map(_int, span))):
            raise FileFormatError(f"must be [first, last], two integers, got {span!r}",
                                  f"{where}.span")
        if (span[0] < 0) == (span[1] < 0) and span[0] > span[1]:
            raise FileFormatError(f"runs backwards: {span!r}", f"{where}.span")
        span = tuple(span)
    if (step is not None or span is not None) and not panel.timed:
        raise FileFormatError(f"panel {d['panel']!r} has no time steps",
                              f"{where}.{'step' if step is not None else 'span'}")
    if d.get("gate") is not None and d.get("quantity") is not None:
        raise FileFormatError("name a gate or a quantity, not both", f"{where}.quantity")
    action = d.get("action")
    if action is not None and action not in ACTIONS:
        raise FileFormatError(f"no action {action!r}; choose one of {', '.join(ACTIONS)}",
                              f"{where}.action")
    q = d.get("quantity")
    if q is not None and action != "clamp" and q not in panel.quantities:
        shows = ", ".join(x for x in panel.quantities if x != GATE) or "nothing to choose"
        raise FileFormatError(f"panel {d['panel']!r} cannot point at {q!r} (it marks: "
                              f"{shows})", f"{where}.quantity")
    if d.get("gate") is not None and action != "clamp" and GATE not in panel.quantities:
        raise FileFormatError(f"panel {d['panel']!r} shows no gates", f"{where}.gate")
    value = d.get("value")
    if action == "clamp":
        if value is None:
            raise FileFormatError("missing: a clamp needs the value to force", f"{where}.value")
        if q is not None and q not in CLAMP_STATES:
            raise FileFormatError(f"a clamp forces a gate or {' / '.join(CLAMP_STATES)}, "
                                  f"not {q!r}", f"{where}.quantity")
        if d.get("gate") is None and q is None:
            raise FileFormatError("missing: a clamp names the gate (or state) to force",
                                  f"{where}.gate")
        if step is None and span is None:
            raise FileFormatError("missing: a clamp names the step it starts at",
                                  f"{where}.step")
        if span is not None and span[1] != -1:
            raise FileFormatError("a clamp holds for one step or to the end (the What-if "
                                  "dock's choices): end the span at -1, or give a step",
                                  f"{where}.span")
        if not PANELS[d["panel"]].timed:
            raise FileFormatError("a clamp needs a panel with time steps", f"{where}.panel")
    if value is not None:
        if action != "clamp":
            raise FileFormatError("only a clamp takes a value", f"{where}.value")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value \
                or not -10 <= value <= 10:
            raise FileFormatError(f"must be a number from -10 to 10, got {value!r}",
                                  f"{where}.value")
    return LessonStep(text=d["text"], panel=d["panel"], layer=d.get("layer"), step=step,
                      span=span, gate=d.get("gate"), quantity=q, action=action, value=value)


def check(lesson, graph, path: str = "lesson") -> None:
    """Check each step against ``graph`` (a GraphSpec): its layer is a node of the style
    its panel shows, its gate or quantity one that node's kind has. FileFormatError with
    the field path."""
    from ..model import registry
    from ..tracing.kernels import QUANTITIES

    ids = {n.id: n for n in graph.nodes}
    for i, s in enumerate(lesson):
        where = f"{path}[{i}]"
        panel = PANELS[s.panel]
        style = panel.layer or ("recurrent" if s.action == "clamp" else None)
        if s.layer is None:
            if (s.what is not None and style is not None) or s.action == "clamp":
                raise FileFormatError(f"missing: name the layer whose "
                                      f"{s.what or 'gate'} to show", f"{where}.layer")
            continue
        node = ids.get(s.layer)
        if node is None:
            raise FileFormatError(f"no node {s.layer!r} in the graph; nodes: "
                                  f"{', '.join(ids)}", f"{where}.layer")
        decl = registry.get(node.kind)
        trace = None if decl is None else decl.trace
        allowed = (style,) if style else ("recurrent", "attention")
        if trace not in allowed:
            wants = f"a {style} layer" if style else "a recurrent or attention layer"
            raise FileFormatError(f"node {s.layer!r} is {registry.label(node.kind)}; panel "
                                  f"{s.panel!r} shows {wants}", f"{where}.layer")
        has = QUANTITIES.get(decl.cell, "") if trace == "recurrent" else ""
        if s.gate is not None and s.gate not in decl.gates:
            raise FileFormatError(f"{registry.label(node.kind)} has no gate {s.gate!r}; its "
                                  f"gates: {', '.join(decl.gates) or 'none'}", f"{where}.gate")
        need = NEEDS.get(s.quantity or "")
        if need is not None and need not in has:
            raise FileFormatError(f"{registry.label(node.kind)} '{s.layer}' has no "
                                  f"{s.quantity!r} (no {need}_t)", f"{where}.quantity")


def summary(lesson, look_at: str = "") -> str:
    """The lesson as one paragraph (its steps' sentences), or ``look_at`` without one."""
    return " ".join(s.text for s in lesson) if lesson else look_at


class LessonWalk:
    """Where a student is in the open experiment's lesson: the steps and the one shown
    (``index``, -1 before the first). ``events.shown(i)`` follows every move;
    ``events.reset()`` a new lesson."""

    def __init__(self, steps=()) -> None:
        self.shown = Event()
        self.changed = Event()
        self.steps: tuple[LessonStep, ...] = tuple(steps)
        self.index = -1

    def reset(self, steps) -> None:
        self.steps, self.index = tuple(steps), -1
        self.changed.emit()

    @property
    def current(self) -> LessonStep | None:
        return self.steps[self.index] if 0 <= self.index < len(self.steps) else None

    def go(self, i: int) -> LessonStep | None:
        """Move to step ``i`` (clamped into the lesson); the step, or None without one."""
        if not self.steps:
            return None
        self.index = min(max(int(i), 0), len(self.steps) - 1)
        self.shown.emit(self.index)
        return self.steps[self.index]

    def next_index(self) -> int:
        return min(self.index + 1, len(self.steps) - 1)

    def previous_index(self) -> int:
        return max(self.index - 1, 0)
