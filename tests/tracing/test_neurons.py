"""Neuron search on a planted pattern, checked against a brute-force scan."""

from __future__ import annotations

import numpy as np
import pytest

from playground.tracing.neurons import find_spans, search, select_units

UNITS = [2, 5, 9]


def _planted(T=80, H=12, seed=0):
    """States below 0.3 except the planted units, on together (0.9) over known spans."""
    rng = np.random.default_rng(seed)
    h = rng.uniform(-1, 0.3, size=(T, H))
    return h


def _plant(h, s, e, units=UNITS, value=0.9):
    h[s:e + 1, units] = value


def _brute(h, units, thr):
    """Maximal runs by a plain loop over steps."""
    runs, s = [], None
    for t in range(len(h) + 1):
        on = t < len(h) and all(h[t, u] > thr for u in units)
        if on and s is None:
            s = t
        elif not on and s is not None:
            runs.append((s, t - 1))
            s = None
    return runs


def test_planted_pattern_found_and_ranked():
    h = _planted()
    _plant(h, 10, 14)          # the query
    _plant(h, 30, 37)          # longer
    _plant(h, 50, 52)          # shorter, with an extra unit on
    h[50:53, 0] = 0.8
    _plant(h, 60, 62)          # as short, no extra unit
    other = _planted(seed=1)
    _plant(other, 5, 20)
    res = search(h, 11, 13, 0.5, others=[other])
    assert list(res.units) == UNITS
    got = [(m.sequence, m.start, m.end, m.extra) for m in res.matches]
    assert got == [(1, 5, 20, 0), (0, 30, 37, 0), (0, 60, 62, 0), (0, 50, 52, 1)]
    with_query = search(h, 11, 13, 0.5, include_query=True).matches
    assert [(m.start, m.query) for m in with_query if m.query] == [(10, True)]


def test_find_spans_matches_brute_force_on_random_states():
    rng = np.random.default_rng(4)
    for _ in range(30):
        h = rng.normal(size=(int(rng.integers(1, 60)), 6))
        units = rng.choice(6, size=int(rng.integers(1, 3)), replace=False)
        thr = float(rng.normal(-0.5, 0.3))
        got = [(m.start, m.end) for m in find_spans(h, units, thr)]
        assert got == _brute(h, units, thr)
        for m in find_spans(h, units, thr):
            rest = [u for u in range(6) if u not in units]
            assert m.extra == sum(all(h[t, u] > thr for t in range(m.start, m.end + 1))
                                  for u in rest)


def test_selection_min_length_and_bad_input():
    h = _planted()
    _plant(h, 10, 14)
    assert list(select_units(h, 10, 14, 0.5)) == UNITS
    assert select_units(h, 9, 14, 0.5).size <= 3
    assert search(h, 0, 0, 5.0).units.size == 0 and search(h, 0, 0, 5.0).matches == []
    _plant(h, 40, 40)
    assert [m.start for m in search(h, 10, 14, 0.5).matches] == [40]
    assert search(h, 10, 14, 0.5, min_length=2).matches == []
    with pytest.raises(ValueError):
        select_units(h, 5, 100, 0.5)
    with pytest.raises(ValueError):
        search(h, 10, 14, 0.5, others=[np.zeros((5, 3))])
