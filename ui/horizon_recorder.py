"""The gradient horizon the window records while it trains
(:class:`playground.train.horizon.GradientHorizon`).

The controller owns one :class:`HorizonRecorder` (``controller.horizon``). When training
starts it attaches a horizon to the trainer the training job made (``every =
max(1, steps // 100)``: about a hundred rows a run), continuing the one of the same
trainer or the one the experiment file kept; when training ends the horizon's data goes
into the experiment (``exp.horizon``), so that Save writes it. Opening an experiment reads
the horizon it has.
"""

from __future__ import annotations

from PySide6 import QtCore

from playground.errors import PlaygroundError
from playground.train.horizon import GradientHorizon

# the share of the training time the horizon may take: rows get sparser to keep to it
BUDGET = 0.1


class HorizonRecorder(QtCore.QObject):
    """See the module docstring. ``changed`` after a new horizon or a finished run."""

    changed = QtCore.Signal()

    def __init__(self, controller):
        super().__init__(controller)
        self.controller = controller
        self.horizon: GradientHorizon | None = None
        self._trainer = None           # the trainer it is attached to
        controller.opened.connect(self._opened)
        controller.modelChanged.connect(self._forget)
        controller.training.started.connect(self._started)
        controller.training.finished.connect(self._finished)

    def _opened(self) -> None:
        self.horizon, self._trainer = None, None
        exp = self.controller.experiment
        data = getattr(exp, "horizon", None)
        if data is not None:
            try:
                self.horizon = GradientHorizon.from_dict(data)
            except (PlaygroundError, ValueError):
                self.horizon = None
        self.changed.emit()

    def _forget(self) -> None:
        """Another model on view (an edit, the other weights, a new initialisation): the
        horizon is the experiment's again, which a canvas edit has cleared
        (:meth:`forget_experiments`); rows of a model edited away are not this one's."""
        if not self.controller.training.running:
            self._opened()

    def forget_experiments(self) -> None:
        """The model's layers changed: the horizon the experiment kept (and Save would
        write) belongs to the model before the edit."""
        exp = self.controller.experiment
        if exp is not None:
            exp.horizon = None

    def _started(self) -> None:
        job = self.controller.training
        trainer = job.trainer
        if trainer is None or trainer is self._trainer:
            return                       # the same trainer goes on: its horizon records
        steps = max(1, job.target_step - job.start_step)
        kept = self.horizon
        if kept is None or self._trainer is not None or trainer.step < max(kept.steps,
                                                                            default=0):
            # a new run, or a trainer counting from before the file's last row: a new
            # horizon (the file's rows would be out of order)
            self.horizon = GradientHorizon(every=max(1, steps // 100), budget=BUDGET)
        # (else: the horizon the file kept, continued by this trainer)
        self._trainer = trainer
        self.horizon.budget = BUDGET
        self.horizon.attach(trainer)
        self.changed.emit()

    def _finished(self, _last) -> None:
        exp = self.controller.experiment
        if self.horizon is not None and exp is not None and self.horizon.steps:
            exp.horizon = self.horizon.to_dict()
        self.changed.emit()
