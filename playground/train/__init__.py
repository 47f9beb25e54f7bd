"""Training: the engine, its settings, evaluation and generation.

Owns the settings (:mod:`.config`), the trainer with callbacks (:mod:`.trainer`), the
held-out evaluation (:mod:`.evaluate`) and generation from a trained model
(:mod:`.generate`: a prompt read as the task reads it; :mod:`.decoding`: greedy, sampled,
beam and encoder-decoder decoding, free-running, on ids and arrays).

May import: :mod:`playground.errors`, :mod:`playground.model`, :mod:`playground.data`,
:mod:`playground.tracing` (the trainer's live trace). Never ``files`` or ``cli``.
"""

from .config import DEVICES, OPTIMIZERS, TrainConfig
from .evaluate import evaluate
from .generate import free_run, generate_ids, generate_text
from .trainer import (
    EVENTS,
    Snapshot,
    Trainer,
    check_fit,
    detach_state,
    make_optimizer,
    pick_device,
    suggested_threads,
)

__all__ = ["TrainConfig", "OPTIMIZERS", "DEVICES", "evaluate", "free_run", "generate_ids",
           "generate_text", "EVENTS", "Snapshot", "Trainer", "check_fit", "detach_state",
           "make_optimizer", "pick_device", "suggested_threads"]
