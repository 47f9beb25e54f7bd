"""Elementwise linear scans ``y_t = a_t * y_{t-1} + b_t``.

The LSTM cell state after a fused forward (``c_t = f_t c_{t-1} + i_t g_t``) is such a
scan. It is independent across units, so all that is sequential is a loop over time;
compiled with numba (when installed) it costs microseconds. Without numba a blocked numpy
version keeps the Python-level loop near ``3 sqrt(T)`` steps.
"""

from __future__ import annotations

import numpy as np


def _scan_loop(a, b, y0, out, reverse):
    B, T, H = b.shape
    for i in range(B):
        for j in range(H):
            prev = y0[i, j]
            for k in range(T):
                t = T - 1 - k if reverse else k
                prev = a[i, t, j] * prev + b[i, t, j]
                out[i, t, j] = prev


# the loop compiled by numba, set by playground.tracing.compiled once it is ready
_compiled = None


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
