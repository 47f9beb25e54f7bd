"""The step-by-step path: a Python unroll of one recurrent layer-direction, used when the
user intervenes (clamps a gate, edits a state) at some step, or when a test asks for it.
Zero-valued probes added to ``h_t`` and ``c_t`` collect the total gradient BPTT delivers
there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .interventions import Intervention, apply
from .runs import GATES, Run


def run_stepwise(run: Run, windows: list[tuple[int, int]],
                 ivs_at: dict[int, list[Intervention]]) -> Run:
    """Step by step; ``ivs_at`` maps a run-order step to the interventions active there."""
    W_ih, W_hh, b_ih, b_hh = run.weights
    x = run.x
    B, T, _ = x.shape
    H = W_hh.shape[1]
    starts = {s for s, _ in windows if s > 0}
    xp = F.linear(x, W_ih, b_ih).unbind(1)  # T x (B, G)
    run.probe_h = x.new_zeros(B, T, H).requires_grad_()
    ph = run.probe_h.unbind(1)
    lstm = run.kind == "lstm"
    if lstm:
        run.probe_c = x.new_zeros(B, T, H).requires_grad_()
        pc = run.probe_c.unbind(1)
    names = GATES[run.kind]
    gates = {g: [] for g in names}
    pres = {g: [] for g in (names or ("pre",))}
    hs, cs = [], []
    h, c = run.h0, run.c0
    act = torch.relu if run.nonlinearity == "relu" else torch.tanh
    for t in range(T):
        if t in starts:
            h = h.detach()
            c = c.detach() if c is not None else None
        ivs = ivs_at.get(t, [])
        hp = F.linear(h, W_hh, b_hh)
        if lstm:
            pre = xp[t] + hp
            p_i, p_f, p_g, p_o = pre.chunk(4, -1)
            vals = {"i": torch.sigmoid(p_i), "f": torch.sigmoid(p_f), "g": torch.tanh(p_g),
                    "o": torch.sigmoid(p_o)}
            vals = {k: apply(ivs, k, v) for k, v in vals.items()}
            c = vals["f"] * c + vals["i"] * vals["g"]
            c = apply(ivs, "c", c) + pc[t]
            h = vals["o"] * torch.tanh(c)
            step_pre = {"i": p_i, "f": p_f, "g": p_g, "o": p_o}
            cs.append(c.detach())
        elif run.kind == "gru":
            x_r, x_z, x_n = xp[t].chunk(3, -1)
            h_r, h_z, h_n = hp.chunk(3, -1)
            p_r, p_z = x_r + h_r, x_z + h_z
            r = apply(ivs, "r", torch.sigmoid(p_r))
            z = apply(ivs, "z", torch.sigmoid(p_z))
            p_n = x_n + r * h_n
            n = apply(ivs, "n", torch.tanh(p_n))
            h = (1 - z) * n + z * h
            vals = {"r": r, "z": z, "n": n}
            step_pre = {"r": p_r, "z": p_z, "n": p_n}
        else:
            p = xp[t] + hp
            h = act(p)
            vals, step_pre = {}, {"pre": p}
        h = apply(ivs, "h", h) + ph[t]
        hs.append(h)
        for k, v in vals.items():
            gates[k].append(v.detach())
        for k, v in step_pre.items():
            pres[k].append(v.detach())
    run.out = torch.stack(hs, 1)
    run.hT = hs[-1]
    run.cT = c
    run.gates = {k: torch.stack(v, 1) for k, v in gates.items()}
    run.pre = {k: torch.stack(v, 1) for k, v in pres.items()}
    run.c = torch.stack(cs, 1) if lstm else None
    return run
