"""The step-through position as a Qt-free model that views subscribe to.

A :class:`Timeline` holds the current step ``t`` in ``[0, n_steps)``, whether it is
playing, the playback speed (steps per second) and the direction: ``forward`` walks
the sequence from the first step to the last, ``backward`` walks the BPTT gradient
from the last step to the first. Views register plain callbacks; a Qt widget (the
step controls) drives playback with a timer and only calls :meth:`advance`.
"""

from __future__ import annotations

from .events import Event

FORWARD = "forward"
BACKWARD = "backward"
DIRECTIONS = (FORWARD, BACKWARD)


class TimelineEvents:
    """``step(t)``, ``n_steps(n)``, ``playing(bool)``, ``speed(float)``, ``direction(str)``."""

    def __init__(self) -> None:
        self.step = Event()
        self.n_steps = Event()
        self.playing = Event()
        self.speed = Event()
        self.direction = Event()


class Timeline:
    """Current step, length, play state, speed and direction of the step-through view."""

    MIN_SPEED = 0.25
    MAX_SPEED = 240.0

    def __init__(self, n_steps: int = 1, speed: float = 8.0) -> None:
        self.events = TimelineEvents()
        self._n = max(1, int(n_steps))
        self._step = 0
        self._playing = False
        self._speed = self._clamp_speed(speed)
        self._direction = FORWARD

    # -- state ---------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self._step

    @step.setter
    def step(self, t: int) -> None:
        t = min(max(int(t), 0), self._n - 1)
        if t != self._step:
            self._step = t
            self.events.step.emit(t)

    @property
    def n_steps(self) -> int:
        return self._n

    @n_steps.setter
    def n_steps(self, n: int) -> None:
        n = max(1, int(n))
        if n == self._n:
            return
        self._n = n
        self.events.n_steps.emit(n)
        if self._step > n - 1:
            self._step = n - 1
            self.events.step.emit(self._step)

    @property
    def playing(self) -> bool:
        return self._playing

    @playing.setter
    def playing(self, on: bool) -> None:
        on = bool(on)
        if on != self._playing:
            self._playing = on
            self.events.playing.emit(on)

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, v: float) -> None:
        v = self._clamp_speed(v)
        if v != self._speed:
            self._speed = v
            self.events.speed.emit(v)

    @property
    def direction(self) -> str:
        return self._direction

    @direction.setter
    def direction(self, d: str) -> None:
        if d not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {d!r}")
        if d != self._direction:
            self._direction = d
            self.events.direction.emit(d)

    @property
    def at_end(self) -> bool:
        """True when playback in the current direction has nowhere left to go."""
        return self._step == (self._n - 1 if self._direction == FORWARD else 0)

    # -- actions -------------------------------------------------------------------------
    def next(self) -> None:
        self.step = self._step + 1

    def prev(self) -> None:
        self.step = self._step - 1

    def first(self) -> None:
        self.step = 0

    def last(self) -> None:
        self.step = self._n - 1

    def play(self) -> None:
        """Start playing; from the end (in the current direction) playback restarts."""
        if self.at_end:
            self.step = 0 if self._direction == FORWARD else self._n - 1
        self.playing = True

    def pause(self) -> None:
        self.playing = False

    def toggle(self) -> None:
        self.pause() if self._playing else self.play()

    def advance(self) -> bool:
        """One playback tick: move one step in the current direction. Stops (and returns
        False) at the end."""
        if self.at_end:
            self.playing = False
            return False
        self.step = self._step + (1 if self._direction == FORWARD else -1)
        if self.at_end:
            self.playing = False
        return True

    def start_backward(self) -> None:
        """Walk the BPTT gradient: jump to the last step and play towards the first."""
        self.direction = BACKWARD
        self.step = self._n - 1
        self.playing = True

    def interval_ms(self) -> int:
        return max(1, int(round(1000.0 / self._speed)))

    def _clamp_speed(self, v: float) -> float:
        return float(min(max(float(v), self.MIN_SPEED), self.MAX_SPEED))
