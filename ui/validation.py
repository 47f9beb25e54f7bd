"""The validation sequences' hidden states, for the Trajectory and Neuron search docks.

:class:`ValidationJob` runs :func:`playground.train.validation.validation_states` off the
GUI thread on a copy of the controller's model, when a dock asks (:meth:`request`) and the
states it holds are not of the current model, weights and dataset. The newest request
wins (:class:`~ui.jobs.LatestCall`); a new experiment or a rebuilt model drops what runs
and what it holds. Nothing is computed while training: the weights change at every step.
"""

from __future__ import annotations

import copy

from PySide6 import QtCore

from .jobs import LatestCall


class ValidationJob(LatestCall):
    """The states of the controller's validation sequences; ``changed`` when new ones
    arrived or the old ones were dropped."""

    NAME = "validation states"
    changed = QtCore.Signal()

    def __init__(self, controller):
        super().__init__(controller)
        self.controller = controller
        self.states = None          # a ValidationStates, for self._key
        self._key = None
        self._running_key = self._failed_key = None
        self.error = ""
        controller.opened.connect(self.forget)
        controller.modelChanged.connect(self.forget)
        self.ready.connect(self._ready)
        self.failed.connect(self._failed)

    def _current_key(self):
        from .tracejob import weights_key

        c = self.controller
        if c.model is None or c.dataset is None or getattr(c, "inspected", None) is not None:
            return None
        return (c.model, weights_key(c.model), c.dataset)

    @staticmethod
    def _same(a, b) -> bool:
        return a is not None and b is not None and a[0] is b[0] and a[1] == b[1] \
            and a[2] is b[2]

    @property
    def available(self) -> bool:
        """Whether there are validation sequences to trace (not for a user's own module)."""
        return self._current_key() is not None

    def current(self):
        """The states of the current model and weights, or None (not computed yet)."""
        return self.states if self._same(self._key, self._current_key()) else None

    @property
    def computing(self) -> bool:
        return self.running and self._same(self._running_key, self._current_key())

    def request(self) -> None:
        """Compute the states unless they are known, being computed, or training runs."""
        key = self._current_key()
        if key is None or self.controller.training.running or self.current() is not None \
                or self.computing or self._same(self._failed_key, key):
            return
        from playground.train.validation import validation_states

        model = copy.deepcopy(key[0])
        model.eval()
        dataset = key[2]
        gen = self._generation + 1      # the generation _start gives this call
        self._running_key = key
        self.error = ""

        def run():
            states = validation_states(model, dataset,
                                       should_stop=lambda: self._generation != gen)
            return {"key": key, "states": states}

        self._start(run, describe=lambda e: f"the validation sequences could not be traced: "
                                            f"{e}")

    def _ready(self, result: dict) -> None:
        self._running_key = None
        if result["states"] is None or not self._same(result["key"], self._current_key()):
            return
        self._key, self.states = result["key"], result["states"]
        self.changed.emit()

    def _failed(self, message: str) -> None:
        self._failed_key, self._running_key = self._running_key, None
        self.error = message
        self.changed.emit()

    def forget(self) -> None:
        """Drop what is held, and what runs unless it is for the current model (a dock may
        have asked for it already: the window redraws before this is told)."""
        if not self.computing:
            self.cancel()
            self._running_key = None
        self._failed_key = None
        self.states = self._key = None
        self.error = ""
        self.changed.emit()
