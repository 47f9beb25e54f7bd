"""An LSTM layer traced with its own backpropagation through time, compiled, on the CPU.

A trace needs, besides what ``nn.LSTM`` computes, the total gradient BPTT delivers to
every ``h_t`` and ``c_t``. PyTorch's fused LSTM backward does not show them, so here the
layer is an autograd function of our own:

* forward: PyTorch's fused kernel (``torch.lstm``) for ``h_t``, then the gates of every
  step at once from the known ``h_{t-1}`` (one matrix product) and ``c_t`` by the
  elementwise scan;
* backward: one compiled loop from the last step to the first (:func:`playground.tracing.scan.
  lstm_bptt`) that keeps ``dL/dh_t``, ``dL/dc_t`` and what truncated BPTT drops, then
  the weight and input gradients as three matrix products.

On a CPU this costs less than the fused kernel's own backward (it does the same
``W_hh^T dG`` per step, without a framework around it), so a full trace of an LSTM costs
about what a plain ``nn.LSTM`` forward and backward does. Other kinds, other devices and
machines without numba use :func:`playground.tracing.fused.run_fused`.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch

from . import scan
from .gates import lstm_activations, lstm_cell_states, lstm_gate_views
from .runs import Run

# Above this hidden size W_hh (4H x H) outgrows the cache, the per-step W_hh^T dG becomes
# memory-bound, and the fused kernel's own backward is faster (measured: equal at 512,
# 1.4x in its favour at 1024).
MAX_HIDDEN = 512


# Trace LSTMs this way when numba is there (tests switch it off to check the other path).
COMPILED = True


def available(run: Run) -> bool:
    """Whether ``run`` takes the compiled path: an LSTM of hidden size <= ``MAX_HIDDEN``, in
    float32/64, on the CPU, with numba installed."""
    return (COMPILED and scan._lstm_bptt is not None and run.kind == "lstm"
            and not torch.is_inference_mode_enabled()   # (nothing can be saved for backward)
            and run.x.device.type == "cpu" and run.x.dtype in (torch.float32, torch.float64)
            and run.weights[1].shape[1] <= MAX_HIDDEN)


class _TracedLSTM(torch.autograd.Function):
    """``(x, h0, c0, W_ih, W_hh, b_ih, b_hh, probe) -> (out, h_T, c_T)`` of one LSTM layer
    and direction; the :class:`Run` carries what the trace shows."""

    @staticmethod
    def forward(ctx, run: Run, x, h0, c0, W_ih, W_hh, b_ih, b_hh, probe):
        has_bias = b_ih is not None
        params = [W_ih, W_hh] + ([b_ih, b_hh] if has_bias else [])
        out, hT, cT = torch.lstm(x, (h0.unsqueeze(0), c0.unsqueeze(0)), params, has_bias, 1,
                                 0.0, False, False, True)
        h_prev = torch.cat([h0.unsqueeze(1), out[:, :-1]], 1)  # (B, T, H)
        pre, act = lstm_activations(x, h_prev, torch.cat([W_ih, W_hh], 1), b_ih, b_hh)
        gates = lstm_gate_views(act)
        c = lstm_cell_states(gates, c0.detach().numpy())
        run.gates, run.pre, run.c = gates, lstm_gate_views(pre), c
        # a weak reference: the run holds this function's outputs, which hold this context,
        # and a strong one would make a cycle through C++ that nothing ever frees
        ctx.run, ctx.act, ctx.c, ctx.tanh_c = weakref.ref(run), act, c, np.tanh(c)
        ctx.keep, ctx.truncated = run.keep, bool(run.cut.any())
        ctx.has_bias = has_bias
        ctx.save_for_backward(x, h_prev, c0, W_ih, W_hh)
        return out, hT[0], cT[0]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_out, g_hT, g_cT):
        x, h_prev, c0, W_ih, W_hh = (t.detach() for t in ctx.saved_tensors)
        act = ctx.act
        B, T, H = h_prev.shape

        def arr(g):
            return np.zeros((B, H), act.dtype) if g is None else g.numpy()

        out_g = np.zeros((B, T, H), act.dtype) if g_out is None else g_out.numpy()
        dh, dc, dG, dropped, dh0, dc0 = scan.lstm_bptt(
            act, ctx.c, c0.numpy(), ctx.tanh_c, out_g, arr(g_hT), arr(g_cT), W_hh.numpy(),
            ctx.keep)
        run = ctx.run()
        if run is not None:   # (gone when nobody keeps the trace: gradients only)
            run.dh, run.dc = dh, dc
            run.dh_dropped = dropped if ctx.truncated else None
        need = ctx.needs_input_grad  # (run, x, h0, c0, W_ih, W_hh, b_ih, b_hh, probe)
        G = torch.from_numpy(dG)  # (B, T, 4H)
        G2 = G.view(B * T, 4 * H)
        gx = G @ W_ih if need[1] else None
        gW_ih = G2.t() @ x.reshape(B * T, -1) if need[4] else None
        gW_hh = G2.t() @ h_prev.reshape(B * T, H) if need[5] else None
        gb = G2.sum(0) if ctx.has_bias and (need[6] or need[7]) else None
        return (None, gx, torch.from_numpy(dh0) if need[2] else None,
                torch.from_numpy(dc0) if need[3] else None, gW_ih, gW_hh, gb,
                None if gb is None else gb.clone(),   # b_ih and b_hh: equal, not one array
                torch.zeros(0, dtype=G.dtype) if need[8] else None)


def run_compiled(run: Run) -> Run:
    """Run one LSTM layer-direction through :class:`_TracedLSTM` (the forward values do not
    depend on truncation; the backward cuts where ``run.keep`` says)."""
    W_ih, W_hh, b_ih, b_hh = run.weights
    run.compiled = True
    run.probe = run.x.new_zeros(0).requires_grad_()
    run.out, run.hT, run.cT = _TracedLSTM.apply(run, run.x, run.h0, run.c0, W_ih, W_hh, b_ih,
                                                b_hh, run.probe)
    return run
