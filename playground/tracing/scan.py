"""Elementwise linear scans ``y_t = a_t * y_{t-1} + b_t``, the one sequential step of a trace.

The LSTM cell state (``c_t = f_t c_{t-1} + i_t g_t``) and the backward recurrences for
``dL/dc_t`` and the GRU's ``dL/dh_t`` are such scans. They are independent across units,
so all that is sequential is a loop over time; compiled with numba (when installed) it
costs microseconds. Without numba a blocked numpy version keeps the Python-level loop
near ``3 sqrt(T)`` steps.
"""

from __future__ import annotations

import numpy as np

try:  # optional accelerator: the results are the same either way
    import numba
except ImportError:  # pragma: no cover - exercised where numba is missing
    numba = None


def _scan_loop(a, b, y0, out, reverse):
    B, T, H = b.shape
    for i in range(B):
        for j in range(H):
            prev = y0[i, j]
            for k in range(T):
                t = T - 1 - k if reverse else k
                prev = a[i, t, j] * prev + b[i, t, j]
                out[i, t, j] = prev


_compiled = None
if numba is not None:
    _compiled = numba.njit(cache=True, nogil=True)(_scan_loop)


def _blocked(a: np.ndarray, b: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """Forward scan in blocks of K steps: each block from zero for all blocks at once (with
    the running product of ``a``), then ``y = local + prod(a) * carry`` adds what flows in."""
    B, T, H = b.shape
    dtype = b.dtype
    K = max(1, int(np.ceil(np.sqrt(T))))
    nb = -(-T // K)
    A = np.ones((B, nb * K, H), dtype)
    A[:, :T] = a
    Bm = np.zeros((B, nb * K, H), dtype)
    Bm[:, :T] = b
    A = A.reshape(B, nb, K, H)
    Bm = Bm.reshape(B, nb, K, H)
    local = np.empty_like(Bm)
    prod = np.empty_like(A)
    local[:, :, 0] = Bm[:, :, 0]
    prod[:, :, 0] = A[:, :, 0]
    mul = np.multiply
    for k in range(1, K):
        mul(A[:, :, k], local[:, :, k - 1], out=local[:, :, k])
        local[:, :, k] += Bm[:, :, k]
        mul(A[:, :, k], prod[:, :, k - 1], out=prod[:, :, k])
    carry = np.empty((B, nb, H), dtype)
    for j in range(nb):
        carry[:, j] = prev
        prev = local[:, j, K - 1] + prod[:, j, K - 1] * prev
    local += prod * carry[:, :, None]
    return local.reshape(B, nb * K, H)[:, :T]


def scan(a: np.ndarray, b: np.ndarray, y0: np.ndarray | None, reverse: bool,
         compiled: bool = True) -> np.ndarray:
    """``y_t = a_t * y_{t-1} + b_t`` along axis 1 of ``(B, T, H)`` arrays, starting from
    ``y0 (B, H)`` (zeros when None); with ``reverse``, ``y_t = a_t * y_{t+1} + b_t``."""
    B, T, H = b.shape
    dtype = np.result_type(a.dtype, b.dtype)
    y0 = np.zeros((B, H), dtype) if y0 is None else np.ascontiguousarray(y0, dtype)
    if compiled and _compiled is not None:
        out = np.empty((B, T, H), dtype)
        _compiled(np.ascontiguousarray(a, dtype), np.ascontiguousarray(b, dtype), y0, out,
                  bool(reverse))
        return out
    if reverse:
        return _blocked(a[:, ::-1], b[:, ::-1], y0)[:, ::-1]
    return _blocked(a, b, y0)


# -- the LSTM's whole backward pass through time, for traces on the CPU -------------------

def _lstm_bptt_loop(act, c, c0, tc, out_g, hT_g, cT_g, W_hh, keep, dh, dc, dG, dropped, dh0,
                    dc0):
    """Backpropagation through time of one LSTM layer, every intermediate kept.

    From the last step back: ``dh_t = dL/dy_t + W_hh^T dG_{t+1}`` (the recurrent part only
    where ``keep[t]``; elsewhere it is what truncation drops), ``dc_t = dh_t o_t (1 -
    tanh^2 c_t) + f_{t+1} dc_{t+1}``, and the pre-activation gradients ``dG_t`` of
    ``[i f g o]``. ``dh0``/``dc0`` receive what flows into the initial state.
    """
    B, T, H4 = act.shape
    H = H4 // 4
    one = act.dtype.type(1.0)
    rec = np.zeros(H, act.dtype)
    for b in range(B):
        rec[:] = 0.0
        for t in range(T - 1, -1, -1):
            for k in range(H):
                v = out_g[b, t, k]
                if t == T - 1:
                    v += hT_g[b, k]
                    carry = cT_g[b, k]
                elif keep[t]:
                    v += rec[k]
                    carry = dc[b, t + 1, k] * act[b, t + 1, H + k]
                else:
                    dropped[b, t, k] = rec[k]
                    carry = 0.0
                dh[b, t, k] = v
                th = tc[b, t, k]
                i = act[b, t, k]
                f = act[b, t, H + k]
                g = act[b, t, 2 * H + k]
                o = act[b, t, 3 * H + k]
                d = v * o * (one - th * th) + carry
                dc[b, t, k] = d
                cp = c[b, t - 1, k] if t > 0 else c0[b, k]
                dG[b, t, k] = d * g * i * (one - i)
                dG[b, t, H + k] = d * cp * f * (one - f)
                dG[b, t, 2 * H + k] = d * i * (one - g * g)
                dG[b, t, 3 * H + k] = v * th * o * (one - o)
            rec[:] = 0.0
            for j in range(H4):  # rec = W_hh^T dG_t, row by row (contiguous, vectorised)
                gj = dG[b, t, j]
                for k in range(H):
                    rec[k] += gj * W_hh[j, k]
        for k in range(H):
            dh0[b, k] = rec[k]
            dc0[b, k] = dc[b, 0, k] * act[b, 0, H + k]


_lstm_bptt = None
if numba is not None:
    _lstm_bptt = numba.njit(cache=True, nogil=True)(_lstm_bptt_loop)


def lstm_bptt(act, c, c0, tc, out_g, hT_g, cT_g, W_hh, keep):
    """``(dh, dc, dG, dropped, dh0, dc0)``, see :func:`_lstm_bptt_loop` (needs numba).
    ``dropped`` is zero except before a truncation cut."""
    B, T, H4 = act.shape
    shape = (B, T, H4 // 4)
    dtype = act.dtype
    dh, dc = np.empty(shape, dtype), np.empty(shape, dtype)
    dG = np.empty((B, T, H4), dtype)
    dropped = np.zeros(shape, dtype)
    dh0, dc0 = np.empty((B, H4 // 4), dtype), np.empty((B, H4 // 4), dtype)
    arrays = [np.ascontiguousarray(a, dtype) for a in (out_g, hT_g, cT_g, W_hh)]
    _lstm_bptt(act, c, np.ascontiguousarray(c0, dtype), tc, *arrays, keep, dh, dc, dG, dropped,
               dh0, dc0)
    return dh, dc, dG, dropped, dh0, dc0
