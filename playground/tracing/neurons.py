"""Neuron search, as in LSTMVis (Strobelt et al., 2017): pick a span of steps, take the
hidden units that stay above a threshold over all of it, and find the other spans where the
same units are on together.

A unit ``u`` is *on* at step t when ``h[t, u] > threshold``. The selection of a span
``[a, b]`` (both ends included) is ``{u : h[t, u] > threshold for every t in [a, b]}``; a
match is a maximal run of steps where every selected unit is on. Matches are ranked longest
first, then by how few *extra* units (on over the whole match but not selected) they have,
the more specific match first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Match:
    """A run of steps ``start..end`` (inclusive) of sequence ``sequence`` (0: the searched
    one, ``i >= 1``: ``others[i - 1]``) where every selected unit is on; ``extra`` units
    besides them are on over all of it; ``query`` when it contains the selected span."""

    sequence: int
    start: int
    end: int
    extra: int
    query: bool = False

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class Search:
    """The result of :func:`search`: the selected ``units`` (ascending ids) and the ranked
    ``matches``."""

    units: np.ndarray
    matches: list[Match] = field(default_factory=list)


def _states(h) -> np.ndarray:
    h = np.asarray(h)
    if h.ndim != 2:
        raise ValueError(f"hidden states must be (T, H), got shape {h.shape}")
    return h


def select_units(h, start: int, end: int, threshold: float) -> np.ndarray:
    """Ids of the units above ``threshold`` at every step of ``start..end`` (inclusive) of
    ``h (T, H)``."""
    h = _states(h)
    if not 0 <= start <= end < h.shape[0]:
        raise ValueError(f"span {start}..{end} is not within 0..{h.shape[0] - 1}")
    return np.nonzero((h[start:end + 1] > threshold).all(0))[0]


def find_spans(h, units, threshold: float, min_length: int = 1,
               sequence: int = 0) -> list[Match]:
    """Every maximal run of at least ``min_length`` steps of ``h (T, H)`` where all of
    ``units`` are above ``threshold`` (unranked, in order of steps). No units: no runs."""
    h = _states(h)
    units = np.asarray(units, dtype=np.int64)
    if units.size == 0 or h.shape[0] == 0:
        return []
    on = h > threshold                                   # (T, H)
    all_on = on[:, units].all(1)                         # (T,)
    edges = np.diff(np.concatenate([[0], all_on.astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0] - 1
    others = np.ones(h.shape[1], bool)
    others[units] = False
    out = []
    for s, e in zip(starts, ends):
        if e - s + 1 >= min_length:
            extra = int((on[s:e + 1] & others).all(0).sum())
            out.append(Match(sequence, int(s), int(e), extra))
    return out


def rank(matches: list[Match]) -> list[Match]:
    """Longest first, then fewest extra units, then by sequence and step."""
    return sorted(matches, key=lambda m: (-m.length, m.extra, m.sequence, m.start))


def search(h, start: int, end: int, threshold: float, others=(), min_length: int = 1,
           include_query: bool = False) -> Search:
    """Select the units of ``h[start..end]`` (:func:`select_units`) and find where they are
    on together in ``h`` and in each of ``others`` (sequences ``(T_i, H)``, e.g. the
    validation batch's states), ranked (:func:`rank`). The run that contains the selected
    span itself is left out unless ``include_query``."""
    units = select_units(h, start, end, threshold)
    found = []
    for m in find_spans(h, units, threshold, min_length, 0):
        q = m.start <= start and end <= m.end
        if q and not include_query:
            continue
        found.append(Match(m.sequence, m.start, m.end, m.extra, q))
    for i, o in enumerate(others, 1):
        o = _states(o)
        if o.shape[1] != np.asarray(h).shape[1]:
            raise ValueError(f"sequence {i} has {o.shape[1]} units, the searched one "
                             f"{np.asarray(h).shape[1]}")
        found += find_spans(o, units, threshold, min_length, i)
    return Search(units, rank(found))
