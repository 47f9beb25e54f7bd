"""The presets for the concepts of issue 13: their shipped weights reach the numbers their
descriptions state, and each comparison comes out in the order it claims.

Everything is measured here with plain torch on the task's own held-out data (the
validation batch, and for the encoder-decoder pair a held-out batch of each string length),
never with the training engine's metric code. Each preset's claims are listed in
:data:`CLAIMS` (shared with ``test_trained_presets.py``); every claimed number must appear
in the preset's description or outcome, so text and weights cannot drift apart.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from playground.files.experiment import PRESETS_DIR, load, weights_path

pytestmark = pytest.mark.usefixtures("one_thread")

# preset -> {measure: (claimed value, tolerance)}; measures as in measure() below
CLAIMS: dict[str, dict[str, tuple[float, float]]] = {
    "vitals_one_to_one": {"accuracy": (1.0, 0.0)},
    "compare_rnn": {"accuracy": (0.25, 0.02)},
    "compare_lstm": {"accuracy": (0.80, 0.02)},
    "compare_transformer": {"accuracy": (1.0, 0.0)},
    "encdec_no_attention": {"at 4": (1.00, 0.005), "at 8": (1.00, 0.005),
                            "at 12": (0.96, 0.005), "at 16": (0.87, 0.005)},
    "encdec_attention": {"at 4": (1.00, 0.005), "at 8": (1.00, 0.005),
                         "at 12": (1.00, 0.005), "at 16": (0.99, 0.005)},
    "tagger_unidirectional": {"accuracy": (0.34, 0.01)},
    "tagger_bidirectional": {"accuracy": (1.0, 0.0)},
    "activation_tanh": {"mse": (0.175, 0.001)},
    "activation_relu": {"mse": (0.00075, 0.00005)},
    "init_orthogonal_adding": {"mse": (0.0049, 0.0001)},
    "init_normal_adding": {"mse": (0.017, 0.001)},
    "init_orthogonal_order": {"accuracy": (1.0, 0.0)},
    "init_normal_order": {"accuracy": (0.22, 0.01)},
}
# (better, worse, margin): accuracy higher by the margin, or an MSE that many times smaller
ORDERINGS = [
    ("compare_transformer", "compare_lstm", 0.1),
    ("compare_lstm", "compare_rnn", 0.3),
    ("tagger_bidirectional", "tagger_unidirectional", 0.5),
    ("activation_relu", "activation_tanh", 100),
    ("init_orthogonal_adding", "init_normal_adding", 3),
    ("init_orthogonal_order", "init_normal_order", 0.5),
]
LENGTHS = (4, 8, 12, 16)


def shipped(name):
    """The preset and its model with the weights read straight from the file."""
    exp = load(PRESETS_DIR / f"{name}.json", weights=False)
    obj = torch.load(weights_path(exp.path), map_location="cpu", weights_only=True)
    model = exp.build_model(weights=False)
    model.load_state_dict(obj["state"])
    return exp, model.eval(), obj["trained"]


def feed(model, batch):
    """The batch as the model's inputs: each input node takes the sequence of its role."""
    out = {}
    for nid in model.input_ids:
        x = torch.as_tensor(batch.inputs[nid if nid in batch.inputs else "x"])
        out[nid] = x.float() if x.dtype.is_floating_point else x.long()
    return out


@torch.no_grad()
def measure(model, batch) -> dict[str, float]:
    """accuracy / sequences / ce over the steps that carry loss, or mse for values."""
    out = model(feed(model, batch))
    y, m = torch.as_tensor(batch.targets), torch.as_tensor(batch.mask) > 0
    if y.dtype.is_floating_point:
        return {"mse": float((out - y).pow(2).mean(-1)[m].mean())}
    right = out.argmax(-1) == y
    ce = F.cross_entropy(out.transpose(1, 2), y, reduction="none")
    return {"accuracy": float(right[m].float().mean()),
            "sequences": float((right | ~m).all(1).float().mean()),
            "ce": float(ce[m].mean())}


def measured(name, exp, model, ds) -> dict[str, float]:
    """Every measure CLAIMS may name for this preset."""
    v = measure(model, ds.validation())
    if hasattr(ds, "at_length"):
        for L in LENGTHS:
            v[f"at {L}"] = measure(model, ds.at_length(L))["accuracy"]
    return v


def matches(v: dict[str, float], claims: dict[str, tuple[float, float]]) -> bool:
    return all(abs(v[k] - value) <= tol + 1e-9 for k, (value, tol) in claims.items())


def _shown(value: float) -> list[str]:
    return [f"{value:.2f}", f"{value:g}", f"{value:.3g}"]


_CACHE: dict[str, dict[str, float]] = {}


def results(name) -> dict[str, float]:
    if name not in _CACHE:
        exp, model, _ = shipped(name)
        _CACHE[name] = measured(name, exp, model, exp.make_dataset())
    return _CACHE[name]


