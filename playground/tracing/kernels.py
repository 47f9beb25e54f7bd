"""The recurrent cells' forward pass and backpropagation through time as plain loops.

Written for numba (:mod:`playground.tracing.compiled` compiles them in the background;
torch-free, numpy arrays only) and kept readable as the definition of what a trace
records. Every loop is contiguous in its innermost index, so it vectorises without
reordering a sum: the forward adds ``h_k * W_hh^T[k, :]`` row by row, the backward
``dG_j * W_hh[j, :]``.

Layouts, batch-first and in *run order* (reversed for a reverse direction):

* LSTM: ``pre, act (B, T, 4H)`` in ``[i f g o]`` order, ``c, h (B, T, H)``; the input
  projection ``xp = x W_ih^T + b_ih + b_hh``.
* GRU: ``pre, act (B, T, 3H)`` in ``[r z n]`` order (``pre_n = xp_n + r * ghn``),
  ``ghn = W_hn h_{t-1} + b_hn (B, T, H)``, ``h``; ``xp = x W_ih^T + b_ih``, ``b_hh`` apart.
* RNN: ``pre, h (B, T, H)``; ``xp = x W_ih^T + b_ih + b_hh``.

Interventions come as records in run order: quantity index ``q`` (the cell's letters
in :data:`QUANTITIES`), steps ``lo <= t < hi``, a value and a unit mask. A clamped gate
or an overwritten state is a constant: no gradient flows through what it replaced.

The backward pass starts from ``out_g`` (dL/dh_t from the layers above and the loss),
``hT_g``/``cT_g`` (from whatever reads the final state) and keeps the *total* dL/dh_t
and dL/dc_t of every step, the pre-activation gradients ``dG`` (for the weight and
input gradients, by matrix products afterwards), what truncated BPTT drops before a cut
(``keep[t]`` False), and what reaches the initial state.
"""

from __future__ import annotations

import numpy as np

# numba is imported only when :mod:`playground.tracing.compiled` compiles these (in a thread
# of its own): it replaces each function here by its compiled version, helpers first.
HELPERS = ("_exp", "_tanh", "_iv_mask", "_add_rows")
# Inlined into the loops that call them, so that those loops vectorise.
INLINE = ("_exp", "_tanh")

# Quantities an intervention can change, by cell, in the index order the kernels use.
QUANTITIES = {"lstm": "ifgoch", "gru": "rznh", "rnn": "h"}


