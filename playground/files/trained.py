"""Trained weights and where they came from: the training record kept in the weights file,
the words the app and the gallery show for it, and the reproducible training that makes
the bundled presets' weights.

A weights file (``NAME.weights.pt``) holds either a plain state dict (names -> tensors), as
files written before records existed do, or ``{"state": state dict, "trained": record}``.
A record is plain data, so ``torch.load(weights_only=True)`` reads it::

    {"steps": 300, "seed": 0, "status": "done", "device": "cpu",
     "metrics": {"val_loss": 0.0002, "accuracy": 1.0, "sequence_accuracy": 1.0}}

``steps`` counts optimiser steps from the seed's initialisation (0: untrained);
``status`` is ``done``, ``stopped`` or ``diverged`` (then ``error`` says why); ``metrics``
are :func:`playground.train.evaluate` on the held-out batch at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from ..errors import FileFormatError

UNTRAINED = "untrained"
_PLAIN = (str, int, float, bool, type(None))


def make_record(steps: int, seed: int, metrics: dict[str, Any] | None = None,
                status: str = "done", device: str = "cpu", error: str | None = None) -> dict:
    """A training record (see the module doc); metrics that are None or not finite are left
    out, since they say nothing."""
    rec: dict[str, Any] = {"steps": int(steps), "seed": int(seed), "status": str(status),
                           "device": str(device),
                           "metrics": {k: float(v) for k, v in (metrics or {}).items()
                                       if isinstance(v, (int, float)) and math.isfinite(v)}}
    if error:
        rec["error"] = str(error)
    return rec


def record_of(trainer, last=None, before: int = 0) -> dict:
    """The record of the weights ``trainer`` has now: its steps (plus ``before`` steps the
    model had been trained when the trainer took it), its seed, the status of ``last`` (the
    last snapshot) and its held-out metrics."""
    status = "done" if last is None else last.status
    return make_record(before + trainer.step, trainer.config.seed, trainer.evaluate(),
                       status, trainer.device.type,
                       getattr(last, "error", None) if status == "diverged" else None)


def check_record(value: Any, file: str) -> dict:
    """``value`` if it is a record (plain data, ``steps`` an integer >= 0), else
    FileFormatError naming ``file``."""
    def plain(v, depth=0):
        if isinstance(v, dict):
            return depth < 3 and all(isinstance(k, str) and plain(x, depth + 1)
                                     for k, x in v.items())
        return isinstance(v, _PLAIN)

    steps = value.get("steps") if isinstance(value, dict) else None
    if not plain(value) or isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise FileFormatError("the training record beside the weights is not plain data "
                              "with a number of steps", file=file)
    return value


def nonfinite_weights(state: dict | None) -> str | None:
    """What is wrong when weights hold NaN or infinite values (a run that diverged and was
    saved, a damaged file): a sentence naming the tensors, or None when all are finite."""
    if not state:
        return None
    import torch

    bad = []
    for name, t in state.items():
        if isinstance(t, torch.Tensor) and t.is_floating_point():
            n = int((~torch.isfinite(t)).sum())
            if n:
                bad.append(f"{name} ({n:,} of {t.numel():,} values)")
    if not bad:
        return None
    more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
    return ("the weights hold NaN or infinite values in " + ", ".join(bad[:3]) + more +
            ": every output will be NaN; use the untrained weights or train again")


def _number(v: float) -> str:
    return f"{v:.3g}" if abs(v) >= 0.01 else f"{v:.2g}"


def describe(record: dict | None, here: int = 0, short: bool = False) -> str:
    """The state of a model's weights in words: ``trained: 300 steps, accuracy 1.0,
    validation loss 0.0002`` (``short``: without the metrics); ``trained here: ...`` when
    ``here`` of its steps ran in this session; ``untrained``; a record of ``None`` is
    trained weights with no record."""
    if record is None:
        if here:
            return f"trained here: {here} more {'step' if here == 1 else 'steps'} (on weights " \
                   "with no record of their training)"
        return "trained weights (no record of their training)"
    steps = int(record.get("steps", 0))
    if steps == 0:
        return UNTRAINED
    n = "step" if steps == 1 else "steps"
    if here and here < steps:
        head = f"trained here: {here} more {'step' if here == 1 else 'steps'} ({steps} in all)"
    else:
        head = f"trained{' here' if here else ''}: {steps} {n}"
    if record.get("status") == "diverged":
        head += ", then diverged" + ("" if short else " (the last good weights are kept)")
    if short:
        return head
    m = record.get("metrics") or {}
    parts = []
    if "accuracy" in m:
        parts.append(f"accuracy {round(m['accuracy'], 3)}")
        if "val_loss" in m:
            parts.append(f"validation loss {_number(m['val_loss'])}")
    elif "val_loss" in m:
        parts.append(f"validation MSE {_number(m['val_loss'])}")
    return ", ".join([head, *parts])


@dataclass
class WeightsChoice:
    """Which weights a window's model has: the trained ones (``state``, a state dict on the
    CPU, with its ``record``; ``here`` of its steps ran in this session) or the seed's
    untrained initialisation; ``shown`` says which. ``base`` and ``base_here`` are the steps
    the model had (None: not known), and those of them run here, when its current trainer
    took it; ``edited`` describes weights that an edit of the model rebuilt after training
    (then there is nothing to switch to)."""

    state: dict | None = None
    record: dict | None = None
    here: int = 0
    shown: bool = False
    base: int | None = 0
    base_here: int = 0
    edited: str = ""

    @classmethod
    def of(cls, exp) -> WeightsChoice:
        """The weights ``exp`` (an Experiment, or None) opens with."""
        if exp is None or exp.weights is None or (exp.trained or {}).get("steps", 1) == 0:
            return cls()
        return cls(exp.weights, exp.trained, shown=True,
                   base=None if exp.trained is None else exp.trained["steps"])

    @property
    def can_switch(self) -> bool:
        return self.state is not None

    def label(self) -> str:
        if self.edited:
            return self.edited
        return describe(self.record, self.here) if self.shown else UNTRAINED

    def switched(self, on: bool) -> WeightsChoice:
        """The same choice with the trained weights shown (``on``) or not."""
        base = (None if self.record is None else self.record["steps"]) if on else 0
        return replace(self, shown=bool(on), base=base, base_here=self.here if on else 0)

    def after_training(self, trainer, last) -> WeightsChoice:
        """What ``trainer`` (which took the model with :attr:`base` steps) made of it."""
        record = None if self.base is None else record_of(trainer, last, self.base)
        state = {k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()}
        return WeightsChoice(state, record, self.base_here + trainer.step, True, self.base,
                             self.base_here)

    def after_edit(self, reinitialised: list[str]) -> WeightsChoice:
        """An edit rebuilt the model, keeping the weights of the layers it did not change."""
        if not (self.shown or self.edited):
            return WeightsChoice()
        what = (f"{', '.join(reinitialised)} start{'s' if len(reinitialised) == 1 else ''} "
                "untrained") if reinitialised else "the trained weights were kept"
        return WeightsChoice(base=None, edited=f"trained, then edited: {what}")

    def to_save(self, seed: int = 0) -> tuple[dict | None, dict | None]:
        """``(state, record)`` a save writes: the trained weights when the untrained ones are
        on view (the switch is only a view), else ``(None, record)``: the model's weights
        with their record (None when not known)."""
        if self.state is not None and not self.shown:
            return self.state, self.record
        if self.edited:
            return None, None
        return None, (self.record if self.shown else make_record(0, seed, status="untrained"))


def train_reproducibly(exp, progress=None):
    """Train ``exp`` from its seed's initialisation with its own settings, on the CPU in one
    thread, so that the same file gives the same weights bit for bit (the bundled presets'
    weights are made this way). ``progress`` is an ``on_step_end`` callback. Returns the
    trainer, its last snapshot and the record of its weights."""
    import torch

    from ..train.trainer import Trainer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = Trainer(exp.build_model(weights=False), exp.make_dataset(), exp.train,
                          device="cpu")
        if progress is not None:
            trainer.add_callback("on_step_end", progress)
        last = trainer.run(exp.train.steps)
        return trainer, last, record_of(trainer, last)
    finally:
        torch.set_num_threads(threads)
