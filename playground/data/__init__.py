"""Data: what a model reads and learns from.

Owns vocabularies (:mod:`.vocab`), batches and datasets (:mod:`.dataset`), binding a batch
to a model's input nodes (:mod:`.bind`), the sequences a user brings, typed or from files
(:mod:`.sources`), the built-in tasks (:mod:`.taskbase`, :mod:`.tasks`,
:mod:`.memory_tasks`, :mod:`.more_tasks`), the ``data`` object of an experiment file
(:mod:`.config`), whether a model fits a dataset (:mod:`.fit`) and the n-gram baseline
(:mod:`.ngram`).

May import: :mod:`playground.errors`, :mod:`playground.schema` and :mod:`playground.model`
(to check a graph against the data). Never :mod:`playground.tracing`, ``train``, ``files``.
"""

from . import memory_tasks, more_tasks, tasks  # noqa: F401  (each registers its tasks by name)
from .bind import bind_inputs
from .config import SOURCES, make_dataset
from .dataset import SHAPE_LABELS, SHAPES, Batch, Dataset, pad, shape_mask
from .fit import check_model, suggest_head, suggest_input
from .taskbase import TASKS, make_task, task_defaults, task_title
from .vocab import LEVELS, Vocab, tokenize

__all__ = ["bind_inputs", "make_dataset", "SOURCES", "SHAPES", "SHAPE_LABELS", "Batch",
           "Dataset", "pad", "shape_mask", "check_model", "suggest_head", "suggest_input",
           "TASKS", "make_task", "task_defaults", "task_title", "LEVELS", "Vocab", "tokenize"]
