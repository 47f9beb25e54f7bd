"""Gates, cell states and per-step gradients of a recurrent layer after a fused run.

The fused kernel returns only ``h_t``. Everything else follows exactly:

* gate pre-activations for all steps at once, from the known ``h_{t-1}``:
  ``pre = x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh`` (one matrix product);
* LSTM cell states by the elementwise scan ``c_t = f_t c_{t-1} + i_t g_t``;
* the total ``dL/dh_t = dL/dy_t + (recurrent part from step t+1)``, where the
  recurrent part is the gradient of the zero-valued extra inputs (see
  :mod:`playground.cells`), cut at truncated-BPTT window starts;
* LSTM ``dL/dc_t = dL/dh_t o_t (1 - tanh^2 c_t) + f_{t+1} dL/dc_{t+1}`` by a backward scan;
  GRU ``dL/dh_t`` by ``... + z_{t+1} dL/dh_{t+1}``, its direct path.

:func:`forward_quantities` needs only the forward pass; :func:`gradient_quantities`
takes the gradients too. The scans are in :mod:`playground.scan`.
"""

from __future__ import annotations

import numpy as np
import torch

from .cells import Run
from .scan import lstm_cells, lstm_grads, scan

# Use the compiled kernels of playground.scan when numba is there (tests flip this).
COMPILED = True


def _np(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().numpy()


def _next(a: np.ndarray) -> np.ndarray:
    """``a[:, t+1]`` at position t, zero at the last step."""
    out = np.zeros_like(a)
    out[:, :-1] = a[:, 1:]
    return out


def _keep_next(cut: np.ndarray) -> np.ndarray:
    """``keep[t]``: does gradient flow from step t+1 back to step t? (not across a cut)."""
    if not cut.any():  # the usual case, no truncation: only the last step keeps nothing
        keep = np.ones(cut.shape[0], bool)
        keep[-1] = False
        return keep
    keep = np.ones(cut.shape[0], bool)
    keep[:-1] = ~cut[1:]
    keep[-1] = False  # nothing comes after the last step
    return keep


def forward_quantities(run: Run) -> dict:
    """Gates (activations and pre-activations) and LSTM cell states, in run order."""
    if run.extra is None:  # the unrolled path recorded them as it went
        return {"gates": {k: _np(v) for k, v in run.gates.items()},
                "pre": {k: _np(v) for k, v in run.pre.items()}, "c": _np(run.c)}
    W_ih, W_hh, b_ih, b_hh = run.weights
    with torch.no_grad():
        out = run.out.detach()
        B, T, H = out.shape
        hp = torch.cat([run.h0.detach().unsqueeze(1), out[:, :-1]], 1)  # (B, T, H): h_{t-1}
        x2 = run.x.detach().reshape(B * T, -1)
        hp2 = hp.reshape(B * T, H)
        W_ih, W_hh = W_ih.detach(), W_hh.detach()
        if run.kind == "lstm":  # pre = x W_ih^T + h_{t-1} W_hh^T + b: two fused products
            bias = (b_ih.detach() + b_hh.detach() if b_ih is not None
                    else x2.new_zeros(W_ih.shape[0]))
            pre = torch.addmm(bias, x2, W_ih.t()).addmm_(hp2, W_hh.t())  # (B*T, 4H)
            act = torch.sigmoid(pre)
            act[:, 2 * H:3 * H] = torch.tanh(pre[:, 2 * H:3 * H])
            pre_np = pre.view(B, T, 4 * H).cpu().numpy()
            act_np = act.view(B, T, 4 * H).cpu().numpy()
            names = "ifgo"
            gates = {k: act_np[..., j * H:(j + 1) * H] for j, k in enumerate(names)}
            pres = {k: pre_np[..., j * H:(j + 1) * H] for j, k in enumerate(names)}
            keep = _keep_next(run.cut)
            fused = lstm_cells(act_np, _np(run.c0), keep) if COMPILED else None
            if fused is not None:
                c, coef, decay = fused
            else:
                c = scan(gates["f"], gates["i"] * gates["g"], _np(run.c0), reverse=False)
                tanh_c = np.tanh(c)
                # Coefficients of the backward scan for dL/dc_t.
                coef = gates["o"] * (1.0 - tanh_c * tanh_c)
                decay = keep[None, :, None] * _next(gates["f"])
            return {"gates": gates, "pre": pres, "c": c, "_coef": coef, "_decay": decay}
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
                    "_decay": _keep_next(run.cut)[None, :, None] * _next(rz_np[..., H:])}
        return {"gates": {}, "pre": {"pre": _np(gi.add_(gh).view(B, T, H))}, "c": None}


def gradient_quantities(run: Run, fwd: dict, grads: list) -> dict:
    """Total dL/dh_t, dL/dc_t and the gradient truncated BPTT dropped, in run order."""
    if run.extra is None:
        dh, dc = (_np(g) for g in grads)
        return {"dh": dh, "dc": dc if run.kind == "lstm" else None, "dh_dropped": None}
    out_g, hT_g, cT_g, e_g = grads
    out_g = _np(out_g)
    hT_g = _np(hT_g)
    if run.kind == "lstm" and COMPILED:
        fast = _lstm_gradients(run, fwd, out_g, hT_g, cT_g, e_g)
        if fast is not None:
            return fast
    B, T, H = out_g.shape
    keep = _keep_next(run.cut)
    kn = keep[None, :, None]
    dropped_at = (~keep)[None, :, None].copy()
    dropped_at[:, -1] = False
    if run.kind == "gru":
        r = torch.from_numpy(np.ascontiguousarray(fwd["gates"]["r"]))
        eg = e_g.detach().cpu()
        W_hn = run.weights[1].detach().cpu()[2 * H:]
        # W_hr^T dr + W_hz^T dz + W_hn^T (r * dn): all of dL/dh_{t-1} but the direct z path.
        rec = _np(eg[..., :H] + (r * eg[..., H:]) @ W_hn)
        b = out_g + kn * _next(rec)
        b[:, -1] += hT_g
        dh = scan(fwd["_decay"], b, None, reverse=True)
        dropped = None
        if run.cut.any():
            dropped = dropped_at * (_next(rec) + _next(fwd["gates"]["z"]) * _next(dh))
        return {"dh": dh, "dc": None, "dh_dropped": dropped}
    rec_next = _next(_np(e_g))
    dh = out_g + kn * rec_next
    dh[:, -1] += hT_g
    dropped = dropped_at * rec_next if run.cut.any() else None
    dc = None
    if run.kind == "lstm":
        b = dh * fwd["_coef"]
        if cT_g is not None:
            b[:, -1] += _np(cT_g)
        dc = scan(fwd["_decay"], b, None, reverse=True)
    return {"dh": dh, "dc": dc, "dh_dropped": dropped}


def _lstm_gradients(run: Run, fwd: dict, out_g, hT_g, cT_g, e_g) -> dict | None:
    """The compiled LSTM path of :func:`gradient_quantities` (None without numba)."""
    keep = _keep_next(run.cut)
    cT = _np(cT_g) if cT_g is not None else np.zeros_like(hT_g)
    rec = _np(e_g)
    res = lstm_grads(out_g, rec, hT_g, cT, keep, fwd["_coef"], fwd["_decay"])
    if res is None:
        return None
    dh, dc = res
    dropped = None
    if run.cut.any():
        dropped_at = (~keep)[None, :, None].copy()
        dropped_at[:, -1] = False
        dropped = dropped_at * _next(rec)
    return {"dh": dh, "dc": dc, "dh_dropped": dropped}
