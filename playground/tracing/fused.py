"""The fused path: PyTorch's own kernel (``torch.lstm`` / ``torch.gru`` / ``torch.rnn_tanh``)
on the layer's weights, with extra zero-valued inputs whose gradient carries the per-step
recurrent gradient. One forward, one backward: as fast as ``nn.LSTM``. Gates are recovered
afterwards for all steps at once from the known ``h_{t-1}``
(:func:`playground.tracing.gates.forward_quantities`).
"""

from __future__ import annotations

import torch

from .runs import Run


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
