"""The torch path: the same forward pass and backpropagation through time as
:mod:`playground.tracing.kernels`, one time step at a time with batched torch operations,
on any device (the GPU, hidden sizes above the compiled path's limit, machines without
numba, and the seconds before the compiled kernels are ready).

Each step's gradient comes from that step's own quantities only (no scan combined with
another pass's gradient), so its rounding error shrinks with the gradient itself: exact
over the whole range of a vanishing or exploding gradient. Arrays are torch tensors in
the layouts :mod:`~playground.tracing.kernels` documents.
"""

from __future__ import annotations

import torch


def _active(ivs, t: int, device) -> list[tuple[int, torch.Tensor, float]]:
    """``(quantity index, unit mask, value)`` of the interventions active at step ``t``."""
    if ivs is None or not len(ivs):
        return []
    return [(int(ivs.q[r]), torch.from_numpy(ivs.units[r]).to(device), float(ivs.val[r]))
            for r in range(len(ivs)) if ivs.lo[r] <= t < ivs.hi[r]]


def _set(value: torch.Tensor, active, q: int) -> torch.Tensor:
    """``value`` with quantity ``q`` overwritten where an active intervention says."""
    for qi, m, v in active:
        if qi == q:
            value = torch.where(m, torch.full_like(value, v), value)
    return value


def _stop(grad: torch.Tensor, active, q: int) -> torch.Tensor:
    """``grad`` zeroed where quantity ``q`` was overwritten (a constant passes nothing on)."""
    for qi, m, _ in active:
        if qi == q:
            grad = grad.masked_fill(m, 0.0)
    return grad


def forward(kind, relu, xp, W_hh, b_hh, h0, c0, start, ivs, a: dict) -> None:
    """Fill ``a`` from step ``start`` on (see :func:`playground.tracing.compiled.forward`)."""
    T = xp.shape[1]
    H = W_hh.shape[1]
    hp = h0 if start == 0 else a["h"][:, start - 1]
    cp = (c0 if start == 0 else a["c"][:, start - 1]) if kind == "lstm" else None
    WT = W_hh.t()
    for t in range(start, T):
        act = _active(ivs, t, xp.device)
        if kind == "lstm":
            s = torch.addmm(xp[:, t], hp, WT)
            g = torch.sigmoid(s)
            g[:, 2 * H:3 * H] = torch.tanh(s[:, 2 * H:3 * H])
            for q in range(4):
                g[:, q * H:(q + 1) * H] = _set(g[:, q * H:(q + 1) * H], act, q)
            i, f, gg, o = g.chunk(4, 1)
            cp = _set(f * cp + i * gg, act, 4)
            hp = _set(o * torch.tanh(cp), act, 5)
            a["c"][:, t] = cp
        elif kind == "gru":
            gh = torch.addmm(b_hh, hp, WT)
            prz = xp[:, t, :2 * H] + gh[:, :2 * H]
            rz = torch.sigmoid(prz)
            r = _set(rz[:, :H], act, 0)
            z = _set(rz[:, H:], act, 1)
            pn = xp[:, t, 2 * H:] + r * gh[:, 2 * H:]
            n = _set(torch.tanh(pn), act, 2)
            hp = _set((1 - z) * n + z * hp, act, 3)
            s = torch.cat([prz, pn], 1)
            g = torch.cat([r, z, n], 1)
            a["ghn"][:, t] = gh[:, 2 * H:]
        else:
            s = torch.addmm(xp[:, t], hp, WT)
            hp = _set(torch.relu(s) if relu else torch.tanh(s), act, 0)
            g = None
        a["pre"][:, t] = s
        if g is not None:
            a["act"][:, t] = g
        a["h"][:, t] = hp


def bptt(kind, relu, a: dict, h0, c0, out_g, hT_g, cT_g, W, keep, truncated, ivs) -> dict:
    """The backward pass of :func:`playground.tracing.compiled.bptt`, on tensors."""
    h = a["h"]
    B, T, H = h.shape
    dh = torch.empty_like(h)
    dG = torch.empty_like(a["pre"])
    dropped = torch.zeros_like(h) if truncated else None
    dc = torch.empty_like(h) if kind == "lstm" else None
    rec = torch.zeros_like(h0)
    carry = torch.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        act = _active(ivs, t, h.device)
        v = out_g[:, t]
        if t == T - 1:
            v = v + hT_g
            cin = cT_g
        elif keep[t]:
            v = v + rec
            cin = carry
        else:
            if truncated:
                dropped[:, t] = rec
            cin = None
        dh[:, t] = v
        hp = h[:, t - 1] if t > 0 else h0
        if kind == "lstm":
            v = _stop(v, act, 5)
            i, f, g, o = a["act"][:, t].chunk(4, 1)
            th = torch.tanh(a["c"][:, t])
            d = v * o * (1 - th * th)
            if cin is not None:
                d = d + cin
            dc[:, t] = d
            d = _stop(d, act, 4)
            cp = a["c"][:, t - 1] if t > 0 else c0
            G = torch.cat([_stop(d * g * i * (1 - i), act, 0), _stop(d * cp * f * (1 - f), act, 1),
                           _stop(d * i * (1 - g * g), act, 2), _stop(v * th * o * (1 - o), act, 3)],
                          1)
            carry = d * f
            rec = G @ W
        elif kind == "gru":
            v = _stop(v, act, 3)
            r, z, n = a["act"][:, t].chunk(3, 1)
            dpn = _stop(v * (1 - z) * (1 - n * n), act, 2)
            dpz = _stop(v * (hp - n) * z * (1 - z), act, 1)
            dpr = _stop(dpn * a["ghn"][:, t] * r * (1 - r), act, 0)
            G = torch.cat([dpr, dpz, dpn], 1)
            rec = v * z + torch.cat([dpr, dpz, dpn * r], 1) @ W
        else:
            v = _stop(v, act, 0)
            G = v * (a["pre"][:, t] > 0) if relu else v * (1 - h[:, t] * h[:, t])
            rec = G @ W
        dG[:, t] = G
    return {"dh": dh, "dc": dc, "dG": dG, "dropped": dropped, "dh0": rec,
            "dc0": carry if kind == "lstm" else None}
