"""Interventions: change a gate or a state of a recurrent layer from some step on, and see
what follows. A trace with interventions runs the layers they name step by step
(:mod:`playground.tracing.stepwise`); everything after the step is recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import SequenceError
from ..model import registry


@dataclass(frozen=True)
class Intervention:
    """Change one quantity of a recurrent layer from ``step`` on, for ``span`` steps
    (``None``: to the end).

    ``target`` is a gate letter (``i f g o`` for LSTM, ``r z n`` for GRU) to clamp
    it, or ``h`` / ``c`` to overwrite the state after the step. ``units`` selects
    hidden units (``None``: all). ``step`` is in natural time, for either direction.
    ``call`` picks one call of a module that runs more than once in one forward
    (:func:`playground.inspect`; 0 is the first); ``None`` changes every call. A layer of a
    playground model runs once per trace.
    """

    node: str
    step: int
    target: str
    value: float
    units: tuple[int, ...] | None = None
    layer: int = 0
    direction: int = 0
    span: int | None = 1
    call: int | None = None

    def covers(self, t: int) -> bool:
        return t >= self.step and (self.span is None or t < self.step + self.span)


def check_interventions(model, interventions, T: int) -> None:
    """Raise SequenceError for an intervention that names no recurrent layer of ``model``,
    a gate its kind does not have, a unit or step out of range."""
    for iv in interventions:
        where = f"intervention on '{iv.node}'"
        decl = (registry.get(model.graph.node(iv.node).kind) if iv.node in model.layers
                else None)
        if decl is None or decl.trace != "recurrent":
            raise SequenceError(f"{where}: no recurrent layer has that id")
        rnn = model.layers[iv.node].rnn
        kind = decl.name
        allowed = (*decl.gates, "h", *(("c",) if decl.cell == "lstm" else ()))
        if iv.target not in allowed:
            raise SequenceError(f"{where}: a {kind.upper()} has no '{iv.target}'; choose one "
                                f"of {', '.join(allowed)}")
        if not 0 <= iv.layer < rnn.num_layers:
            raise SequenceError(f"{where}: layer {iv.layer} does not exist "
                                f"({rnn.num_layers} layer(s))")
        if iv.direction not in ((0, 1) if rnn.bidirectional else (0,)):
            raise SequenceError(f"{where}: direction {iv.direction} does not exist")
        if not 0 <= iv.step < T:
            raise SequenceError(f"{where}: step {iv.step} is outside the sequence (0..{T - 1})")
        bad = [u for u in (iv.units or ()) if not 0 <= u < rnn.hidden_size]
        if bad:
            raise SequenceError(f"{where}: unit {bad[0]} does not exist (hidden size "
                                f"{rnn.hidden_size})")
        if iv.value != iv.value:
            raise SequenceError(f"{where}: the value is NaN")
        if iv.call not in (None, 0):
            raise SequenceError(f"{where}: call {iv.call} does not exist (a layer of a "
                                "playground model runs once per trace)")


def apply(ivs: list[Intervention], name: str, value: torch.Tensor) -> torch.Tensor:
    for iv in ivs:
        if iv.target != name:
            continue
        forced = torch.full_like(value, float(iv.value))
        if iv.units is None:
            value = forced
        else:
            m = torch.zeros(value.shape[-1], dtype=torch.bool, device=value.device)
            m[list(iv.units)] = True
            value = torch.where(m, forced, value)
    return value


def records_for(ivs: list[Intervention], kind: str, T: int, H: int, reverse: bool):
    """The interventions of one layer-direction as the kernels read them
    (:class:`playground.tracing.compiled.IvRecords`), steps in run order."""
    from .compiled import IvRecords
    from .kernels import QUANTITIES

    rows = []
    for iv in ivs:
        stop = T if iv.span is None else min(T, iv.step + iv.span)
        lo, hi = (T - stop, T - iv.step) if reverse else (iv.step, stop)
        rows.append((QUANTITIES[kind].index(iv.target), lo, hi, float(iv.value), iv.units))
    return IvRecords.of(rows, H)