def _exp(x):
    """``exp`` of a float64, branch-free (so that a loop of them vectorises): fdlibm's
    method, within 1 ulp; 0 and inf beyond the range, NaN stays NaN."""
    x = 710.0 if x > 710.0 else x
    x = -746.0 if x < -746.0 else x
    kf = np.floor(x * 1.44269504088896338700e+00 + 0.5)
    hi = x - kf * 6.93147180369123816490e-01
    lo = kf * 1.90821492927058770002e-10
    r = hi - lo
    t = r * r
    c = r - t * (1.66666666666666019037e-01 + t * (-2.77777777770155933842e-03 + t * (
        6.61375632143793436117e-05 + t * (-1.65339022054652515390e-06
                                          + t * 4.13813679705723846039e-08))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    k = np.int64(kf)
    k1 = k >> 1     # 2^k in two factors: each a normal number down to subnormal results
    return (y * np.int64((k1 + 1023) << 52).view(np.float64)
            * np.int64((k - k1 + 1023) << 52).view(np.float64))


def _tanh(x):
    """``tanh`` of a float64, branch-free (Cephes' method, within 2 ulp)."""
    s = x * x
    p = x + x * s * (((-9.64399179425052238628e-1 * s - 9.92877231001918586564e1) * s
                      - 1.61468768441708447952e3)
                     / (((s + 1.12811678491632931402e2) * s + 2.23548839060100448583e3) * s
                        + 4.84406305325125486048e3))
    z = -x if x < 0.0 else x
    q = 1.0 - 2.0 / (_exp(2.0 * z) + 1.0)
    q = -q if x < 0.0 else q
    return q if z >= 0.625 else (x if s == 0.0 else p)


def _iv_mask(t, iv_q, iv_lo, iv_hi, iv_val, iv_units, on, val):
    """Fill ``on``/``val`` ``(Q, H)`` with the interventions active at step ``t`` (a later
    record wins); True when any is."""
    on[:, :] = False
    any_on = False
    for r in range(iv_q.shape[0]):
        if iv_lo[r] <= t < iv_hi[r]:
            q = iv_q[r]
            for k in range(on.shape[1]):
                if iv_units[r, k]:
                    on[q, k] = True
                    val[q, k] = iv_val[r]
                    any_on = True
    return any_on


def _add_rows(out, coef, M, row0):
    """``out += sum_r coef[r] * M[row0 + r]``, four rows at a time (a quarter of the loads
    and stores of ``out``; contiguous in ``k``, so the inner loop vectorises)."""
    n = coef.shape[0]
    m = out.shape[0]
    r = 0
    while r + 4 <= n:
        c0, c1, c2, c3 = coef[r], coef[r + 1], coef[r + 2], coef[r + 3]
        j = row0 + r
        for k in range(m):
            out[k] += c0 * M[j, k] + c1 * M[j + 1, k] + c2 * M[j + 2, k] + c3 * M[j + 3, k]
        r += 4
    while r < n:
        c = coef[r]
        for k in range(m):
            out[k] += c * M[row0 + r, k]
        r += 1


# -- forward ------------------------------------------------------------------------------

def lstm_forward(xp, WT, h0, c0, start, iv_q, iv_lo, iv_hi, iv_val, iv_units, pre, act, c, h):
    """Steps ``start..T-1`` (earlier ones are already filled in); ``WT = W_hh^T (H, 4H)``."""
    B, T, H4 = xp.shape
    H = H4 // 4
    dt = xp.dtype.type
    one = dt(1.0)
    hp = np.empty(H, xp.dtype)
    cp = np.empty(H, xp.dtype)
    s = np.empty(H4, xp.dtype)
    on = np.zeros((6, H), np.bool_)
    val = np.zeros((6, H), xp.dtype)
    n_iv = iv_q.shape[0]
    for b in range(B):
        for k in range(H):
            hp[k] = h0[b, k] if start == 0 else h[b, start - 1, k]
            cp[k] = c0[b, k] if start == 0 else c[b, start - 1, k]
        for t in range(start, T):
            for j in range(H4):
                s[j] = xp[b, t, j]
            _add_rows(s, hp, WT, 0)
            p, a = pre[b, t], act[b, t]
            for j in range(H4):
                p[j] = s[j]
            # every unit as if nothing intervened (a loop that vectorises), then the
            # units an intervention touches again, one by one
            for k in range(H):
                i = one / (one + dt(_exp(-np.float64(s[k]))))
                f = one / (one + dt(_exp(-np.float64(s[H + k]))))
                g = dt(_tanh(np.float64(s[2 * H + k])))
                o = one / (one + dt(_exp(-np.float64(s[3 * H + k]))))
                ck = f * cp[k] + i * g
                a[k], a[H + k], a[2 * H + k], a[3 * H + k] = i, f, g, o
                c[b, t, k] = ck
                h[b, t, k] = o * dt(_tanh(np.float64(ck)))
            if n_iv > 0 and _iv_mask(t, iv_q, iv_lo, iv_hi, iv_val, iv_units, on, val):
                for k in range(H):
                    if not (on[0, k] or on[1, k] or on[2, k] or on[3, k] or on[4, k]
                            or on[5, k]):
                        continue
                    for q in range(4):
                        if on[q, k]:
                            a[q * H + k] = val[q, k]
                    i, f, g, o = a[k], a[H + k], a[2 * H + k], a[3 * H + k]
                    ck = val[4, k] if on[4, k] else f * cp[k] + i * g
                    c[b, t, k] = ck
                    h[b, t, k] = val[5, k] if on[5, k] else o * dt(_tanh(np.float64(ck)))
            for k in range(H):
                hp[k] = h[b, t, k]
                cp[k] = c[b, t, k]


def gru_forward(xp, WT, b_hh, h0, start, iv_q, iv_lo, iv_hi, iv_val, iv_units, pre, act, ghn,
                h):
    """Steps ``start..T-1``; ``WT = W_hh^T (H, 3H)``."""
    B, T, H3 = xp.shape
    H = H3 // 3
    one = xp.dtype.type(1.0)
    hp = np.empty(H, xp.dtype)
    s = np.empty(H3, xp.dtype)
    on = np.zeros((4, H), np.bool_)
    val = np.zeros((4, H), xp.dtype)
    n_iv = iv_q.shape[0]
    for b in range(B):
        for k in range(H):
            hp[k] = h0[b, k] if start == 0 else h[b, start - 1, k]
        for t in range(start, T):
            for j in range(H3):
                s[j] = b_hh[j]
            _add_rows(s, hp, WT, 0)
            masked = n_iv > 0 and _iv_mask(t, iv_q, iv_lo, iv_hi, iv_val, iv_units, on, val)
            for k in range(H):
                pr = xp[b, t, k] + s[k]
                pz = xp[b, t, H + k] + s[H + k]
                r = one / (one + np.exp(-pr))
                z = one / (one + np.exp(-pz))
                if masked:
                    r = val[0, k] if on[0, k] else r
                    z = val[1, k] if on[1, k] else z
                gn = s[2 * H + k]
                pn = xp[b, t, 2 * H + k] + r * gn
                n = np.tanh(pn)
                if masked and on[2, k]:
                    n = val[2, k]
                hk = (one - z) * n + z * hp[k]
                if masked and on[3, k]:
                    hk = val[3, k]
                pre[b, t, k], pre[b, t, H + k], pre[b, t, 2 * H + k] = pr, pz, pn
                act[b, t, k], act[b, t, H + k], act[b, t, 2 * H + k] = r, z, n
                ghn[b, t, k] = gn
                h[b, t, k] = hk
            for k in range(H):
                hp[k] = h[b, t, k]


def rnn_forward(xp, WT, h0, start, relu, iv_q, iv_lo, iv_hi, iv_val, iv_units, pre, h):
    """Steps ``start..T-1``; ``WT = W_hh^T (H, H)``; ``relu`` or tanh."""
    B, T, H = xp.shape
    zero = xp.dtype.type(0.0)
    hp = np.empty(H, xp.dtype)
    s = np.empty(H, xp.dtype)
    on = np.zeros((1, H), np.bool_)
    val = np.zeros((1, H), xp.dtype)
    n_iv = iv_q.shape[0]
    for b in range(B):
        for k in range(H):
            hp[k] = h0[b, k] if start == 0 else h[b, start - 1, k]
        for t in range(start, T):
            for j in range(H):
                s[j] = xp[b, t, j]
            _add_rows(s, hp, WT, 0)
            masked = n_iv > 0 and _iv_mask(t, iv_q, iv_lo, iv_hi, iv_val, iv_units, on, val)
            for k in range(H):
                p = s[k]
                hk = (p if p > zero else zero) if relu else np.tanh(p)
                if masked and on[0, k]:
                    hk = val[0, k]
                pre[b, t, k] = p
                h[b, t, k] = hk
            for k in range(H):
                hp[k] = h[b, t, k]


# -- backpropagation through time ---------------------------------------------------------

def lstm_bptt(act, c, c0, out_g, hT_g, cT_g, W, keep, truncated, iv_q, iv_lo, iv_hi,
              iv_val, iv_units, dh, dc, dG, dropped, dh0, dc0):
    """``tanh(c)`` is computed again here (as the forward did), not kept."""
    B, T, H4 = act.shape
    H = H4 // 4
    dt = act.dtype.type
    one, zero = dt(1.0), dt(0.0)
    rec = np.zeros(H, act.dtype)     # W_hh^T dG_{t+1}: the recurrent part of dL/dh_t
    carry = np.zeros(H, act.dtype)   # f_{t+1} dL/dc_{t+1} (where c_{t+1} was computed)
    cin = np.zeros(H, act.dtype)     # what reaches dL/dc_t from step t+1
    on = np.zeros((6, H), np.bool_)
    val = np.zeros((6, H), act.dtype)
    n_iv = iv_q.shape[0]
    for b in range(B):
        rec[:] = 0.0
        carry[:] = 0.0
        for t in range(T - 1, -1, -1):
            v = dh[b, t]
            if t == T - 1:
                for k in range(H):
                    v[k] = out_g[b, t, k] + hT_g[b, k]
                    cin[k] = cT_g[b, k]
            elif keep[t]:
                for k in range(H):
                    v[k] = out_g[b, t, k] + rec[k]
                    cin[k] = carry[k]
            else:
                for k in range(H):
                    v[k] = out_g[b, t, k]
                    cin[k] = zero
                if truncated:
                    for k in range(H):
                        dropped[b, t, k] = rec[k]
            a, gd, ct, d_c = act[b, t], dG[b, t], c[b, t], dc[b, t]
            cp = c[b, t - 1] if t > 0 else c0[b]
            for k in range(H):
                th = dt(_tanh(np.float64(ct[k])))
                i, f, g, o = a[k], a[H + k], a[2 * H + k], a[3 * H + k]
                d = v[k] * o * (one - th * th) + cin[k]
                d_c[k] = d
                gd[k] = d * g * i * (one - i)
                gd[H + k] = d * cp[k] * f * (one - f)
                gd[2 * H + k] = d * i * (one - g * g)
                gd[3 * H + k] = v[k] * th * o * (one - o)
                carry[k] = d * f
            if n_iv > 0 and _iv_mask(t, iv_q, iv_lo, iv_hi, iv_val, iv_units, on, val):
                for k in range(H):
                    if not (on[0, k] or on[1, k] or on[2, k] or on[3, k] or on[4, k]
                            or on[5, k]):
                        continue
                    th = dt(_tanh(np.float64(ct[k])))
                    i, f, g, o = a[k], a[H + k], a[2 * H + k], a[3 * H + k]
                    vk = zero if on[5, k] else v[k]
                    d = vk * o * (one - th * th) + cin[k]
                    d_c[k] = d
                    d = zero if on[4, k] else d
                    gd[k] = zero if on[0, k] else d * g * i * (one - i)
                    gd[H + k] = zero if on[1, k] else d * cp[k] * f * (one - f)
                    gd[2 * H + k] = zero if on[2, k] else d * i * (one - g * g)
                    gd[3 * H + k] = zero if on[3, k] else vk * th * o * (one - o)
                    carry[k] = d * f
            rec[:] = 0.0
            _add_rows(rec, gd, W, 0)
        for k in range(H):
            dh0[b, k] = rec[k]
            dc0[b, k] = carry[k]


def gru_bptt(act, ghn, h, h0, out_g, hT_g, W, keep, truncated, iv_q, iv_lo, iv_hi, iv_val,
             iv_units, dh, dG, dropped, dh0):
    """``dG`` gets the input-side pre-activation gradients ``[dr dz dn]``; the hidden side
    is the same but ``r * dn`` for the n block."""
    B, T, H3 = act.shape
    H = H3 // 3
    one, zero = act.dtype.type(1.0), act.dtype.type(0.0)
    rec = np.zeros(H, act.dtype)
    dgn = np.zeros(H, act.dtype)
    on = np.zeros((4, H), np.bool_)
    val = np.zeros((4, H), act.dtype)
    n_iv = iv_q.shape[0]
    for b in range(B):
        rec[:] = 0.0
        for t in range(T - 1, -1, -1):
            masked = n_iv > 0 and _iv_mask(t, iv_q, iv_lo, iv_hi, iv_val, iv_units, on, val)
            for k in range(H):
                v = out_g[b, t, k]
                if t == T - 1:
                    v += hT_g[b, k]
                elif keep[t]:
                    v += rec[k]
                elif truncated:
                    dropped[b, t, k] = rec[k]
                dh[b, t, k] = v
                if masked and on[3, k]:
                    v = zero
                r = act[b, t, k]
                z = act[b, t, H + k]
                n = act[b, t, 2 * H + k]
                hp = h[b, t - 1, k] if t > 0 else h0[b, k]
                dpn = v * (one - z) * (one - n * n)
                dpz = v * (hp - n) * z * (one - z)
                if masked:
                    dpn = zero if on[2, k] else dpn
                    dpz = zero if on[1, k] else dpz
                dpr = dpn * ghn[b, t, k] * r * (one - r)
                if masked and on[0, k]:
                    dpr = zero
                dG[b, t, k], dG[b, t, H + k], dG[b, t, 2 * H + k] = dpr, dpz, dpn
                dgn[k] = dpn * r
                rec[k] = v * z   # the direct path h_t = ... + z h_{t-1}
            _add_rows(rec, dG[b, t, :2 * H], W, 0)
            _add_rows(rec, dgn, W, 2 * H)
        for k in range(H):
            dh0[b, k] = rec[k]


def rnn_bptt(pre, h, out_g, hT_g, W, keep, truncated, relu, iv_q, iv_lo, iv_hi, iv_val,
             iv_units, dh, dG, dropped, dh0):
    B, T, H = h.shape
    one, zero = h.dtype.type(1.0), h.dtype.type(0.0)
    rec = np.zeros(H, h.dtype)
    on = np.zeros((1, H), np.bool_)
    val = np.zeros((1, H), h.dtype)
    n_iv = iv_q.shape[0]
    for b in range(B):
        rec[:] = 0.0
        for t in range(T - 1, -1, -1):
            masked = n_iv > 0 and _iv_mask(t, iv_q, iv_lo, iv_hi, iv_val, iv_units, on, val)
            for k in range(H):
                v = out_g[b, t, k]
                if t == T - 1:
                    v += hT_g[b, k]
                elif keep[t]:
                    v += rec[k]
                elif truncated:
                    dropped[b, t, k] = rec[k]
                dh[b, t, k] = v
                if masked and on[0, k]:
                    v = zero
                if relu:
                    dG[b, t, k] = v if pre[b, t, k] > zero else zero
                else:
                    hk = h[b, t, k]
                    dG[b, t, k] = v * (one - hk * hk)
            rec[:] = 0.0
            _add_rows(rec, dG[b, t], W, 0)
        for k in range(H):
            dh0[b, k] = rec[k]


KERNELS = ("lstm_forward", "gru_forward", "rnn_forward", "lstm_bptt", "gru_bptt", "rnn_bptt")
