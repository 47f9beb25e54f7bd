"""PCA trajectories against numpy's SVD and the covariance's eigenvalues."""

from __future__ import annotations

import numpy as np
import pytest

from playground.tracing.trajectory import fit_pca, trajectory


def _states(T=60, H=7, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(T, H)) @ rng.normal(size=(H, H)) + rng.normal(size=H)


@pytest.mark.parametrize("dims", [2, 3])
def test_matches_covariance_eigendecomposition(dims):
    h = _states()
    basis, path, (other,) = trajectory(h, dims, others=[_states(seed=5)])
    C = np.cov(h, rowvar=False)
    w, V = np.linalg.eigh(C)
    order = np.argsort(w)[::-1][:dims]
    np.testing.assert_allclose(basis.explained_variance, w[order], rtol=1e-10)
    np.testing.assert_allclose(basis.explained_ratio, w[order] / w.sum(), rtol=1e-10)
    # the same axes up to sign
    np.testing.assert_allclose(np.abs(basis.components @ V[:, order]), np.eye(dims),
                               atol=1e-8)
    ref = (h - h.mean(0)) @ V[:, order]
    np.testing.assert_allclose(np.abs(path), np.abs(ref), atol=1e-9)
    signs = np.sign((path * ref).sum(0))
    ref_other = (_states(seed=5) - h.mean(0)) @ V[:, order] * signs
    np.testing.assert_allclose(other, ref_other, atol=1e-9)
    assert path.shape == (60, dims)


def test_basis_is_fixed_and_projection_of_batches():
    h = _states()
    b1, b2 = fit_pca(h), fit_pca(h.copy())
    np.testing.assert_array_equal(b1.components, b2.components)  # deterministic signs
    batch = np.stack([h[:30], h[30:]])
    np.testing.assert_allclose(b1.project(batch).reshape(-1, 3), b1.project(h))


def test_pooled_and_masked_fit_and_degenerate_cases():
    h = _states()
    mask = np.zeros(60, bool)
    mask[:40] = True
    np.testing.assert_allclose(np.abs(fit_pca(h, mask=mask).components),
                               np.abs(fit_pca(h[:40]).components), atol=1e-10)
    flat = fit_pca(np.ones((5, 4)), 3)   # no variance at all
    assert flat.components.shape == (3, 4) and np.all(flat.explained_ratio == 0)
    two = fit_pca(_states(T=2, H=4), 3)  # two states: one axis, padded
    assert two.explained_ratio[0] == pytest.approx(1.0) and two.explained_variance[2] == 0
    with pytest.raises(ValueError):
        fit_pca(h).project(np.zeros((3, 5)))
