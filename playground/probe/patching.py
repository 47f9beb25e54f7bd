"""Recording a user's own ``nn.Module``: every recurrent module, cell and attention inside
it has its ``forward`` replaced for one call of the model, in a context manager that always
puts the originals back (and PyTorch's attention fast path, which bypasses ``forward``,
off while it runs).
"""

from __future__ import annotations

import contextlib
import functools

import torch
from torch import nn

from ..errors import SequenceError
from .cells import CELLS, attention_forward, cell_forward
from .recurrent import allowed_targets, check_module, recurrent_forward

RECURRENT = (nn.RNN, nn.LSTM, nn.GRU)


class Recording:
    """What one forward pass of the model recorded, and the interventions it applies."""

    def __init__(self, interventions, path: str):
        self.interventions = tuple(interventions)
        self.path = path
        self.recurrent: list = []      # RecurrentCall
        self.cells: dict = {}          # name -> CellSteps
        self.attention: list = []      # AttentionCall
        self.calls: dict[str, int] = {}
        self.used: set = set()         # names whose interventions ran

    def next_call(self, name: str) -> int:
        n = self.calls.get(name, 0)
        self.calls[name] = n + 1
        return n

    def interventions_for(self, name, kind, T, L, D, H, call: int = 0) -> list:
        """The interventions on ``call`` of module ``name`` (checked against its sizes)."""
        mine = [iv for iv in self.interventions if iv.node == name
                and (iv.call is None or iv.call == call)]
        for iv in mine:
            where = f"intervention on '{name}'"
            if iv.target not in allowed_targets(kind):
                raise SequenceError(f"{where}: a {kind.upper()} has no '{iv.target}'; choose "
                                    f"one of {', '.join(allowed_targets(kind))}")
            if not 0 <= iv.layer < L:
                raise SequenceError(f"{where}: layer {iv.layer} does not exist ({L} layer(s))")
            if iv.direction not in range(D):
                raise SequenceError(f"{where}: direction {iv.direction} does not exist")
            if not 0 <= iv.step < T:
                raise SequenceError(f"{where}: step {iv.step} is outside the sequence "
                                    f"(0..{T - 1})")
            bad = [u for u in (iv.units or ()) if not 0 <= u < H]
            if bad:
                raise SequenceError(f"{where}: unit {bad[0]} does not exist (hidden size {H})")
        self.used.add(name)
        return mine


def check_interventions(model: nn.Module, interventions) -> None:
    """An intervention must name a recurrent module or cell of ``model``, and a quantity
    that module has (steps are checked when the module runs)."""
    modules = dict(model.named_modules())
    for iv in interventions:
        m = modules.get(iv.node)
        if not isinstance(m, (*RECURRENT, *CELLS)):
            names = [n for n, x in modules.items() if isinstance(x, (*RECURRENT, *CELLS))]
            raise SequenceError(f"intervention on '{iv.node}': the model has no recurrent "
                                f"module of that name (it has: {', '.join(names) or 'none'})")
        if iv.value != iv.value:
            raise SequenceError(f"intervention on '{iv.node}': the value is NaN")
        if isinstance(m, tuple(CELLS)):
            kind = next(k for c, k in CELLS.items() if isinstance(m, c))
            if iv.target not in allowed_targets(kind):
                raise SequenceError(f"intervention on '{iv.node}': a {kind.upper()} cell has "
                                    f"no '{iv.target}'")
            if iv.layer or iv.direction or iv.step < 0:
                raise SequenceError(f"intervention on '{iv.node}': a cell has one layer, one "
                                    "direction and steps from 0")
            if iv.call is not None:
                raise SequenceError(f"intervention on '{iv.node}': a cell's calls are its "
                                    "steps; choose one with step, not call")
        elif iv.call is not None and iv.call < 0:
            raise SequenceError(f"intervention on '{iv.node}': call {iv.call} does not exist "
                                "(calls count from 0)")


@contextlib.contextmanager
def patched(model: nn.Module, rec: Recording):
    """Inside: the model's recurrent modules, cells and attention record into ``rec``."""
    saved = []
    fast = torch.backends.mha.get_fastpath_enabled()
    try:
        torch.backends.mha.set_fastpath_enabled(False)
        for name, m in model.named_modules():
            if isinstance(m, RECURRENT):
                check_module(name, m)
                fn = functools.partial(recurrent_forward, rec, name, m)
            elif isinstance(m, tuple(CELLS)):
                fn = functools.partial(cell_forward, rec, name, m)
            elif isinstance(m, nn.MultiheadAttention):
                fn = functools.partial(attention_forward, rec, name, m, m.forward)
            elif isinstance(m, nn.RNNBase):
                raise SequenceError(f"{type(m).__name__} '{name}': only nn.RNN, nn.LSTM and "
                                    "nn.GRU (and their subclasses) are supported")
            else:
                continue
            saved.append((m, m.__dict__.get("forward")))
            m.forward = fn
        yield rec
    finally:
        for m, old in reversed(saved):
            if old is None:
                m.__dict__.pop("forward", None)
            else:
                m.forward = old
        torch.backends.mha.set_fastpath_enabled(fast)
