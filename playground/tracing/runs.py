"""One recurrent layer-direction being traced: its tensors, and where truncated BPTT cuts.

A :class:`Run` holds the inputs, weights and results of one layer and direction, in run
order (reversed for direction 1). Three paths fill it, with the same results:

* ``"compiled"`` -- the forward pass and backpropagation through time of
  :mod:`playground.tracing.kernels`, compiled (CPU, numba);
* ``"fused"`` -- PyTorch's fused kernel forward (:mod:`playground.tracing.fused`), or with
  interventions the torch loop, and the torch loop's backward (:mod:`playground.tracing.loops`):
  every device, every size;
* ``"stepwise"`` -- a step-by-step autograd unroll (:mod:`playground.tracing.stepwise`), the
  slowest and most literal, for tests and for users who want to compare.

The first two run through :class:`playground.tracing.recurrent.TracedRecurrent`. All of them
honour truncated BPTT: at each window start the state is detached, so no gradient flows back
across it (:func:`chunks`, :func:`cut_masks`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch

from ..model import registry

# Gate letters of each recurrent cell, in weight-block order, as the kinds declare them.
GATES = {k.cell: k.gates for k in registry.kinds() if k.trace == "recurrent"}
GATE_LABELS = {
    "i": "input gate", "f": "forget gate", "g": "candidate (g)", "o": "output gate",
    "r": "reset gate", "z": "update gate", "n": "candidate (n)",
}
# Gates squashed by a sigmoid live in [0, 1]; candidates are tanh, in [-1, 1].
SIGMOID_GATES = ("i", "f", "o", "r", "z")


@dataclass
class Run:
    """Tensors of one layer-direction run, in *run order* (reversed for direction 1)."""

    kind: str
    nonlinearity: str
    x: torch.Tensor                     # (B, T, I) the layer's input
    h0: torch.Tensor                    # (B, H)
    c0: torch.Tensor | None
    weights: tuple                      # (W_ih, W_hh, b_ih | None, b_hh | None)
    cut: np.ndarray                     # (T,) True where the gradient into step t-1 is cut
    keep: np.ndarray                    # (T,) True where gradient flows from step t+1 to t
    backend: str = "compiled"           # "compiled" | "fused" | "stepwise"
    ivs: object = None                  # compiled.IvRecords: interventions, in run order
    start: int = 0                      # first step computed; those before come from `base`
    base: dict | None = None            # run-order arrays of steps < start (h, c, act, pre)
    base_serial: int | None = None      # the record those came from (RecurrentTrace.serial)
    out: torch.Tensor | None = None     # (B, T, H)
    hT: torch.Tensor | None = None
    cT: torch.Tensor | None = None
    probe: torch.Tensor | None = None   # a zero-size input, so that the backward always runs
    arrays: dict = field(default_factory=dict)  # forward: h, pre, act, c / ghn (kernels' layout)
    grads: dict | None = None           # backward: dh, dc, dG, dropped, dh0, dc0
    probe_h: torch.Tensor | None = None  # stepwise: zero probes on h_t, c_t
    probe_c: torch.Tensor | None = None
    gates: dict = field(default_factory=dict)  # stepwise: activations, detached
    pre: dict = field(default_factory=dict)    # stepwise: pre-activations, detached
    c: torch.Tensor | None = None              # stepwise: cell states, detached

    def grad_targets(self) -> list[torch.Tensor]:
        if self.backend == "stepwise":
            return [self.probe_h, self.probe_c]
        return [self.probe]


@functools.lru_cache(maxsize=64)
def cut_masks(T: int, windows: tuple[tuple[int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(cut, keep)`` for these windows: ``cut[t]`` when no gradient flows from step t back
    to step t-1, ``keep[t]`` when gradient flows from step t+1 back to step t. Cached, so
    read-only."""
    cut = np.zeros(T, bool)
    keep = np.ones(T, bool)
    keep[-1] = False  # nothing comes after the last step
    for s, _ in windows[1:]:
        cut[s] = True
        keep[s - 1] = False
    cut.flags.writeable = keep.flags.writeable = False
    return cut, keep


def chunks(T: int, tbptt: int | None) -> list[tuple[int, int]]:
    """Time windows of truncated BPTT (one window when ``tbptt`` is None)."""
    if not tbptt or tbptt >= T:
        return [(0, T)]
    return [(s, min(s + tbptt, T)) for s in range(0, T, tbptt)]
