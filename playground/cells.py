"""Running one recurrent layer (one direction) so that a trace can see inside it.

Two ways, with the same result (and a third for LSTMs on the CPU,
:func:`playground.bptt.run_compiled`, with a backward pass of its own):

* :func:`run_fused` -- PyTorch's fused kernel (``torch.lstm`` / ``torch.gru`` /
  ``torch.rnn_tanh``) on the layer's own weights, with extra zero-valued inputs
  whose gradient carries the per-step recurrent gradient. One forward, one
  backward: as fast as ``nn.LSTM``. Gates are recomputed afterwards for all steps
  at once from the known ``h_{t-1}`` (:func:`playground.gates.forward_quantities`).
* :func:`run_unrolled` -- a step-by-step Python unroll, used when the user
  intervenes (clamps a gate, edits a state) at some step. Zero-valued probes
  added to ``h_t`` and ``c_t`` collect the total gradient BPTT delivers there.

Both honour truncated BPTT: at each chunk start the state is detached, so no
gradient flows back across it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn": ()}
GATE_LABELS = {
    "i": "input gate", "f": "forget gate", "g": "candidate (g)", "o": "output gate",
    "r": "reset gate", "z": "update gate", "n": "candidate (n)",
}
# Gates squashed by a sigmoid live in [0, 1]; candidates are tanh, in [-1, 1].
SIGMOID_GATES = ("i", "f", "o", "r", "z")


@dataclass(frozen=True)
class Intervention:
    """Change one quantity of a recurrent layer from ``step`` on, for ``span`` steps
    (``None``: to the end).

    ``target`` is a gate letter (``i f g o`` for LSTM, ``r z n`` for GRU) to clamp
    it, or ``h`` / ``c`` to overwrite the state after the step. ``units`` selects
    hidden units (``None``: all). ``step`` is in natural time, for either direction.
    """

    node: str
    step: int
    target: str
    value: float
    units: tuple[int, ...] | None = None
    layer: int = 0
    direction: int = 0
    span: int | None = 1

    def covers(self, t: int) -> bool:
        return t >= self.step and (self.span is None or t < self.step + self.span)


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
    # compiled LSTM (playground.bptt): gates, pre and c above are numpy, and its backward
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


def _extra_weight(kind: str, W_hh: torch.Tensor) -> torch.Tensor:
    """Input weights of the zero-valued extra inputs.

    LSTM and RNN: ``W_hh`` itself, so the extra input's gradient at step t is
    ``W_hh^T dL/d(pre_t)``: the recurrent part of dL/dh_{t-1}. GRU applies the reset
    gate to ``W_hn h``, so it takes two blocks: ``[W_hr; W_hz; 0]`` and ``[0; 0; I]``,
    whose gradients are ``W_hr^T dr + W_hz^T dz`` and ``dL/dn_pre``.
    """
    W = W_hh.detach()
    if kind != "gru":
        return W
    H = W.shape[1]
    E = W.new_zeros(3 * H, 2 * H)
    E[: 2 * H, :H] = W[: 2 * H]
    E[2 * H:, H:] = torch.eye(H, dtype=W.dtype, device=W.device)
    return E


def run_fused(run: Run, windows: list[tuple[int, int]]) -> Run:
    W_ih, W_hh, b_ih, b_hh = run.weights
    x = run.x
    B, T, _ = x.shape
    E = _extra_weight(run.kind, W_hh)
    run.extra = x.new_zeros(B, T, E.shape[1]).requires_grad_()
    xx = torch.cat([x, run.extra], -1)  # (B, T, I + extra)
    params = [torch.cat([W_ih, E], 1), W_hh]
    run.w_cat = params[0].detach()  # an LSTM's [W_ih | W_hh]: its gates are recovered with it
    has_bias = b_ih is not None
    if has_bias:
        params += [b_ih, b_hh]
    h = run.h0.unsqueeze(0)
    c = run.c0.unsqueeze(0) if run.c0 is not None else None
    outs = []
    for s, e in windows:
        if s > 0:
            h = h.detach()
            c = c.detach() if c is not None else None
        seg = xx if len(windows) == 1 else xx[:, s:e]
        if run.kind == "lstm":
            o, h, c = torch.lstm(seg, (h, c), params, has_bias, 1, 0.0, False, False, True)
        elif run.kind == "gru":
            o, h = torch.gru(seg, h, params, has_bias, 1, 0.0, False, False, True)
        else:
            fn = torch.rnn_relu if run.nonlinearity == "relu" else torch.rnn_tanh
            o, h = fn(seg, h, params, has_bias, 1, 0.0, False, False, True)
        outs.append(o)
    run.out = outs[0] if len(outs) == 1 else torch.cat(outs, 1)
    run.hT = h[0]
    run.cT = c[0] if c is not None else None
    return run


def _apply(ivs: list[Intervention], name: str, value: torch.Tensor) -> torch.Tensor:
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


def run_unrolled(run: Run, windows: list[tuple[int, int]],
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
            vals = {k: _apply(ivs, k, v) for k, v in vals.items()}
            c = vals["f"] * c + vals["i"] * vals["g"]
            c = _apply(ivs, "c", c) + pc[t]
            h = vals["o"] * torch.tanh(c)
            step_pre = {"i": p_i, "f": p_f, "g": p_g, "o": p_o}
            cs.append(c.detach())
        elif run.kind == "gru":
            x_r, x_z, x_n = xp[t].chunk(3, -1)
            h_r, h_z, h_n = hp.chunk(3, -1)
            p_r, p_z = x_r + h_r, x_z + h_z
            r = _apply(ivs, "r", torch.sigmoid(p_r))
            z = _apply(ivs, "z", torch.sigmoid(p_z))
            p_n = x_n + r * h_n
            n = _apply(ivs, "n", torch.tanh(p_n))
            h = (1 - z) * n + z * h
            vals = {"r": r, "z": z, "n": n}
            step_pre = {"r": p_r, "z": p_z, "n": p_n}
        else:
            p = xp[t] + hp
            h = act(p)
            vals, step_pre = {}, {"pre": p}
        h = _apply(ivs, "h", h) + ph[t]
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
