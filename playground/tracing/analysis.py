"""Why gradients vanish or explode: step Jacobians and recurrent singular values.

Backpropagation through time multiplies the gradient by ``(dh_t/dh_{t-1})^T`` once
per step. If those Jacobians have norms below 1 the gradient vanishes
geometrically; above 1 it explodes. Computed on demand (they cost an SVD per step).

* RNN: ``dh_t/dh_{t-1} = diag(act'(pre_t)) W_hh``.
* LSTM (``c_{t-1}`` held fixed): ``diag(o (1 - tanh^2 c_t)) [diag(c_{t-1} f') W_hf +
  diag(g i') W_hi + diag(i g') W_hg] + diag(tanh(c_t) o') W_ho``; along the cell path
  ``dc_t/dc_{t-1} = diag(f_t)``, the additive path that lets gradients survive.
* GRU: ``diag(z) + diag((h_{t-1} - n) z') W_hz + diag((1 - z)(1 - n^2))
  [diag(r) W_hn + diag((W_hn h_{t-1} + b_hn) r') W_hr]``.

(``s'`` is the derivative of the gate's squashing function.)
"""

from __future__ import annotations

import numpy as np
import torch

from ..model import registry
from .records import RecurrentTrace
from .runs import GATES


def recurrent_weights(model, node: str, layer: int = 0, direction: int = 0):
    """``(W_ih, W_hh, b_ih, b_hh)`` of one layer as float64 numpy (biases may be None)."""
    rnn = model.layers[node].rnn
    sfx = f"_l{layer}" + ("_reverse" if direction else "")

    def get(name):
        w = getattr(rnn, name + sfx, None)
        return None if w is None else w.detach().cpu().double().numpy()

    return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")


def recurrent_singular_values(model, node: str, layer: int = 0,
                              direction: int = 0) -> dict[str, np.ndarray]:
    """Singular values of W_hh, per gate block for LSTM/GRU (``{"i": ..., "f": ...}``),
    ``{"W_hh": ...}`` for an RNN. The largest one bounds how much a step can amplify."""
    cell = registry.kind_of(model.graph.node(node).kind).cell
    W_hh = recurrent_weights(model, node, layer, direction)[1]
    H = W_hh.shape[1]
    names = GATES.get(cell)
    if not names:
        return {"W_hh": np.linalg.svd(W_hh, compute_uv=False)}
    return {k: np.linalg.svd(W_hh[j * H:(j + 1) * H], compute_uv=False)
            for j, k in enumerate(names)}


def step_jacobians(model, rec: RecurrentTrace, batch: int = 0,
                   steps: np.ndarray | None = None) -> np.ndarray:
    """``(len(steps), H, H)`` Jacobians ``dh_t/dh_{t-1}`` of one sequence of the trace."""
    T = rec.h.shape[1]
    steps = np.arange(T) if steps is None else np.asarray(steps)
    _, W_hh, _, b_hh = recurrent_weights(model, rec.node, rec.layer, rec.direction)
    H = W_hh.shape[1]
    h = rec.h[batch].astype(np.float64)
    h0 = rec.h0[batch].astype(np.float64)
    prev_of = (lambda t: h0 if t == 0 else h[t - 1]) if rec.direction == 0 else (
        lambda t: h0 if t == T - 1 else h[t + 1])
    h_prev = np.stack([prev_of(int(t)) for t in steps])          # (S, H)
    g = {k: v[batch, steps].astype(np.float64) for k, v in rec.gates.items()}
    blk = {k: W_hh[j * H:(j + 1) * H] for j, k in enumerate(
        GATES.get(rec.kind, ()))}

    def rows(scale, W):  # diag(scale) @ W for each step: (S, H, H); W (H, H) or (S, H, H)
        return scale[:, :, None] * (W[None] if W.ndim == 2 else W)

    if rec.kind == "rnn":
        pre = rec.pre["pre"][batch, steps].astype(np.float64)
        d = (1 - np.tanh(pre) ** 2) if rec.nonlinearity == "tanh" else (pre > 0).astype(float)
        return rows(d, W_hh)
    if rec.kind == "lstm":
        c = rec.c[batch].astype(np.float64)
        c0 = rec.c0[batch].astype(np.float64)
        c_prev = np.stack([(c0 if t == 0 else c[t - 1]) if rec.direction == 0 else
                           (c0 if t == T - 1 else c[t + 1]) for t in steps])
        tc = np.tanh(c[steps])
        i, f, gg, o = g["i"], g["f"], g["g"], g["o"]
        dc = (rows(c_prev * f * (1 - f), blk["f"]) + rows(gg * i * (1 - i), blk["i"])
              + rows(i * (1 - gg ** 2), blk["g"]))
        return rows(o * (1 - tc ** 2), dc) + rows(tc * o * (1 - o), blk["o"])
    r, z, n = g["r"], g["z"], g["n"]
    b_hn = b_hh[2 * H:] if b_hh is not None else 0.0
    hn = h_prev @ blk["n"].T + b_hn
    eye = np.broadcast_to(np.eye(H), (len(steps), H, H))
    inner = rows(r, blk["n"]) + rows(hn * r * (1 - r), blk["r"])
    return (eye * z[:, None, :].transpose(0, 2, 1) + rows((h_prev - n) * z * (1 - z), blk["z"])
            + rows((1 - z) * (1 - n ** 2), inner))


def jacobian_norms(model, rec: RecurrentTrace, batch: int = 0, ord: int | str = 2,
                   steps: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-step norms: ``"h"`` of dh_t/dh_{t-1} (spectral by default, ``ord="fro"`` is
    cheaper), and for LSTM ``"c"`` = max_j f_t[j], the norm of dc_t/dc_{t-1} = diag(f_t)."""
    J = torch.from_numpy(np.ascontiguousarray(step_jacobians(model, rec, batch, steps)))
    out = {"h": torch.linalg.matrix_norm(J, ord=ord).numpy()}
    if rec.kind == "lstm":
        f = rec.gates["f"][batch]
        out["c"] = (f if steps is None else f[np.asarray(steps)]).max(-1).astype(np.float64)
    return out
