"""The one event class of the core: plain Python callbacks, no Qt.

Models (the step-through :class:`~playground.timeline.Timeline`, the editable
:class:`~playground.model.editing.GraphModel`) own events; views connect callbacks to them.
One rule for every event: :meth:`Event.connect` adds a callback (and returns it, so it can
decorate), :meth:`Event.disconnect` removes it and does nothing for a callback that is not
connected (so a view can always clean up, as psygnal does by default), and
:meth:`Event.emit` calls the callbacks in the order they were connected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Event:
    """A list of callbacks: ``connect(fn)``, ``disconnect(fn)``, ``emit(*args)``."""

    __slots__ = ("_callbacks",)

    def __init__(self) -> None:
        self._callbacks: list[Callable] = []

    def connect(self, fn: Callable) -> Callable:
        self._callbacks.append(fn)
        return fn

    def disconnect(self, fn: Callable) -> None:
        # ``==``, not ``is``: each ``obj.method`` access makes a new bound-method object,
        # and those compare equal when they wrap the same function of the same object.
        self._callbacks = [c for c in self._callbacks if c != fn]

    def emit(self, *args: Any) -> None:
        for fn in list(self._callbacks):  # a callback may connect or disconnect others
            fn(*args)

    def __len__(self) -> int:
        return len(self._callbacks)
