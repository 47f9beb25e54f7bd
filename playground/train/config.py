"""Training settings, as a frozen dataclass checked field by field."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import FileFormatError
from ..model.build import INIT_SCHEMES
from .schedule import SCHEDULES

OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad")
DEVICES = ("auto", "cpu", "cuda", "mps")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(float(v)))


MAX_STEPS = 10_000_000   # days of training at the slowest preset's pace
MAX_BATCH = 4096   # sequences per step; more is never needed here and costs minutes a step

# field -> (check, what it must be). ``None`` is allowed where the default is None.
_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "optimizer": (lambda v: v in OPTIMIZERS, f"must be one of {', '.join(OPTIMIZERS)}"),
    "lr": (lambda v: _is_num(v) and v > 0, "must be a positive number"),
    "momentum": (lambda v: _is_num(v) and 0 <= v < 1, "must be a number in [0, 1)"),
    "batch_size": (lambda v: _is_int(v) and 1 <= v <= MAX_BATCH,
                   f"must be an integer from 1 to {MAX_BATCH}"),
    "steps": (lambda v: _is_int(v) and 0 <= v <= MAX_STEPS,
              f"must be an integer from 0 to {MAX_STEPS:,}"),
    "clip_norm": (lambda v: v is None or (_is_num(v) and v > 0),
                  "must be a positive number or null (no clipping)"),
    "tbptt": (lambda v: v is None or (_is_int(v) and v >= 1),
              "must be a positive integer or null (full BPTT)"),
    "init": (lambda v: v in INIT_SCHEMES, f"must be one of {', '.join(INIT_SCHEMES)}"),
    "init_scale": (lambda v: _is_num(v) and v > 0, "must be a positive number"),
    "seed": (lambda v: _is_int(v) and v >= 0, "must be an integer >= 0"),
    "device": (lambda v: v in DEVICES, f"must be one of {', '.join(DEVICES)}"),
    "val_every": (lambda v: _is_int(v) and v >= 0, "must be an integer >= 0 (0: never)"),
    "trace_every": (lambda v: _is_int(v) and v >= 0, "must be an integer >= 0 (0: never)"),
    "explode_threshold": (lambda v: v is None or (_is_num(v) and v > 0),
                          "must be a positive number or null (off)"),
    "schedule": (lambda v: v in SCHEDULES, f"must be one of {', '.join(SCHEDULES)}"),
    "warmup": (lambda v: _is_int(v) and v >= 0, "must be an integer >= 0 (0: no warm-up)"),
    "step_every": (lambda v: _is_int(v) and v >= 1, "must be a positive integer"),
    "step_factor": (lambda v: _is_num(v) and 0 < v <= 1, "must be a number in (0, 1]"),
    "forget_bias": (lambda v: v is None or (_is_num(v) and abs(v) <= 100),
                    "must be a number between -100 and 100, or null (the init's own)"),
}


@dataclass(frozen=True)
class TrainConfig:
    """Training settings. ``init`` / ``init_scale`` pick the weight initialisation applied when
    the model is built (:func:`playground.model.build.initialize`); ``explode_threshold`` stops
    training when ``||g||`` exceeds it (only without clipping: clipping is the cure);
    ``val_every`` / ``trace_every`` are in steps (0: never). ``schedule``, ``warmup``,
    ``step_every`` and ``step_factor`` shape the learning rate over the run
    (:mod:`playground.train.schedule`); ``forget_bias`` sets an LSTM's forget-gate bias when
    the model is built (1.0 is the usual choice: Gers et al. 2000, Jozefowicz et al. 2015)."""

    optimizer: str = "adam"
    lr: float = 0.01
    momentum: float = 0.0
    batch_size: int = 32
    steps: int = 500
    clip_norm: float | None = None
    tbptt: int | None = None
    init: str = "default"
    init_scale: float = 1.0
    seed: int = 0
    device: str = "auto"
    val_every: int = 50
    trace_every: int = 0
    explode_threshold: float | None = 1e6
    schedule: str = "constant"
    warmup: int = 0
    step_every: int = 1000
    step_factor: float = 0.5
    forget_bias: float | None = None

    def __post_init__(self) -> None:
        for name, (ok, what) in _CHECKS.items():
            value = getattr(self, name)
            if not ok(value):
                raise ValueError(f"{name}: {what}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, path: str = "train") -> TrainConfig:
        """Parse plain data; a bad field raises FileFormatError naming ``path.field``."""
        if not isinstance(data, dict):
            raise FileFormatError(f"must be an object, got {type(data).__name__}", path)
        names = [f.name for f in fields(cls)]
        for key in data:
            if key not in names:
                raise FileFormatError(f"unknown setting; expected one of {', '.join(names)}",
                                      f"{path}.{key}")
        for key, value in data.items():
            ok, what = _CHECKS[key]
            if not ok(value):
                raise FileFormatError(f"{what}, got {value!r}", f"{path}.{key}")
        return cls(**data)
