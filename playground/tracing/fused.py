"""The fused forward: PyTorch's own kernel (``torch.lstm`` / ``torch.gru`` /
``torch.rnn_tanh`` / ``torch.rnn_relu``, cuDNN on a GPU) for ``h_t``, then every gate of
every step at once from the known ``h_{t-1}`` (one matrix product) and the LSTM's cell
states by an elementwise scan. Used, without interventions, by the torch path
(:mod:`playground.tracing.loops` does the backward).
"""

from __future__ import annotations

import torch

from . import compiled
from .scan import scan


def forward(kind, relu, x, xp, weights, h0, c0) -> dict[str, torch.Tensor]:
    """``h``, ``pre`` and ``act``, ``c`` (LSTM) or ``ghn`` (GRU), in the layouts of
    :mod:`playground.tracing.kernels`; ``xp`` is the input projection."""
    W_ih, W_hh, b_ih, b_hh = weights
    has_bias = b_ih is not None
    params = [W_ih, W_hh] + ([b_ih, b_hh] if has_bias else [])
    args = (params, has_bias, 1, 0.0, False, False, True)
    if kind == "lstm":
        h = torch.lstm(x, (h0[None], c0[None]), *args)[0]
    elif kind == "gru":
        h = torch.gru(x, h0[None], *args)[0]
    else:
        h = (torch.rnn_relu if relu else torch.rnn_tanh)(x, h0[None], *args)[0]
    H = h.shape[-1]
    hp = torch.cat([h0[:, None], h[:, :-1]], 1)
    if kind == "gru":
        gh = torch.matmul(hp, W_hh.t())
        if has_bias:
            gh += b_hh
        prz = xp[..., :2 * H] + gh[..., :2 * H]
        rz = torch.sigmoid(prz)
        pn = torch.addcmul(xp[..., 2 * H:], rz[..., :H], gh[..., 2 * H:])
        return {"h": h, "pre": torch.cat([prz, pn], -1),
                "act": torch.cat([rz, torch.tanh(pn)], -1), "ghn": gh[..., 2 * H:].contiguous()}
    B, T = h.shape[:2]
    pre = torch.addmm(xp.reshape(B * T, -1), hp.reshape(B * T, H), W_hh.t()).view(B, T, -1)
    if kind != "lstm":
        return {"h": h, "pre": pre}
    act = torch.sigmoid(pre)
    act[..., 2 * H:3 * H] = torch.tanh(pre[..., 2 * H:3 * H])
    a = act.cpu().numpy()
    c = scan(a[..., H:2 * H], a[..., :H] * a[..., 2 * H:3 * H], c0.cpu().numpy(), reverse=False,
             compiled=compiled.ready())
    return {"h": h, "pre": pre, "act": act, "c": torch.from_numpy(c).to(h.device)}
