"""Timeline model: no Qt, plain callbacks."""

import pytest

from playground.timeline import BACKWARD, FORWARD, Timeline


def record(tl):
    seen = {k: [] for k in ("step", "n_steps", "playing", "speed", "direction")}
    for k, lst in seen.items():
        getattr(tl.events, k).connect(lst.append)
    return seen


def test_step_is_clamped_and_emits_only_changes():
    tl = Timeline(5)
    seen = record(tl)
    tl.step = 3
    tl.step = 3
    tl.step = 99
    tl.step = -4
    assert seen["step"] == [3, 4, 0]
    tl.last()
    tl.prev()
    tl.first()
    tl.next()
    assert seen["step"][-4:] == [4, 3, 0, 1]


def test_shrinking_moves_the_step_inside():
    tl = Timeline(10)
    seen = record(tl)
    tl.step = 9
    tl.n_steps = 4
    assert tl.step == 3 and seen["n_steps"] == [4] and seen["step"][-1] == 3


def test_forward_playback_stops_at_end():
    tl = Timeline(3)
    seen = record(tl)
    tl.play()
    ticks = 0
    while tl.advance():
        ticks += 1
    assert tl.step == 2 and not tl.playing and ticks == 2
    assert seen["playing"] == [True, False]
    tl.play()  # from the end: restarts at the first step
    assert tl.step == 0 and tl.playing


def test_backward_walks_from_last_to_first():
    tl = Timeline(4)
    seen = record(tl)
    tl.start_backward()
    assert tl.direction == BACKWARD and tl.step == 3 and tl.playing
    while tl.advance():
        pass
    assert seen["step"] == [3, 2, 1, 0] and not tl.playing
    tl.direction = FORWARD
    assert seen["direction"] == [BACKWARD, FORWARD]
    with pytest.raises(ValueError):
        tl.direction = "sideways"


def test_speed_bounds_and_interval():
    tl = Timeline(2, speed=10)
    assert tl.interval_ms() == 100
    tl.speed = 1e9
    assert tl.speed == Timeline.MAX_SPEED
    tl.speed = 0
    assert tl.speed == Timeline.MIN_SPEED
    tl.toggle()
    assert tl.playing
    tl.toggle()
    assert not tl.playing
