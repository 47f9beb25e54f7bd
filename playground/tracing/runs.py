"""One recurrent layer-direction being traced: its tensors, and where truncated BPTT cuts.

A :class:`Run` holds the inputs, weights and results of one layer and direction, in run
order (reversed for direction 1). Three paths fill it, with the same results:

* :func:`playground.tracing.fused.run_fused` -- PyTorch's fused kernel, plus extra zero
  inputs whose gradient is the per-step recurrent gradient (every device, every cell);
* :func:`playground.tracing.compiled.run_compiled` -- an LSTM with its own compiled
  backpropagation through time (CPU, numba);
* :func:`playground.tracing.stepwise.run_stepwise` -- a step-by-step Python unroll, for
  interventions (clamp a gate, edit a state at some step).

All of them honour truncated BPTT: at each window start the state is detached, so no
gradient flows back across it (:func:`chunks`, :func:`cut_masks`).
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
    out: torch.Tensor | None = None     # (B, T, H)
    hT: torch.Tensor | None = None
    cT: torch.Tensor | None = None
    extra: torch.Tensor | None = None   # fused: zero inputs whose grad is the recurrent part
    w_cat: torch.Tensor | None = None   # fused: the kernel's input weights, [W_ih | extra weight]
    probe_h: torch.Tensor | None = None  # unrolled: zero probes on h_t, c_t
    probe_c: torch.Tensor | None = None
    gates: dict = field(default_factory=dict)  # unrolled: activations, detached
    pre: dict = field(default_factory=dict)    # unrolled: pre-activations, detached
    c: torch.Tensor | None = None              # unrolled: cell states, detached
    # compiled LSTM (trace.compiled): gates, pre and c above are numpy, and its backward
    # leaves the per-step gradients here
    compiled: bool = False
    probe: torch.Tensor | None = None   # a zero-size input, so that the backward always runs
    dh: np.ndarray | None = None
    dc: np.ndarray | None = None
    dh_dropped: np.ndarray | None = None

    def grad_targets(self) -> list[torch.Tensor]:
        if self.compiled:
            return [self.probe]
        if self.extra is not None:
            return [self.out, self.hT, self.cT, self.extra]
        return [self.probe_h, self.probe_c]


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
