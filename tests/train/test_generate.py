"""Generation: greedy and sampled text, free-running series, against full-sequence references."""

import numpy as np
import pytest
import torch

from playground.data import make_dataset
from playground.errors import SequenceError
from playground.model.build import build
from playground.model.spec import chain
from playground.train import TrainConfig, Trainer
from playground.train.decoding import _pick, _Stepper
from playground.train.generate import free_run, generate_ids, generate_text

pytestmark = pytest.mark.usefixtures("one_thread")


def test_trained_hello_model_greedily_continues_h_to_ello():
    ds = make_dataset({"source": "task", "task": "hello", "seed": 0})
    model = build(chain(("x", "input", {"encoding": "onehot", "vocab_size": 4}),
                        ("rnn", "rnn", {"hidden_size": 8}),
                        ("head", "linear", {"out_features": 4})), seed=0)
    Trainer(model, ds, TrainConfig(lr=0.05, batch_size=1, steps=150, device="cpu",
                                   val_every=0)).run()
    assert "h" + generate_text(model, ds, "h", 4, greedy=True) == "hello"
    assert generate_text(model, ds, "hel", 2, greedy=True) == "lo"
    # A near-zero temperature samples the argmax; sampling is repeatable with a seed.
    assert generate_text(model, ds, "h", 4, temperature=1e-4, seed=1) == "ello"
    a = generate_text(model, ds, "h", 12, temperature=3.0, seed=5)
    assert a == generate_text(model, ds, "h", 12, temperature=3.0, seed=5) and len(a) == 12
    with pytest.raises(SequenceError, match="prompt: symbol 'z' at position 2"):
        generate_text(model, ds, "hz", 3)


@pytest.mark.parametrize("kind", ["lstm", "gru", "self_attention"])
def test_stepping_matches_the_full_sequence(kind):
    params = {"hidden_size": 6, "num_layers": 2} if kind != "self_attention" else {}
    model = build(chain(("x", "input", {"encoding": "embedding", "vocab_size": 5,
                                        "embed_dim": 6}),
                        ("mid", kind, params), ("head", "linear", {"out_features": 5})), seed=2)
    model.eval()
    ids = torch.tensor([[1, 4, 0, 2, 3, 3, 1]])
    with torch.no_grad():
        full = model(ids)[0]  # (T, C)
        stepper = _Stepper(model)
        assert stepper.incremental == (kind != "self_attention")
        first = stepper.feed(ids[:, :3])
        steps = [first] + [stepper.feed(ids[:, t:t + 1]) for t in range(3, 7)]
    torch.testing.assert_close(torch.stack(steps), full[2:], rtol=1e-5, atol=1e-6)


def test_generate_feeds_back_the_argmax():
    model = build(chain(("x", "input", {"encoding": "onehot", "vocab_size": 5}),
                        ("r", "gru", {"hidden_size": 7}),
                        ("head", "linear", {"out_features": 5})), seed=4)
    out = generate_ids(model, [2, 1], 6, greedy=True)
    seq = [2, 1]
    with torch.no_grad():
        for _ in range(6):  # reference: rerun the whole sequence each time
            seq.append(int(model(torch.tensor([seq]))[0, -1].argmax()))
    assert out == seq[2:]


def test_sampling_follows_softmax_over_temperature():
    logits = torch.tensor([1.0, 0.0, -1.0, 2.0])
    rng = np.random.default_rng(0)
    for temperature in (0.5, 2.0):
        draws = np.bincount([_pick(logits, temperature, False, rng) for _ in range(6000)],
                            minlength=4) / 6000
        expect = torch.softmax(logits / temperature, 0).numpy()
        assert np.abs(draws - expect).max() < 0.03
    assert _pick(logits, 1.0, True, rng) == 3


def test_free_run_feeds_predictions_back():
    model = build(chain(("x", "input", {"encoding": "numeric", "features": 1}),
                        ("g", "gru", {"hidden_size": 5}),
                        ("head", "linear", {"out_features": 1, "output": "identity"})), seed=1)
    context = np.sin(np.arange(10) * 0.5).astype(np.float32)
    got = free_run(model, context, 5)
    seq = torch.tensor(context).view(1, -1, 1)
    ref = []
    with torch.no_grad():
        for _ in range(5):
            y = model(seq)[0, -1]
            ref.append(y)
            seq = torch.cat([seq, y.view(1, 1, 1)], 1)
    assert got.shape == (5, 1)
    np.testing.assert_allclose(got, torch.stack(ref).numpy(), rtol=1e-5, atol=1e-6)


