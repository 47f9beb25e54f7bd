"""Encoder-decoder and one-to-many generation, and reading a prompt the way a task does,
checked against references written out here: full forward passes of the model with the
growing target prefix, and exhaustive search over a tiny vocabulary."""

import itertools

import numpy as np
import pytest
import torch

from playground.errors import SequenceError
from playground.files.experiment import load, resolve
from playground.model.build import build
from playground.model.spec import EdgeSpec, GraphSpec, NodeSpec
from playground.train import TrainConfig, Trainer
from playground.train import generate as C
from playground.train.decoding import decode_beam, decode_ids, free_run

pytestmark = pytest.mark.usefixtures("one_thread")

START, END, CLASSES = 3, 2, 3   # target ids: 0, 1, the end (2); the decoder also reads <s> (3)


def enc_dec(seed: int, attention: bool = False):
    """src (4 symbols) -> GRU encoder -> the state of a GRU decoder that reads tgt (the
    classes and the start symbol) -> (cross-attention over the encoder ->) a head over the
    classes. Scaled so that every step depends on the prefix, the end not always first."""
    n = [NodeSpec("src", "input", {"encoding": "embedding", "vocab_size": 4, "embed_dim": 5}),
         NodeSpec("enc", "gru", {"hidden_size": 6}),
         NodeSpec("tgt", "input", {"encoding": "onehot", "vocab_size": CLASSES + 1}),
         NodeSpec("dec", "gru", {"hidden_size": 6}),
         NodeSpec("head", "linear", {"out_features": CLASSES})]
    e = [EdgeSpec("src", "enc"), EdgeSpec("tgt", "dec"), EdgeSpec("enc", "dec", "state")]
    if attention:
        n.insert(4, NodeSpec("att", "cross_attention", {"num_heads": 1}))
        e += [EdgeSpec("dec", "att"), EdgeSpec("enc", "att", "memory"),
              EdgeSpec("att", "head")]
    else:
        e.append(EdgeSpec("dec", "head"))
    model = build(GraphSpec(n, e), seed=seed)
    with torch.no_grad():
        head = model.layers["head"]
        head.weight.mul_(3.0)
        head.bias.zero_()
        head.bias[END] -= 1.0
        for name, p in model.layers["dec"].named_parameters():
            if "weight_ih" in name:
                p.mul_(3.0)
    return model.eval()


def logits_after(model, src, prefix):
    """Reference: the whole model on the source and the target prefix <s> + prefix; the
    logits of the last step."""
    with torch.no_grad():
        out = model({"src": torch.tensor([src]), "tgt": torch.tensor([[START, *prefix]])})
    return out[0, -1].double()


@pytest.mark.parametrize("seed, attention", [(2, False), (4, False), (6, False), (0, True)])
def test_greedy_decoding_is_repeated_full_forward_argmax(seed, attention):
    model = enc_dec(seed, attention)
    src = [0, 3, 1, 2, 2]
    ref: list[int] = []
    for _ in range(8):   # no end symbol: eight argmaxes of the growing prefix
        ref.append(int(logits_after(model, src, ref).argmax()))
    assert decode_ids(model, src, 8, start_id=START, greedy=True) == ref
    # with an end symbol it stops there, the end kept
    end = ref[2]
    stop = ref.index(end) + 1
    assert decode_ids(model, src, 8, start_id=START, end_id=end, greedy=True) == ref[:stop]
    assert decode_ids(model, src, 2, start_id=START, greedy=True) == ref[:2]


def exhaustive(model, src, length):
    """Every output sequence (ending at the end symbol, or after ``length``) scored by full
    forward passes: the best and its log-probability."""
    best, best_score = None, -np.inf
    seen = set()
    for tail in itertools.product(range(CLASSES), repeat=length):
        seq = list(tail[:tail.index(END) + 1]) if END in tail else list(tail)
        if tuple(seq) in seen:
            continue
        seen.add(tuple(seq))
        score = sum(float(torch.log_softmax(logits_after(model, src, seq[:i]), -1)[c])
                    for i, c in enumerate(seq))
        if score > best_score:
            best, best_score = seq, score
    return best, best_score


@pytest.mark.parametrize("seed", [1, 3, 4, 6])
def test_beam_search_wide_enough_is_exhaustive_search(seed):
    model = enc_dec(seed)
    src, L = [2, 0, 1], 4
    best, score = exhaustive(model, src, L)
    ids, got = decode_beam(model, src, L, CLASSES ** L, start_id=START, end_id=END)
    assert ids == best and got == pytest.approx(score, abs=1e-6)
    # width 1 is greedy; here (seeds 3, 4, 6) greedy misses the best sequence
    greedy = decode_ids(model, src, L, start_id=START, end_id=END, greedy=True)
    assert decode_beam(model, src, L, 1, start_id=START, end_id=END)[0] == greedy
    assert (greedy != best) == (seed != 1)


