"""The linear scan, compiled or blocked, against a plain Python loop."""

import numpy as np
import pytest

from playground.tracing import compiled as kernels_state
from playground.tracing import scan as S
from playground.tracing.scan import scan


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
    if compiled:
        if not kernels_state.installed():
            pytest.skip("numba not installed")
        kernels_state.warm_up(block=True)
        assert S._compiled is not None
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


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_trace_without_numba_gives_the_same_numbers(kind, monkeypatch):
    import torch

    from playground.model.build import build
    from playground.model.spec import chain
    from playground.tracing import compiled as bptt
    from playground.tracing import trace

    g = chain(("x", "input", {"vocab_size": 5}), ("r", kind, {"hidden_size": 6, "num_layers": 2}),
              ("head", "linear", {"out_features": 5}))
    model = build(g, seed=1).double()
    x, y = torch.randint(0, 5, (3, 11)), torch.randint(0, 5, (3, 11))
    fast = trace(model, x, y, tbptt=4)
    monkeypatch.setattr(bptt, "COMPILED", False)
    import playground.tracing.scan as S

    monkeypatch.setattr(S, "_compiled", None)
    slow = trace(model, x, y, tbptt=4)
    for a, b in zip(fast.layers, slow.layers):
        for name in ("h", "c", "dh", "dc", "dh_dropped"):
            va, vb = getattr(a, name), getattr(b, name)
            assert (va is None) == (vb is None), name
            if va is not None:
                np.testing.assert_allclose(va, vb, rtol=1e-12, atol=1e-15, err_msg=name)
