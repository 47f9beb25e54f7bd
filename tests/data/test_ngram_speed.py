"""The n-gram baseline's per-step probabilities: the same as before they were made linear in T,
the same as a from-the-definition count, and linear in T (counted, not timed)."""

from collections import Counter

import numpy as np
import pytest

from playground.data import Batch, Vocab
from playground.data.ngram import NGramModel


def old_step_probs(model, ids):
    """``step_probs`` as it was before issue 12, kept as the reference: the whole prefix
    ``ids[:t+1]`` goes to :meth:`NGramModel.probs` at every step (quadratic in ``T``)."""
    if isinstance(ids, str):
        ids = model.vocab.encode(ids)
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    return np.stack([model.probs(ids[:t + 1]) for t in range(len(ids))]) if len(ids) \
        else np.zeros((0, model.V))


def definition_step_probs(train, ids, order, k, V):
    """Straight from the module doc: count every m-gram (m = 1 .. n) of the training
    sequences; at step t the context is the last min(t + 1, n - 1) symbols; use the longest
    suffix of it whose ``count(c) + k * V`` is positive, and ``(count(c, w) + k) / (count(c) +
    k * V)`` there; uniform when nothing at all was counted."""
    grams = Counter()
    for seq in train:
        for m in range(1, order + 1):
            for i in range(len(seq) - m + 1):
                grams[tuple(seq[i:i + m])] += 1
    rows = []
    for t in range(len(ids)):
        ctx = tuple(int(i) for i in ids[max(0, t + 2 - order):t + 1])
        row = [1.0 / V] * V
        for m in range(len(ctx), -1, -1):
            c = ctx[len(ctx) - m:]
            counts = [grams[c + (w,)] for w in range(V)]
            total = sum(counts)
            if total + k * V > 0:
                row = [(n + k) / (total + k * V) for n in counts]
                break
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(len(ids), V)


def random_case(seed, V=5):
    """Training sequences with some structure (so long contexts are seen) and test sequences
    of many lengths, some holding ids outside the vocabulary (``-1``, ``V``)."""
    rng = np.random.default_rng(seed)
    period = rng.integers(0, V, 7)
    train = [np.where(rng.random(80) < 0.3, rng.integers(0, V, 80), np.resize(period, 80))
             for _ in range(2)]
    train = [s.tolist() for s in train]
    tests = [rng.integers(0, V, T).tolist() for T in (0, 1, 2, 3, 4, 5, 9, 40)]
    tests.append(np.resize(period, 30).tolist())
    unknown = rng.integers(0, V, 20)
    unknown[[0, 6, 13]] = [-1, V, V + 7]
    tests.append(unknown.tolist())
    return train, tests


ORDERS = [1, 2, 3, 4, 5]
KS = [0.0, 0.1, 1.0]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_step_probs_unchanged_from_the_quadratic_version(order, k, seed):
    train, tests = random_case(seed)
    m = NGramModel(order, k, vocab_size=5).fit(train)
    for ids in tests:
        new, old = m.step_probs(ids), old_step_probs(m, ids)
        assert new.shape == old.shape == (len(ids), 5)
        assert new.dtype == old.dtype == np.float64
        np.testing.assert_array_equal(new, old)
        np.testing.assert_array_equal(m.step_probs(np.array(ids)), old)   # array input too


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_step_probs_match_the_definition(order, k, seed):
    train, tests = random_case(seed)
    m = NGramModel(order, k, vocab_size=5).fit(train)
    for ids in tests:
        expected = definition_step_probs(train, ids, order, k, 5)
        got = m.step_probs(ids)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


def test_short_prefix_uses_all_of_it_at_order_4():
    """A prefix shorter than n - 1 is the whole context (the slice once wrapped round and
    kept too few symbols for n >= 4)."""
    train = [[0, 1, 2, 0, 1, 2, 2, 1, 0]]
    m = NGramModel(4, 0.0, vocab_size=3).fit(train)
    np.testing.assert_allclose(m.step_probs([0, 1])[1],
                               definition_step_probs(train, [0, 1], 4, 0.0, 3)[1])


def test_edge_cases_are_as_before():
    vocab = Vocab.from_text("abc ")
    m = NGramModel(3, 0.0, vocab=vocab).fit(vocab.encode("abc abc cab ba"))
    for text in ("", "a", "ab", "cab abc", "   "):
        np.testing.assert_array_equal(m.step_probs(text), old_step_probs(m, text))
    assert m.step_probs([]).shape == (0, 4) and m.step_probs([]).dtype == np.float64
    # ids given as a (1, T) array are read flat, as before
    two_d = np.array([[0, 1, 2, 3, 0]])
    np.testing.assert_array_equal(m.step_probs(two_d), old_step_probs(m, two_d))
    # nothing counted at all: uniform rows
    empty = NGramModel(3, 0.0, vocab_size=4)
    np.testing.assert_array_equal(empty.step_probs([0, 1, 2]), np.full((3, 4), 0.25))
    np.testing.assert_array_equal(empty.step_probs([0, 1, 2]), old_step_probs(empty, [0, 1, 2]))


def test_probs_for_a_padded_batch_of_several_sequences():
    train, _ = random_case(3)
    m = NGramModel(3, 0.1, vocab_size=5).fit(train)
    x = np.array([[1, 2, 3, 4, 0, 0], [4, 3, 2, 1, 0, 1]], dtype=np.int64)   # row 0 padded
    mask = np.array([[1, 1, 1, 1, 0, 0], [1] * 6], dtype=np.float32)
    batch = Batch({"x": x}, x, mask)
    got = m.probs_for(batch)
    assert got.shape == (6, 5)
    np.testing.assert_array_equal(got, old_step_probs(m, x[0]))   # the first sequence only
    assert m.probs_for(Batch({}, x, mask)) is None
    assert m.log_likelihood(x[1]) == pytest.approx(
        np.log(old_step_probs(m, x[1][:-1])[np.arange(5), x[1][1:]]).sum(), rel=1e-12)


def count_context_work(monkeypatch, model):
    """Wrap ``model._context`` so that every call adds the number of symbols it was handed."""
    work = {"calls": 0, "symbols": 0}
    inner = model._context

    def counting(context):
        work["calls"] += 1
        work["symbols"] += len(np.asarray(context).reshape(-1))
        return inner(context)

    monkeypatch.setattr(model, "_context", counting)
    return work


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_work_is_linear_in_T(monkeypatch, order):
    rng = np.random.default_rng(order)
    m = NGramModel(order, 0.1, vocab_size=6).fit(rng.integers(0, 6, 300))
    work = count_context_work(monkeypatch, m)

    def symbols_read(T, fn):
        work["calls"] = work["symbols"] = 0
        fn(rng.integers(0, 6, T))
        assert work["calls"] == T
        return work["symbols"]

    n = order - 1
    for T in (500, 1000, 2000):
        assert symbols_read(T, m.step_probs) == n * T - n * (n - 1) // 2  # min(t + 1, n) summed
    assert symbols_read(2000, m.step_probs) <= 2 * symbols_read(1000, m.step_probs) + n * n
    # the same counter sees the old version's whole prefixes: T (T + 1) / 2 symbols
    assert symbols_read(1000, lambda ids: old_step_probs(m, ids)) == 1000 * 1001 // 2
    # the app's entry point goes the same linear way
    x = rng.integers(0, 6, (2, 1000))
    work["calls"] = work["symbols"] = 0
    m.probs_for(Batch({"x": x}, x, np.ones((2, 1000), np.float32)))
    assert work["calls"] == 1000 and work["symbols"] <= n * 1000
