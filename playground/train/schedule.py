"""Learning-rate schedules: the factor the configured rate is multiplied by at each step.

* ``constant``: 1;
* ``step``: ``step_factor`` once every ``step_every`` steps (e.g. halved every 1500 steps,
  as the adding problem is usually trained);
* ``cosine``: from 1 down to 0 along half a cosine over the run's ``steps``;

each after an optional linear warm-up from ``1/warmup`` to 1 over the first ``warmup``
steps. The schedules of the same names in :mod:`torch.optim.lr_scheduler` (``StepLR``,
``CosineAnnealingLR``, ``LinearLR``) give the same rates; the tests check that.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "step", "cosine")


def lr_factor(config, step: int) -> float:
    """The factor for optimiser step ``step`` (0 for the first) under ``config``
    (a :class:`playground.train.config.TrainConfig`)."""
    warm = config.warmup
    if warm and step < warm:
        return (step + 1) / warm
    s = step - warm
    if config.schedule == "step":
        return config.step_factor ** (s // config.step_every)
    if config.schedule == "cosine":
        span = max(1, config.steps - warm)
        return 0.5 * (1.0 + math.cos(math.pi * min(s, span) / span))
    return 1.0
