"""The hidden states of a few validation sequences, to compare with the traced one.

:func:`validation_states` takes a model and its dataset (anything with ``validation()``
returning a batch: ``inputs`` by role, ``targets``, ``mask``, ``row(i)``), keeps up to
``limit`` sequences of its validation batch, each cut to its own length (the steps up to
its last one that carries loss: padding left out) and to at most ``max_steps`` steps, and
runs each through :func:`~playground.tracing.trace` without gradients. Its states are
therefore exactly what a trace of that sequence alone shows (:meth:`ValidationStates.rows`
gives the sequence as a batch of one, to trace it): sequences of one length are traced
together in one batch, which changes nothing since sequences never see each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..data import bind_inputs
from ..tracing import trace
from ..tracing.records import RecurrentTrace, record_key

LIMIT = 16          # validation sequences kept
MAX_STEPS = 400     # steps kept of each


@dataclass
class ValidationStates:
    """``h`` of each recurrent record (key: :func:`~playground.tracing.records.record_key`,
    ``(node, layer, direction[, call])``) for validation sequences ``indices`` (rows of the
    dataset's validation batch): ``states[key][i]`` is the ``(T_i, H)`` states of sequence
    ``indices[i]`` (``T_i``: the steps that record ran, ``lengths[i]`` where they are the
    mask's); ``rows[i]`` is that sequence as the batch of one that was traced, cut to
    ``lengths[i]`` steps."""

    indices: tuple[int, ...] = ()
    lengths: tuple[int, ...] = ()
    rows: tuple = ()
    states: dict[tuple, list[np.ndarray]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.indices)

    def of(self, rec: RecurrentTrace | tuple) -> list[np.ndarray]:
        """The ``(T_i, H)`` states of every sequence for ``rec`` (a record or its key);
        ``[]`` when no validation sequence has that record."""
        key = rec if isinstance(rec, tuple) else record_key(rec)
        return self.states.get(tuple(key), [])

    def besides(self, rec: RecurrentTrace | tuple, h) -> tuple[list[int], list[np.ndarray]]:
        """``(positions, states)`` of :meth:`of` ``rec`` without copies of the traced
        sequence's own ``h (T, H)`` (its example may be a validation sequence): those to
        draw and search beside it. Positions index :attr:`indices` and :attr:`rows`."""
        h = np.asarray(h)
        keep = [(i, o) for i, o in enumerate(self.of(rec)) if o.shape[-1] == h.shape[-1]
                and not (o.shape == h.shape and np.allclose(o, h, rtol=1e-5, atol=1e-6))]
        return [i for i, _ in keep], [o for _, o in keep]

    def padded(self, rec: RecurrentTrace | tuple) -> np.ndarray:
        """``(B, T_max, H)`` states of ``rec``, batch-first, NaN past each sequence's end."""
        hs = self.of(rec)
        if not hs:
            return np.zeros((0, 0, 0))
        T, H = max(len(h) for h in hs), hs[0].shape[1]
        out = np.full((len(hs), T, H), np.nan)
        for i, h in enumerate(hs):
            out[i, :len(h)] = h
        return out


def valid_length(mask_row, steps: int) -> int:
    """Steps up to the last one that carries loss (all ``steps`` when none does)."""
    on = np.nonzero(np.asarray(mask_row) > 0)[0]
    return int(on[-1]) + 1 if on.size else int(steps)


def cut_row(batch, i: int, max_steps: int = MAX_STEPS, aligned: bool = True):
    """Sequence ``i`` of ``batch`` as a batch of one, cut to its length and ``max_steps``,
    and that length. ``aligned``: the inputs' steps are the mask's; otherwise (an
    encoder-decoder's source and target) nothing is cut."""
    row = batch.row(i)
    T = int(np.shape(row.mask)[1])
    if not aligned:
        return row, T
    n = min(valid_length(row.mask[0], T), int(max_steps))
    if n >= T:
        return row, T

    def cut(a):
        a = np.asarray(a)
        return a[:, :n] if a.ndim >= 2 and a.shape[1] == T else a

    return type(row)({r: cut(x) for r, x in row.inputs.items()}, cut(row.targets),
                     cut(row.mask)), n


def _stack(rows: list, model) -> dict:
    per = [bind_inputs(model, r) for r in rows]
    return {k: torch.cat([p[k] for p in per]) for k in per[0]}


def states_of(model, rows: list, should_stop: Callable[[], bool] | None = None
              ) -> dict[tuple, list[np.ndarray]] | None:
    """``{record key: [(T_i, H) h of rows[i]]}`` for batches of one ``rows``, by
    :func:`trace` with no gradients (rows of one shape traced together); None when
    ``should_stop()`` turned true between traces."""
    out: dict[tuple, list] = {}
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        shape = tuple(np.shape(x) for _, x in sorted(r.inputs.items()))
        groups.setdefault(shape, []).append(i)
    got: dict[int, dict[tuple, np.ndarray]] = {i: {} for i in range(len(rows))}
    with torch.inference_mode():
        for members in groups.values():
            if should_stop is not None and should_stop():
                return None
            tr = trace(model, _stack([rows[i] for i in members], model))
            for rec in tr.layers:
                if isinstance(rec, RecurrentTrace):
                    for b, i in enumerate(members):
                        got[i][record_key(rec)] = np.array(rec.h[b])
    for i in range(len(rows)):
        for key, h in got[i].items():
            out.setdefault(key, []).append(h)
    return out


def validation_states(model, dataset, limit: int = LIMIT, max_steps: int = MAX_STEPS,
                      should_stop: Callable[[], bool] | None = None) -> ValidationStates | None:
    """The first ``limit`` sequences of ``dataset.validation()`` and their hidden states
    (see the module docstring); None when ``should_stop()`` turned true."""
    batch = dataset.validation()
    n = min(int(limit), int(np.shape(batch.mask)[0]))
    aligned = getattr(dataset, "shape", "") != "seq2seq"
    cut = [cut_row(batch, i, max_steps, aligned) for i in range(n)]
    rows = [r for r, _ in cut]
    states = states_of(model, rows, should_stop) if rows else {}
    if states is None:
        return None
    return ValidationStates(tuple(range(n)), tuple(int(t) for _, t in cut), tuple(rows),
                            states)
