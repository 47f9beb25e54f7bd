"""One event class in the core, with one rule for connecting and disconnecting; the
timeline and the editable graph both use it."""

from playground.events import Event
from playground.model.editing import GraphModel
from playground.timeline import Timeline


class View:
    def __init__(self):
        self.seen = []

    def on_step(self, t):
        self.seen.append(t)


def test_a_bound_method_disconnects_and_an_unknown_callback_is_ignored():
    ev, view = Event(), View()
    ev.connect(view.on_step)
    ev.emit(1)
    ev.disconnect(view.on_step)   # a new bound-method object, equal to the connected one
    ev.disconnect(view.on_step)   # twice: nothing left to remove, no error
    ev.disconnect(print)          # never connected: ignored
    ev.emit(2)
    assert view.seen == [1] and len(ev) == 0


def test_callbacks_run_in_order_and_may_disconnect_while_emitting():
    ev, calls = Event(), []

    def first(x):
        calls.append(("first", x))
        ev.disconnect(first)

    ev.connect(first)
    ev.connect(lambda x: calls.append(("second", x)))
    ev.emit("a")
    ev.emit("b")
    assert calls == [("first", "a"), ("second", "a"), ("second", "b")]


def test_the_timeline_and_the_graph_model_share_the_event_class():
    tl, gm, view = Timeline(10), GraphModel(), View()
    assert type(tl.events.step) is Event and type(gm.changed) is Event
    tl.events.step.connect(view.on_step)
    tl.step = 3
    tl.events.step.disconnect(view.on_step)
    tl.step = 4
    assert view.seen == [3]
    n = []
    gm.changed.connect(lambda: n.append(1))
    gm.add_node("input")
    assert n == [1]