@pytest.mark.parametrize("name", list(CLAIMS))
def test_shipped_weights_reach_the_numbers_the_description_states(name):
    exp, model, record = shipped(name)
    assert record["status"] == "done" and record["steps"] == exp.train.steps
    v = results(name)
    assert matches(v, CLAIMS[name]), (name, v)
    text = exp.description + " " + exp.outcome
    for value, _ in CLAIMS[name].values():
        assert any(s in text for s in _shown(value)), (name, value)
    assert exp.lesson, name                  # a lesson in the schema of lessons.py
    untrained = exp.build_model(weights=False).eval()
    assert not matches(measured(name, exp, untrained, exp.make_dataset()), CLAIMS[name])


@pytest.mark.parametrize("better, worse, margin", ORDERINGS)
def test_each_comparison_comes_out_in_the_claimed_order(better, worse, margin):
    a, b = results(better), results(worse)
    if "mse" in a:
        assert a["mse"] * margin < b["mse"], (a, b)
    else:
        assert a["accuracy"] > b["accuracy"] + margin, (a, b)
    one, two = (load(PRESETS_DIR / f"{n}.json", weights=False) for n in (better, worse))
    assert one.data == two.data and one.seed == two.seed     # the same task and seed
    assert worse in one.description + one.outcome and better in two.description + two.outcome


def test_comparisons_change_only_what_they_compare():
    def load_(n):
        return load(PRESETS_DIR / f"{n}.json", weights=False)

    relu, tanh = load_("activation_relu"), load_("activation_tanh")
    assert relu.train == tanh.train
    r, t = relu.graph.node("rnn").params, tanh.graph.node("rnn").params
    assert {k: v for k, v in r.items() if k != "nonlinearity"} == \
        {k: v for k, v in t.items() if k != "nonlinearity"}
    assert (r["nonlinearity"], t["nonlinearity"]) == ("relu", "tanh")
    for task in ("adding", "order"):
        o, n = load_(f"init_orthogonal_{task}"), load_(f"init_normal_{task}")
        assert o.graph.to_dict() == n.graph.to_dict()
        assert (o.train.init, n.train.init) == ("orthogonal", "normal")
        assert {**o.train.to_dict(), "init": "-"} == {**n.train.to_dict(), "init": "-"}
        # "normal" with scale 1 draws W_hh ~ N(0, 1/H): std 0.1 for these 100 units
        model = n.build_model(weights=False)
        w = model.layers["rnn"].rnn.weight_hh_l0.detach()
        assert w.shape == (100, 100) and 0.095 < float(w.std()) < 0.105
        q = o.build_model(weights=False).layers["rnn"].rnn.weight_hh_l0.detach()
        assert torch.allclose(q @ q.T, torch.eye(100), atol=1e-5)
        # the input weights come from the same scheme in both (Xavier)
        w_ih = model.layers["rnn"].rnn.weight_ih_l0.detach()
        assert float(w_ih.abs().max()) <= (6 / (100 + w_ih.shape[1])) ** 0.5
    uni, bi = load_("tagger_unidirectional"), load_("tagger_bidirectional")
    assert uni.train == bi.train
    assert not uni.graph.node("lstm").params["bidirectional"]
    assert bi.graph.node("lstm").params["bidirectional"]
    trios = [load_(f"compare_{k}") for k in ("rnn", "lstm", "transformer")]
    assert all(e.train == trios[0].train and e.data == trios[0].data for e in trios)
    plain, att = load_("encdec_no_attention"), load_("encdec_attention")
    assert plain.train == att.train
    assert {n.id for n in att.graph.nodes} - {n.id for n in plain.graph.nodes} == {"attention"}


def test_attention_keeps_long_strings_where_the_final_state_loses_them():
    plain, att = results("encdec_no_attention"), results("encdec_attention")
    assert plain["at 4"] - plain["at 16"] > 0.1               # accuracy falls with length
    assert all(plain[f"at {a}"] >= plain[f"at {b}"] - 0.005
               for a, b in zip(LENGTHS, LENGTHS[1:]))
    assert att["at 16"] > plain["at 16"] + 0.1
    assert min(att[f"at {L}"] for L in LENGTHS) > 0.98


def test_the_unidirectional_tagger_only_guesses_what_it_has_not_read():
    exp, model, _ = shipped("tagger_unidirectional")
    ds = exp.make_dataset()
    b = ds.validation()
    with torch.no_grad():
        pred = model(feed(model, b)).argmax(-1).numpy()
    ahead = exp.data["params"]["ahead"]
    body = (pred[:, :-ahead] == b.targets[:, :-ahead]).mean()
    assert body < 0.25 + 0.06                                 # chance, 1 in 4
    assert (pred[:, -ahead:] == ds.end_id).all()              # the end tags are known


def test_vitals_beat_the_commonest_class():
    exp, model, _ = shipped("vitals_one_to_one")
    ds = exp.make_dataset()
    y = ds.validation().targets[:, 0]
    commonest = np.bincount(y).max() / len(y)
    assert commonest == pytest.approx(0.375)
    fresh = ds.generate(20_000, np.random.default_rng(5))
    assert measure(model, fresh)["accuracy"] > 0.97
