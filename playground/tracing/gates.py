"""Gates, cell states and per-step gradients of a recurrent layer after a fused run.

The fused kernel returns only ``h_t``. Everything else follows exactly:

* gate pre-activations for all steps at once, from the known ``h_{t-1}``:
  ``pre = x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh`` (one matrix product);
* LSTM cell states by the elementwise scan ``c_t = f_t c_{t-1} + i_t g_t``;
* the total ``dL/dh_t = dL/dy_t + (recurrent part from step t+1)``, where the
  recurrent part is the gradient of the zero-valued extra inputs (see
  :mod:`playground.tracing.fused`), cut at truncated-BPTT window starts;
* LSTM ``dL/dc_t = dL/dh_t o_t (1 - tanh^2 c_t) + f_{t+1} dL/dc_{t+1}`` by a backward scan;
  GRU ``dL/dh_t`` by ``... + z_{t+1} dL/dh_{t+1}``, its direct path.

:func:`forward_quantities` needs only the forward pass; :func:`gradient_quantities`
takes the gradients too. The scans are in :mod:`playground.tracing.scan`. An LSTM traced with
the compiled BPTT of :mod:`playground.tracing.compiled` records all of this itself; the two
functions hand its results on.
"""

from __future__ import annotations

import numpy as np
import torch

from .runs import Run
from .scan import scan


def _np(t: torch.Tensor | None) -> np.ndarray | None:
    """A tensor's values as numpy (a view when it is on the CPU). A trace converts a few
    dozen tensors, so the usual case skips the no-op ``detach()`` and ``cpu()`` calls."""
    if t is None:
        return None
    if t.requires_grad:
        t = t.detach()
    return t.numpy() if t.is_cpu else t.cpu().numpy()


def _next(a: np.ndarray) -> np.ndarray:
    """``a[:, t+1]`` at position t, zero at the last step."""
    out = np.zeros_like(a)
    out[:, :-1] = a[:, 1:]
    return out


def lstm_activations(x: torch.Tensor, h_prev: torch.Tensor, w_cat: torch.Tensor,
                     b_ih: torch.Tensor | None, b_hh: torch.Tensor | None):
    """Pre-activations and activations ``[i f g o]`` of an LSTM at every step, as numpy
    ``(B, T, 4H)``: ``pre = [x_t, h_{t-1}] [W_ih | W_hh]^T + b`` (one matrix product),
    sigmoid for i, f, o and tanh for g. Operands must not require grad."""
    B, T, _ = x.shape
    H4 = w_cat.shape[0]
    H = H4 // 4
    xh = torch.cat([x, h_prev], -1).view(B * T, -1)
    bias = b_ih.detach() + b_hh.detach() if b_ih is not None else xh.new_zeros(H4)
    pre = torch.addmm(bias, xh, w_cat.t())  # (B*T, 4H)
    act = torch.sigmoid(pre)
    g = slice(2 * H, 3 * H)
    torch.tanh(pre[:, g], out=act[:, g])
    return pre.cpu().numpy().reshape(B, T, H4), act.cpu().numpy().reshape(B, T, H4)


def lstm_cell_states(gates: dict[str, np.ndarray], c0: np.ndarray) -> np.ndarray:
    """``c_t = f_t c_{t-1} + i_t g_t`` for every step, from ``c0 (B, H)``."""
    return scan(gates["f"], gates["i"] * gates["g"], c0, reverse=False)


def lstm_gate_views(a: np.ndarray) -> dict[str, np.ndarray]:
    """``{"i", "f", "g", "o"}`` views of a ``(B, T, 4H)`` array."""
    H = a.shape[-1] // 4
    return {k: a[..., j * H:(j + 1) * H] for j, k in enumerate("ifgo")}


