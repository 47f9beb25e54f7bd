"""Hidden-state trajectories: h_t over a sequence seen in its top principal components.

A :class:`PCABasis` is fitted once per trace (so stepping through it never moves the
axes): with the mean ``mu`` of the states h_1..h_T and the SVD ``H - mu = U S V^T``, the
components are the rows of ``V^T`` and each state is drawn at ``(h_t - mu) V_k``. Other
sequences (validation, a what-if) are projected into the same basis, so their paths can be
compared with the traced one on the same axes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PCABasis:
    """``k`` principal axes of a set of hidden states.

    ``mean (H,)``, ``components (k, H)`` orthonormal rows (sign fixed so that the largest
    entry of each is positive), ``explained_variance (k,)`` the variance along each axis
    (``S^2 / (n - 1)``), ``explained_ratio (k,)`` its share of the total variance."""

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_ratio: np.ndarray

    @property
    def dims(self) -> int:
        return self.components.shape[0]

    def project(self, h) -> np.ndarray:
        """``(..., k)`` coordinates of states ``h (..., H)`` (e.g. ``(T, H)`` or
        ``(B, T, H)``): ``(h - mean) @ components.T``, in float64."""
        h = np.asarray(h, dtype=np.float64)
        if h.shape[-1] != self.mean.shape[0]:
            raise ValueError(f"states have {h.shape[-1]} units but the basis was fitted on "
                             f"{self.mean.shape[0]}")
        return (h - self.mean) @ self.components.T


def fit_pca(h, dims: int = 3, mask=None) -> PCABasis:
    """The :class:`PCABasis` of states ``h`` (``(T, H)``, or ``(B, T, H)`` pooled over
    sequences); ``mask`` (same leading shape) keeps only steps where it is true (padding
    left out). ``dims`` is usually 2 or 3; fewer states or units give fewer axes, padded
    with zero axes of zero variance so that a plot always has ``dims`` coordinates."""
    h = np.asarray(h, dtype=np.float64)
    H = h.shape[-1]
    if mask is not None:
        h = h[np.asarray(mask, bool)]
    X = h.reshape(-1, H)
    if X.shape[0] == 0:
        raise ValueError("no states to fit")
    mean = X.mean(0)
    _, S, Vt = np.linalg.svd(X - mean, full_matrices=False)
    k = min(dims, Vt.shape[0])
    comps = Vt[:k].copy()
    signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(1)])
    comps *= np.where(signs == 0, 1.0, signs)[:, None]
    var = S[:k] ** 2 / max(X.shape[0] - 1, 1)
    total = (S ** 2).sum() / max(X.shape[0] - 1, 1)
    ratio = var / total if total > 0 else np.zeros(k)
    if k < dims:  # pad with zero axes (a constant or tiny set of states)
        comps = np.vstack([comps, np.zeros((dims - k, H))])
        var, ratio = np.pad(var, (0, dims - k)), np.pad(ratio, (0, dims - k))
    return PCABasis(mean, comps, var, ratio)


def trajectory(h, dims: int = 3, others=()) -> tuple[PCABasis, np.ndarray, list[np.ndarray]]:
    """Fit a basis on one sequence's states ``h (T, H)`` and project it and ``others``
    (each ``(T_i, H)`` or ``(B, T_i, H)``) into it: ``(basis, (T, dims) path, [paths])``."""
    basis = fit_pca(h, dims)
    return basis, basis.project(h), [basis.project(o) for o in others]
