"""The n-gram baseline against counts done by hand, and against a brute-force count."""

from collections import Counter

import numpy as np
import pytest

from playground.data import Vocab, make_dataset
from playground.data.ngram import NGramModel
from playground.data.taskbase import make_task
from playground.errors import SequenceError


def hello_model(order=2, k=0.0):
    return NGramModel.from_dataset(make_task("hello"), order, k)   # vocab h, e, l, o


def test_bigram_on_hello_by_hand():
    m = hello_model()
    np.testing.assert_allclose(m.probs("l"), [0, 0, 0.5, 0.5])
    np.testing.assert_allclose(m.probs("h"), [0, 1, 0, 0])
    np.testing.assert_allclose(m.probs("hel"), m.probs("l"))  # only the last symbol matters


def test_add_k_smoothing_by_hand():
    m = hello_model(k=1.0)
    # after "l": l once, o once; (count + 1) / (2 + 4)
    np.testing.assert_allclose(m.probs("l"), [1 / 6, 1 / 6, 2 / 6, 2 / 6])
    m = hello_model(k=0.5)
    np.testing.assert_allclose(m.probs("h"), [0.5 / 3, 1.5 / 3, 0.5 / 3, 0.5 / 3])


def test_trigram_and_shorter_context_at_the_start():
    m = hello_model(order=3)
    np.testing.assert_allclose(m.probs("el"), [0, 0, 1, 0])
    np.testing.assert_allclose(m.probs("ll"), [0, 0, 0, 1])
    np.testing.assert_allclose(m.probs("l"), [0, 0, 0.5, 0.5])  # bigram counts
    np.testing.assert_allclose(m.probs(""), [0.2, 0.2, 0.4, 0.2])  # unigram counts


def test_unseen_context_backs_off_without_smoothing():
    m = hello_model()
    # "o" is never followed by anything: fall back to the unigram counts h1 e1 l2 o1.
    np.testing.assert_allclose(m.probs("o"), [0.2, 0.2, 0.4, 0.2])
    # with smoothing an unseen context is uniform
    np.testing.assert_allclose(hello_model(k=1).probs("o"), [0.25] * 4)


def test_step_probs_align_with_next_symbol_outputs():
    m = hello_model()
    ds = make_task("hello")
    x = ds.example().inputs["x"][0]                 # h e l l
    sp = m.step_probs(x)
    assert sp.shape == (4, 4)
    np.testing.assert_allclose(sp.sum(1), 1.0)
    for t in range(4):
        np.testing.assert_allclose(sp[t], m.probs(x[:t + 1]))
    assert np.argmax(sp[0]) == ds.vocab.index["e"]
    assert m.cross_entropy(ds.vocab.encode("hello")) == pytest.approx(np.log(2) / 2)


def test_against_brute_force_counts():
    rng = np.random.default_rng(0)
    text = "".join(rng.choice(list("abcab "), 400))
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text).tolist()
    k, V = 0.3, len(vocab)
    m = NGramModel(3, k, vocab=vocab).fit(np.array(ids))
    tri = Counter(tuple(ids[i:i + 3]) for i in range(len(ids) - 2))
    for a in range(V):
        for b in range(V):
            total = sum(tri[(a, b, c)] for c in range(V))
            expected = [(tri[(a, b, c)] + k) / (total + k * V) for c in range(V)]
            np.testing.assert_allclose(m.probs([a, b]), expected, rtol=1e-12)


def test_fit_on_text_dataset_uses_training_part_only():
    text = "abababababababababab" + "cccccccccc"  # the c's are held out
    ds = make_dataset({"source": "text", "text": text, "window": 3, "validation": 0.34})
    assert ds.held_out
    m = NGramModel.from_dataset(ds, 2, 0.0)
    c = ds.vocab.index["c"]
    assert m.counts[1][()][c] == 0
    np.testing.assert_allclose(m.probs("a"), np.eye(len(ds.vocab))[ds.vocab.index["b"]])


def test_errors():
    with pytest.raises(ValueError):
        NGramModel(0, vocab_size=3)
    with pytest.raises(ValueError):
        NGramModel(2, -1.0, vocab_size=3)
    with pytest.raises(SequenceError, match="id 5 at position 2"):
        NGramModel(2, vocab_size=3).fit([[0, 5]])
    with pytest.raises(SequenceError):
        hello_model().probs("z")
    with pytest.raises(SequenceError, match="not a language-model"):
        NGramModel.from_dataset(make_task("adding"))
