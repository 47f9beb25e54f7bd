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


# -- the LSTM's two scans fused with the elementwise work around them ----------------------

def _lstm_cells_loop(act, c0, keep, c, coef, decay):
    """From gate activations ``act = [i f g o] (B, T, 4H)``: ``c_t = f c_{t-1} + i g`` and
    ``decay_t = keep_t f_{t+1}`` (``coef`` is filled by the caller)."""
    B, T, H4 = act.shape
    H = H4 // 4
    for b in range(B):
        prev = c0[b].copy()
        for t in range(T):
            for j in range(H):
                v = act[b, t, H + j] * prev[j] + act[b, t, j] * act[b, t, 2 * H + j]
                prev[j] = v
                c[b, t, j] = v
                decay[b, t, j] = act[b, t + 1, H + j] if t + 1 < T and keep[t] else 0
    return c


def _lstm_grads_loop(out_g, rec, hT_g, cT_g, keep, coef, decay, dh, dc):
    """``dh_t = dL/dy_t + keep_t rec_{t+1}`` (+ dL/dh_T at the end) and the backward scan
    ``dc_t = dh_t coef_t + decay_t dc_{t+1}`` (+ dL/dc_T at the end)."""
    B, T, H = out_g.shape
    for b in range(B):
        acc = cT_g[b].copy()
        for k in range(T):
            t = T - 1 - k
            for j in range(H):
                v = out_g[b, t, j]
                if t == T - 1:
                    v += hT_g[b, j]
                    a = v * coef[b, t, j] + acc[j]
                else:
                    if keep[t]:
                        v += rec[b, t + 1, j]
                    a = v * coef[b, t, j] + decay[b, t, j] * acc[j]
                dh[b, t, j] = v
                dc[b, t, j] = a
                acc[j] = a


_lstm_cells = _lstm_grads = None
if numba is not None:
    _lstm_cells = numba.njit(cache=True, nogil=True)(_lstm_cells_loop)
    _lstm_grads = numba.njit(cache=True, nogil=True)(_lstm_grads_loop)


def lstm_cells(act: np.ndarray, c0: np.ndarray, keep: np.ndarray):
    """``(c, coef, decay)`` for :func:`lstm_grads`; compiled, or None without numba."""
    if _lstm_cells is None:
        return None
    B, T, H4 = act.shape
    shape = (B, T, H4 // 4)
    c, coef, decay = (np.empty(shape, act.dtype) for _ in range(3))
    _lstm_cells(np.ascontiguousarray(act), np.ascontiguousarray(c0, act.dtype), keep, c, coef,
                decay)
    # o (1 - tanh^2 c): vectorised here, faster than a scalar tanh per element in the loop
    np.tanh(c, out=coef)
    np.multiply(coef, coef, out=coef)
    np.subtract(1, coef, out=coef)
    coef *= act[..., 3 * (H4 // 4):]
    return c, coef, decay


def lstm_grads(out_g, rec, hT_g, cT_g, keep, coef, decay):
    """``(dh, dc)``, see :func:`_lstm_grads_loop`; compiled, or None without numba."""
    if _lstm_grads is None:
        return None
    dh, dc = np.empty_like(out_g), np.empty_like(out_g)
    dtype = out_g.dtype
    _lstm_grads(np.ascontiguousarray(out_g), np.ascontiguousarray(rec, dtype),
                np.ascontiguousarray(hT_g, dtype), np.ascontiguousarray(cT_g, dtype), keep,
                coef, decay, dh, dc)
    return dh, dc
