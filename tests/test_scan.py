"""The linear scan, compiled or blocked, against a plain Python loop."""

import numpy as np
import pytest

from playground.scan import _compiled, scan


def reference(a, b, y0, reverse):
    B, T, H = b.shape
    out = np.zeros((B, T, H), np.float64)
    prev = np.zeros((B, H)) if y0 is None else y0.astype(np.float64)
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        prev = a[:, t] * prev + b[:, t]
        out[:, t] = prev
    return out


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 7, 5), (1, 100, 16), (3, 37, 4)])
def test_scan_matches_loop(compiled, reverse, shape):
    if compiled and _compiled is None:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(sum(shape))
    a = rng.random(shape)
    b = rng.standard_normal(shape)
    y0 = rng.standard_normal((shape[0], shape[2]))
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        got = scan(a.astype(dtype), b.astype(dtype), y0.astype(dtype), reverse,
                   compiled=compiled)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, reference(a, b, y0, reverse), rtol=tol, atol=tol)
    # strided views (the gates are views into one (B, T, 4H) array) work too
    wide = np.concatenate([a, a], -1)[..., : shape[2]]
    np.testing.assert_allclose(scan(wide, b, None, reverse, compiled=compiled),
                               reference(a, b, None, reverse), rtol=1e-12, atol=1e-12)
