"""What a trace records of one recurrent layer-direction, from its :class:`~.runs.Run`:
gates and pre-activations by letter, states, and the per-step gradients, as numpy arrays
in run order (the tracer flips a reverse direction back to natural time).
"""

from __future__ import annotations

import numpy as np
import torch

from .runs import GATES, Run


def _np(t: torch.Tensor | None) -> np.ndarray | None:
    """A tensor's values as numpy (a view when it is on the CPU). A trace converts a few
    dozen tensors, so the usual case skips the no-op ``detach()`` and ``cpu()`` calls."""
    if t is None:
        return None
    if t.requires_grad:
        t = t.detach()
    return t.numpy() if t.is_cpu else t.cpu().numpy()


def _letters(a: np.ndarray, letters: str) -> dict[str, np.ndarray]:
    """Views of a ``(B, T, nH)`` array, one per letter."""
    H = a.shape[-1] // len(letters)
    return {k: a[..., j * H:(j + 1) * H] for j, k in enumerate(letters)}


def forward_quantities(run: Run) -> dict:
    """``h``, gates (activations and pre-activations by letter) and LSTM cell states."""
    if run.backend == "stepwise":   # the unroll recorded them as it went
        return {"h": _np(run.out), "gates": {k: _np(v) for k, v in run.gates.items()},
                "pre": {k: _np(v) for k, v in run.pre.items()}, "c": _np(run.c)}
    a = {k: _np(v) for k, v in run.arrays.items()}
    letters = "".join(GATES[run.kind])
    if not letters:   # a plain RNN: one pre-activation, no gates
        return {"h": a["h"], "gates": {}, "pre": {"pre": a["pre"]}, "c": None}
    return {"h": a["h"], "gates": _letters(a["act"], letters), "pre": _letters(a["pre"], letters),
            "c": a.get("c")}


def gradient_quantities(run: Run, grads: list) -> dict:
    """Total dL/dh_t, dL/dc_t and the gradient truncated BPTT dropped.

    ``grads``: numpy gradients of :meth:`Run.grad_targets` (zeros where the loss does not
    reach, None for a target the run does not have)."""
    if run.backend == "stepwise":
        dh, dc = grads
        return {"dh": dh, "dc": dc if run.kind == "lstm" else None, "dh_dropped": None}
    if run.grads is None:   # the loss does not reach this layer
        h = _np(run.arrays["h"])
        return {"dh": np.zeros_like(h), "dc": np.zeros_like(h) if run.kind == "lstm" else None,
                "dh_dropped": None}
    g = run.grads
    return {"dh": _np(g["dh"]), "dc": _np(g["dc"]), "dh_dropped": _np(g["dropped"])}


def flip_time(a):
    """A reverse direction's arrays (batch, time, ...) in natural time order (dicts of them
    too; None stays None)."""
    if a is None:
        return None
    if isinstance(a, dict):
        return {k: flip_time(v) for k, v in a.items()}
    return np.ascontiguousarray(a[:, ::-1])
