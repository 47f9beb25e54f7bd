"""The task registry: built-in tasks by name, with a parameter schema and a seed.

``TASKS`` maps a name to ``Task(factory, params, description)``: ``factory(params, seed)``
returns the :class:`~playground.data.dataset.Dataset`, ``params`` is the schema (name, type,
default, range) and ``description`` tells a student what to look at. :func:`make_task` checks
the parameters and builds one. The tasks themselves are declared in
:mod:`playground.data.tasks` and :mod:`playground.data.memory_tasks` with :func:`register`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ..errors import FileFormatError
from ..schema import Param, check_fields
from .dataset import Batch, Dataset


class Task(NamedTuple):
    """A registered task: ``factory(params, seed) -> Dataset``, its parameter schema and the
    text that tells a student what to look at."""

    factory: Callable[..., Dataset]
    params: tuple[Param, ...]
    description: str


TASKS: dict[str, Task] = {}


def register(name: str, params: tuple[Param, ...] = ()):
    """Class decorator: add a :class:`TaskDataset` subclass to :data:`TASKS` under ``name``."""
    def deco(cls):
        cls.name = name
        cls.description = inspect.cleandoc(cls.__doc__ or "")
        cls.schema = params
        TASKS[name] = Task(cls, params, cls.description)
        return cls
    return deco


def task_title(name: str) -> str:
    """The short title of task ``name`` (the first line of its description)."""
    return TASKS[name].description.split("\n", 1)[0].rstrip(".")


def task_defaults(name: str) -> dict[str, Any]:
    """Every parameter of task ``name`` at its default."""
    return {p.name: p.default for p in TASKS[name].params}


def make_task(name: str, params: dict | None = None, seed: int = 0, path: str = "params",
              task_path: str = "task") -> Dataset:
    """Task ``name`` with ``params`` (missing ones at their defaults). A bad name or value
    raises :class:`FileFormatError` naming the field (``data.params.length: ...``)."""
    if name not in TASKS:
        raise FileFormatError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}",
                              task_path)
    full = check_fields(params or {}, TASKS[name].params, path)
    return TASKS[name].factory(full, seed, path)


class TaskDataset(Dataset):
    """Base of the built-in tasks: keeps the checked parameters and the field path used in
    error messages; subclasses implement ``setup`` and ``generate``."""

    schema: tuple[Param, ...] = ()

    def __init__(self, params: dict | None = None, seed: int = 0, path: str = "params"):
        super().__init__(seed)
        full = {p.name: p.default for p in self.schema}
        full.update(params or {})
        self.params = full
        self.path = path
        self.setup()

    def setup(self) -> None:
        pass

    def fail(self, field: str, message: str):
        raise FileFormatError(message, f"{self.path}.{field}")


class WordListTask(TaskDataset):
    """A task over a fixed list of words: samples are words drawn by index, the held-out
    set is every word once, the example is the first. Subclasses build ``_batch(which)``."""

    words: list[str]

    def _batch(self, which) -> Batch:
        raise NotImplementedError

    def generate(self, n, rng):
        return self._batch(rng.integers(0, len(self.words), n))

    def validation(self):
        return self._batch(np.arange(len(self.words)))

    def example(self):
        return self._batch([0])


def _letters(n: int, upper: bool = False) -> list[str]:
    base = ord("A" if upper else "a")
    return [chr(base + i) for i in range(n)]