def test_sampled_decoding_follows_the_softmax():
    model = enc_dec(5)
    src = [1, 2, 3]
    p = torch.softmax(logits_after(model, src, []) / 2.0, -1).numpy()
    draws = [decode_ids(model, src, 1, start_id=START, temperature=2.0, seed=s)[0]
             for s in range(1500)]
    freq = np.bincount(draws, minlength=CLASSES) / len(draws)
    assert np.abs(freq - p).max() < 0.04


def test_the_reverse_preset_reads_the_prompt_as_its_source():
    exp = load(resolve("reverse_attention"))
    model, ds = exp.build_model(), exp.make_dataset()
    assert C.how_it_generates(model, ds) == "source"
    prompt, length = C.suggest(model, ds)
    assert len(prompt) == 6 and length >= 7
    g = C.generate(model, ds, "abcd", 12, mode="greedy")
    v = ds.vocab
    src = v.encode("abcd").tolist()
    ref: list[int] = []
    model.eval()
    with torch.no_grad():
        while len(ref) < 12 and (not ref or ref[-1] != v.index["</s>"]):
            tgt = torch.tensor([[v.index["<s>"], *ref]])
            ref.append(int(model({"src": torch.tensor([src]), "tgt": tgt})[0, -1].argmax()))
    assert list(g.continuation) == v.decode(ref) and g.prompt == tuple("abcd")
    assert g.truth == ("d", "c", "b", "a", "</s>") and g.input_text == "abcd"
    with pytest.raises(SequenceError, match="prompt: symbol 'z' at position 3"):
        C.generate(model, ds, "abz", 5)


def test_a_trained_one_to_many_model_spells_the_word_and_stops():
    exp = load(resolve("spell_one_to_many"))
    model, ds = exp.build_model(weights=False), exp.make_dataset()
    assert C.how_it_generates(model, ds) == "first"
    # untrained: greedy is the argmax of full forward passes on the first letter and blanks
    blank, first = ds.vocab.index["_"], ds.vocab.index["w"]
    g = C.generate(model, ds, "w", 6, mode="greedy")
    ref = []
    with torch.no_grad():
        for t in range(len(g.continuation)):
            x = torch.tensor([[first, *[blank] * t]])
            ref.append(int(model(x)[0, -1].argmax()))
    assert list(g.continuation) == ds.classes.decode(ref) and g.input_text == "w"
    # trained: "h" -> "ello.", greedy and beam, beside the task's answer
    Trainer(model, ds, TrainConfig(lr=0.02, batch_size=8, steps=300, device="cpu",
                                   val_every=0)).run()
    for mode in ("greedy", "beam"):
        g = C.generate(model, ds, "h", 20, mode=mode, beam=3)
        assert g.text == "ello." and g.ended and g.truth == tuple("ello.")
    assert C.generate(model, ds, "s", 20).text == "equence."
    with pytest.raises(SequenceError, match="prompt: type one start letter"):
        C.generate(model, ds, "hx", 3)


def test_values_free_run_in_the_data_units_beside_the_truth():
    exp = load(resolve("gru_sine"))
    model, ds = exp.build_model(), exp.make_dataset()
    prompt, length = C.suggest(model, ds)
    g = C.generate(model, ds, prompt, length)
    x = ds.example().inputs["x"][0]
    k = len(g.prompt)
    np.testing.assert_allclose(g.prompt, x[:k], atol=1e-3)
    np.testing.assert_allclose(g.continuation, free_run(model, g.prompt, length), rtol=1e-5)
    np.testing.assert_allclose(g.truth, ds.example().targets[0][k - 1:], rtol=1e-6)
    assert g.text.count(",") == length - 1 and g.input_text.count(",") == k + length - 1
    # another prompt: no truth; sampling is for token models
    assert C.generate(model, ds, "0, 0.1, 0.2", 3).truth is None
    with pytest.raises(SequenceError, match="sampling and beam search are for token"):
        C.generate(model, ds, prompt, 3, mode="beam")


@pytest.mark.parametrize("name, why", [
    ("classify_order", "one answer per sequence"),
    ("toy_attention_heads", "one answer per sequence"),
    ("lstm_forget_gate", "not next-symbol prediction"),
    ("adding_rnn", "not its next input")])
def test_models_that_cannot_generate_say_why(name, why):
    exp = load(resolve(name))
    model, ds = exp.build_model(), exp.make_dataset()
    assert why in C.generation_problem(model, ds)
    with pytest.raises(SequenceError, match=why):
        C.generate(model, ds, "ab", 3)


def test_language_model_prompt_and_modes():
    exp = load(resolve("hello_rnn"))
    model, ds = exp.build_model(), exp.make_dataset()
    assert C.suggest(model, ds) == ("h", 4)
    g = C.generate(model, ds, "he", 3, mode="sample", temperature=0.7, top_k=2, seed=4)
    assert g == C.generate(model, ds, "he", 3, mode="sample", temperature=0.7, top_k=2, seed=4)
    assert g.input_text == "he" + g.text and len(g.continuation) == 3 and g.truth is None
    with pytest.raises(SequenceError, match="the mode must be one of"):
        C.generate(model, ds, "h", 3, mode="nucleus")
    with pytest.raises(SequenceError, match="the prompt is empty"):
        C.generate(model, ds, "", 3)