def forward_quantities(run: Run) -> dict:
    """Gates (activations and pre-activations) and LSTM cell states, in run order."""
    if run.compiled:  # recorded by the compiled LSTM's forward, already numpy
        return {"gates": run.gates, "pre": run.pre, "c": run.c}
    if run.extra is None:  # the unrolled path recorded them as it went
        return {"gates": {k: _np(v) for k, v in run.gates.items()},
                "pre": {k: _np(v) for k, v in run.pre.items()}, "c": _np(run.c)}
    W_ih, W_hh, b_ih, b_hh = run.weights
    keep = run.keep
    # Every operand is detached, so nothing below is recorded by autograd.
    out = run.out.detach()
    B, T, H = out.shape
    hp = torch.cat([run.h0.detach().unsqueeze(1), out[:, :-1]], 1)  # (B, T, H): h_{t-1}
    if run.kind == "lstm":
        pre_np, act_np = lstm_activations(run.x.detach(), hp, run.w_cat, b_ih, b_hh)
        gates, pres = lstm_gate_views(act_np), lstm_gate_views(pre_np)
        c = lstm_cell_states(gates, _np(run.c0))
        tanh_c = np.tanh(c)
        # Coefficients of the backward scan for dL/dc_t.
        coef = gates["o"] * (1.0 - tanh_c * tanh_c)
        decay = keep[None, :, None] * _next(gates["f"])
        return {"gates": gates, "pre": pres, "c": c, "_coef": coef, "_decay": decay}
    x2 = run.x.detach().reshape(B * T, -1)
    hp2 = hp.reshape(B * T, H)
    W_ih, W_hh = W_ih.detach(), W_hh.detach()
    gi = x2 @ W_ih.t()  # (B*T, G)
    if b_ih is not None:
        gi += b_ih.detach()
    gh = hp2 @ W_hh.t()
    if b_hh is not None:
        gh += b_hh.detach()
    if run.kind == "gru":
        p_rz = gi[:, :2 * H] + gh[:, :2 * H]
        rz = torch.sigmoid(p_rz)
        r = rz[:, :H]
        p_n = gi[:, 2 * H:] + r * gh[:, 2 * H:]
        n = torch.tanh(p_n)
        rz_np = rz.view(B, T, 2 * H).cpu().numpy()
        prz_np = p_rz.view(B, T, 2 * H).cpu().numpy()
        return {"gates": {"r": rz_np[..., :H], "z": rz_np[..., H:],
                          "n": _np(n.view(B, T, H))},
                "pre": {"r": prz_np[..., :H], "z": prz_np[..., H:],
                        "n": _np(p_n.view(B, T, H))},
                "c": None,
                "_decay": keep[None, :, None] * _next(rz_np[..., H:])}
    return {"gates": {}, "pre": {"pre": _np(gi.add_(gh).view(B, T, H))}, "c": None}


def gradient_quantities(run: Run, fwd: dict, grads: list) -> dict:
    """Total dL/dh_t, dL/dc_t and the gradient truncated BPTT dropped, in run order.

    ``grads``: numpy gradients of :meth:`Run.grad_targets` (zeros where the loss does not
    reach, None for a target the run does not have)."""
    if run.compiled:  # the compiled backward left them on the run
        if run.dh is None:  # the loss does not reach this layer
            return {"dh": np.zeros_like(fwd["c"]), "dc": np.zeros_like(fwd["c"]),
                    "dh_dropped": None}
        return {"dh": run.dh, "dc": run.dc, "dh_dropped": run.dh_dropped}
    if run.extra is None:
        dh, dc = grads
        return {"dh": dh, "dc": dc if run.kind == "lstm" else None, "dh_dropped": None}
    out_g, hT_g, cT_g, e_g = grads
    B, T, H = out_g.shape
    keep = run.keep
    truncated = bool(run.cut.any())
    kn = keep[None, :, None]
    dropped_at = (~keep)[None, :, None].copy()
    dropped_at[:, -1] = False
    if run.kind == "gru":
        r = torch.from_numpy(np.ascontiguousarray(fwd["gates"]["r"]))
        eg = torch.from_numpy(e_g)
        W_hn = run.weights[1].detach().cpu()[2 * H:]
        # W_hr^T dr + W_hz^T dz + W_hn^T (r * dn): all of dL/dh_{t-1} but the direct z path.
        rec = _np(eg[..., :H] + (r * eg[..., H:]) @ W_hn)
        b = out_g + kn * _next(rec)
        b[:, -1] += hT_g
        dh = scan(fwd["_decay"], b, None, reverse=True)
        dropped = None
        if truncated:
            dropped = dropped_at * (_next(rec) + _next(fwd["gates"]["z"]) * _next(dh))
        return {"dh": dh, "dc": None, "dh_dropped": dropped}
    rec_next = _next(e_g)
    dh = out_g + kn * rec_next
    dh[:, -1] += hT_g
    dropped = dropped_at * rec_next if truncated else None
    dc = None
    if run.kind == "lstm":
        b = dh * fwd["_coef"]
        if cT_g is not None:
            b[:, -1] += cT_g
        dc = scan(fwd["_decay"], b, None, reverse=True)
    return {"dh": dh, "dc": dc, "dh_dropped": dropped}
