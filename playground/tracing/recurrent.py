"""One recurrent layer-direction as an autograd function that records everything a trace
shows: the forward values of every step and, in its backward, the total dL/dh_t and
dL/dc_t BPTT delivers to each step.

* forward: from step ``run.start`` on (the steps before are copied from a base trace, for
  an incremental what-if), by the compiled kernels (:mod:`.compiled`), or by PyTorch's
  fused kernel (:mod:`.fused`) or the torch loop (:mod:`.loops`) when interventions apply;
* backward: one pass from the last step to the first, by the compiled kernels or the torch
  loop, keeping every step's gradient and what truncated BPTT drops; then the weight and
  input gradients as matrix products.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch
import torch.nn.functional as F

from . import compiled, fused, loops
from .runs import Run


def _arrays(run: Run, B: int, T: int, H: int, like: torch.Tensor, prefix: dict | None,
            s: int) -> dict[str, torch.Tensor]:
    """Forward arrays (numpy-backed on the compiled path), with ``prefix``'s first ``s``
    steps copied in."""
    a = compiled.empty_forward(run.kind, B, T, H, _np_dtype(like.dtype))
    if run.backend == "compiled":
        t = {k: torch.from_numpy(v) for k, v in a.items()}
    else:
        t = {k: torch.empty(v.shape, dtype=like.dtype, device=like.device) for k, v in a.items()}
    for k, v in (prefix or {}).items():
        v = v[:, :s]
        t[k][:, :s] = v if isinstance(v, torch.Tensor) else \
            torch.from_numpy(np.ascontiguousarray(v)).to(like.device)
    return t


def _np_dtype(dtype: torch.dtype):
    return np.float64 if dtype == torch.float64 else np.float32


def run_forward(run: Run, x, h0, c0, W_ih, W_hh, b_ih, b_hh) -> dict[str, torch.Tensor]:
    kind, relu = run.kind, run.nonlinearity == "relu"
    x, h0, W_ih, W_hh = (t.detach() for t in (x, h0, W_ih, W_hh))
    c0, b_ih, b_hh = (None if t is None else t.detach() for t in (c0, b_ih, b_hh))
    weights = (W_ih, W_hh, b_ih, b_hh)
    B, T, _ = x.shape
    H = W_hh.shape[1]
    if kind == "gru" or b_ih is None:
        xp = F.linear(x, W_ih, b_ih)
    else:
        xp = F.linear(x, W_ih, b_ih + b_hh)
    b_gh = b_hh if b_hh is not None else W_hh.new_zeros(W_hh.shape[0])
    # The compiled loop keeps every gate as it goes; PyTorch's fused LSTM does not, and
    # recomputing them (a GEMM, activations, the scan for c) made that path slower in all
    # (LSTM H=256 T=1000, one thread: 21 ms against 26 ms)
    plain_fused = run.backend != "compiled"
    start, prefix = run.start, run.base
    if start == 0 and plain_fused:
        if not len(run.ivs):
            return fused.forward(kind, relu, x, xp, weights, h0, c0)
        # the steps before the first intervention exactly as a trace without it has them
        start = int(run.ivs.lo.min())
        if start:
            prefix = fused.forward(kind, relu, x[:, :start], xp[:, :start], weights, h0, c0)
    a = _arrays(run, B, T, H, x, prefix, start)
    if kind == "gru" and run.base is not None and start > 0:   # ghn of the copied steps
        hp = torch.cat([h0[:, None], a["h"][:, :start - 1]], 1)
        a["ghn"][:, :start] = F.linear(hp, W_hh[2 * H:], b_gh[2 * H:])
    if start >= T:
        return a
    if run.backend == "compiled":
        n = {k: v.numpy() for k, v in a.items()}
        c = np.ascontiguousarray
        compiled.forward(kind, relu, c(xp.numpy()), c(W_hh.t().numpy()), c(b_gh.numpy()),
                         c(h0.numpy()), None if c0 is None else c(c0.numpy()), start, run.ivs,
                         n)
    else:
        loops.forward(kind, relu, xp, W_hh, b_gh, h0, c0, start, run.ivs, a)
    return a


class TracedRecurrent(torch.autograd.Function):
    """``(x, h0, c0, W_ih, W_hh, b_ih, b_hh, probe) -> (out, h_T[, c_T])`` of one layer and
    direction; the :class:`Run` carries what the trace shows."""

    @staticmethod
    def forward(ctx, run: Run, x, h0, c0, W_ih, W_hh, b_ih, b_hh, probe):
        a = run_forward(run, x, h0, c0, W_ih, W_hh, b_ih, b_hh)
        run.arrays = a
        # a weak reference: the run holds this function's outputs, which hold this context,
        # and a strong one would make a cycle through C++ that nothing ever frees
        ctx.run, ctx.arrays = weakref.ref(run), {k: v.detach() for k, v in a.items()}
        ctx.meta = (run.kind, run.nonlinearity == "relu", run.backend, run.keep,
                    bool(run.cut.any()), run.ivs, b_ih is not None)
        ctx.save_for_backward(x, h0, c0 if c0 is not None else h0, W_ih, W_hh)
        h = a["h"]
        if run.kind == "lstm":
            return h, h[:, -1].clone(), a["c"][:, -1].clone()
        return h, h[:, -1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_out, g_hT, g_cT=None):
        kind, relu, backend, keep, truncated, ivs, has_bias = ctx.meta
        x, h0, c0, W_ih, W_hh = (t.detach() for t in ctx.saved_tensors)
        a = ctx.arrays
        h = a["h"]
        B, T, H = h.shape
        zeros = h0.new_zeros(B, H)
        g_out = torch.zeros_like(h) if g_out is None else g_out
        g_hT = zeros if g_hT is None else g_hT
        g_cT = zeros if g_cT is None else g_cT
        if backend == "compiled":
            c = np.ascontiguousarray
            n = {k: v.numpy() for k, v in a.items()}
            got = compiled.bptt(kind, relu, n, c(h0.numpy()), c(c0.numpy()), c(g_out.numpy()),
                                c(g_hT.numpy()), c(g_cT.numpy()), c(W_hh.numpy()),
                                np.array(keep, np.bool_), truncated, ivs)
            r = {k: None if v is None else torch.from_numpy(v) for k, v in got.items()}
        else:
            r = loops.bptt(kind, relu, a, h0, c0, g_out, g_hT, g_cT, W_hh, keep, truncated,
                           ivs)
        run = ctx.run()
        if run is not None:   # (gone when nobody keeps the trace: gradients only)
            run.grads = r
        need = ctx.needs_input_grad  # (run, x, h0, c0, W_ih, W_hh, b_ih, b_hh, probe)
        G = r["dG"]
        G2 = G.reshape(B * T, -1)
        hp = torch.cat([h0[:, None], h[:, :-1]], 1).reshape(B * T, H)
        gx = G @ W_ih if need[1] else None
        gW_ih = G2.t() @ x.reshape(B * T, -1) if need[4] else None
        gb_ih = G2.sum(0) if has_bias and need[6] else None
        if kind == "gru":   # the hidden side of the n block is r * dn
            Gn = G2[:, 2 * H:] * a["act"].reshape(B * T, -1)[:, :H]
            gW_hh = torch.cat([G2[:, :2 * H].t() @ hp, Gn.t() @ hp]) if need[5] else None
            gb_hh = torch.cat([G2[:, :2 * H].sum(0), Gn.sum(0)]) if has_bias and need[7] \
                else None
        else:
            gW_hh = G2.t() @ hp if need[5] else None
            gb_hh = gb_ih.clone() if has_bias and need[7] else None   # equal, not one array
        return (None, gx, r["dh0"] if need[2] else None,
                r["dc0"] if need[3] and kind == "lstm" else None, gW_ih, gW_hh, gb_ih, gb_hh,
                torch.zeros(0, dtype=G.dtype, device=G.device) if need[8] else None)


def run_traced(run: Run) -> Run:
    """Run one layer-direction through :class:`TracedRecurrent` (or, where nothing can be
    saved for a backward pass, its forward alone)."""
    W_ih, W_hh, b_ih, b_hh = run.weights
    if torch.is_inference_mode_enabled():
        with torch.no_grad():
            run.arrays = run_forward(run, run.x, run.h0, run.c0, W_ih, W_hh, b_ih, b_hh)
        h = run.arrays["h"]
        run.out, run.hT = h, h[:, -1]
        run.cT = run.arrays["c"][:, -1] if run.kind == "lstm" else None
        return run
    run.probe = run.x.new_zeros(0).requires_grad_()
    outs = TracedRecurrent.apply(run, run.x, run.h0, run.c0, W_ih, W_hh, b_ih, b_hh, run.probe)
    run.out, run.hT = outs[0], outs[1]
    run.cT = outs[2] if run.kind == "lstm" else None
    return run