def test_free_run_needs_a_matching_values_head():
    two = build(chain(("x", "input", {"encoding": "numeric", "features": 2}),
                      ("g", "gru", {"hidden_size": 3}),
                      ("head", "linear", {"out_features": 1, "output": "identity"})))
    with pytest.raises(SequenceError, match="predicts 1 value.*2 feature"):
        free_run(two, np.zeros((4, 2), np.float32), 3)


def test_word_level_text_is_joined_with_spaces():
    ds = make_dataset({"source": "text", "text": "the cat sat . the dog ran .", "level": "word",
                       "window": 3})
    V = len(ds.vocab)
    model = build(chain(("x", "input", {"encoding": "onehot", "vocab_size": V}),
                        ("r", "lstm", {"hidden_size": 4}),
                        ("head", "linear", {"out_features": V})), seed=0)
    text = generate_text(model, ds, "the cat", 5, seed=0)
    assert len(ds.vocab.tokens(text)) == 5
    assert all(t in ds.vocab for t in ds.vocab.tokens(text))


def _tiny(V=3, seed=6):
    return build(chain(("x", "input", {"encoding": "onehot", "vocab_size": V}),
                       ("r", "lstm", {"hidden_size": 5}),
                       ("head", "linear", {"out_features": V})), seed=seed)


def _exhaustive(model, prompt, length, V):
    """Every continuation scored by full forward passes: the best and its log-probability."""
    import itertools

    best, best_score = None, -np.inf
    with torch.no_grad():
        for tail in itertools.product(range(V), repeat=length):
            seq = torch.tensor([list(prompt) + list(tail)])
            logp = torch.log_softmax(model(seq)[0].double(), -1)
            score = sum(float(logp[len(prompt) - 1 + i, c]) for i, c in enumerate(tail))
            if score > best_score:
                best, best_score = list(tail), score
    return best, best_score


@pytest.mark.parametrize("seed", [1, 6, 9])
def test_beam_search_wide_enough_is_exhaustive_search(seed):
    from playground.train.generate import beam_ids

    V, L, prompt = 3, 4, [2, 0]
    model = _tiny(V, seed)
    best, score = _exhaustive(model, prompt, L, V)
    ids, got = beam_ids(model, prompt, L, width=V ** (L - 1))
    assert ids == best and got == pytest.approx(score, abs=1e-6)   # (float32 model)
    # width 1 is greedy decoding
    assert beam_ids(model, prompt, L, width=1)[0] == generate_ids(model, prompt, L, greedy=True)
    # a wider beam never finds a worse sequence
    assert beam_ids(model, prompt, L, width=3)[1] >= beam_ids(model, prompt, L, width=1)[1] - 1e-6


def test_top_k_sampling_follows_the_renormalised_softmax():
    logits = torch.tensor([1.0, 0.0, -1.0, 2.0, 0.5])
    rng = np.random.default_rng(1)
    draws = np.bincount([_pick(logits, 1.0, False, rng, top_k=2) for _ in range(6000)],
                        minlength=5) / 6000
    top = torch.softmax(torch.tensor([1.0, 2.0]), 0).numpy()   # classes 0 and 3 only
    assert draws[[1, 2, 4]].sum() == 0
    assert abs(draws[0] - top[0]) < 0.03 and abs(draws[3] - top[1]) < 0.03


def test_bad_generation_options_are_refused_with_a_reason():
    model = _tiny()
    for kw, msg in [({"top_k": 0}, "top-k must be a whole number >= 1"),
                    ({"temperature": float("nan")}, "temperature must be a number >= 0")]:
        with pytest.raises(SequenceError, match=msg):
            generate_ids(model, [1], 3, **kw)
    with pytest.raises(SequenceError, match="length must be a whole number"):
        generate_ids(model, [1], -2)
