"""What the panels draw from, against independent references: ``norm64`` (every gradient
curve and caption) against torch's float64 vector norm, with tiny and huge float32 values
(whose squares float32 cannot hold), NaN and infinity, any number of leading axes and an
empty last axis; the top classes of a step against a plain sort."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.tracing.records import norm64
from playground.tracing.views import TopClasses


def _ref(a):
    return torch.linalg.vector_norm(torch.from_numpy(np.asarray(a, np.float64)),
                                    dim=-1).numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1000, 256), (7, 3), (5,), (2, 4, 0)])
def test_norm64_is_the_float64_norm(dtype, shape):
    rng = np.random.default_rng(len(shape))
    a = rng.standard_normal(shape).astype(dtype)
    if a.size:
        flat = a.reshape(-1, shape[-1])
        flat[0] *= 1e-23                      # squares below float32's smallest number
        flat[-1] *= 1e18 if dtype == np.float32 else 1e150      # and above its largest
    got = norm64(a)
    assert got.dtype == np.float64 and got.shape == shape[:-1]
    np.testing.assert_allclose(got, _ref(a), rtol=1e-13, atol=0)
    if a.size:
        assert got.reshape(-1)[0] > 0


def test_norm64_keeps_nan_and_infinity_and_none():
    a = np.array([[1.0, np.nan], [np.inf, 2.0], [-np.inf, 0.0], [3.0, 4.0]], np.float32)
    got = norm64(a)
    assert np.isnan(got[0]) and got[1] == np.inf and got[2] == np.inf and got[3] == 5.0
    assert norm64(None) is None


def test_top_classes_of_each_step_by_probability_ties_in_class_order():
    rng = np.random.default_rng(0)
    probs = rng.random((50, 12)).astype(np.float32)
    probs[7] = 0.25                                  # all tied
    probs[9, [2, 5, 11]] = 0.9                       # a three-way tie at the top
    top = TopClasses(probs, 8)
    assert len(top) == 50
    for t in (0, 7, 9, 49, 9, -1):
        row = probs[t]
        ref = sorted(range(12), key=lambda c: (-float(row[c]), c))[:8]
        assert top[t].tolist() == ref
    assert TopClasses(probs[:, :3], 8)[4].shape == (3,)
    with pytest.raises(IndexError):
        top[50]
