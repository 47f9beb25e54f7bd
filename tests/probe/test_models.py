"""playground.inspect on six models written the way people write them, each against an
independent float64 unroll with torch cells and retain_grad (tests/probe/reference.py)."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import playground as pg
from playground.errors import SequenceError

from . import models
from .reference import gates, reference, rel, stacked

TOL = 2e-5            # relative to the largest reference value, float32 against float64
WORST: dict[str, float] = {}


def check(name, got, want):
    e = rel(got, want)
    WORST[name] = max(WORST.get(name, 0.0), e)
    assert e < TOL, f"{name}: relative error {e:.2e}"


def compare(tr, model, inputs, targets, loss_fn, ivs=(), paths=("auto",)):
    """The trace's records, outputs, loss and gradients against the reference."""
    out, loss, log, params = reference(model, inputs, targets, loss_fn, ivs)
    first = out[0] if isinstance(out, tuple) else out
    check("outputs", tr.outputs, first.detach().numpy())
    assert tr.loss == pytest.approx(loss.item(), rel=1e-5)
    seen = 0
    for key, rec in log.items():
        if len(key) == 4:                       # a recurrent layer-direction
            node, call, layer, d = key
            got = [r for r in tr.layers if r.node == node and r.layer == layer
                   and r.direction == d and getattr(r, "call", 0) == call]
            assert len(got) == 1, key
            r = got[0]
            check("h", r.h, stacked(rec, "h"))
            check("dL/dh", r.dh, stacked(rec, "h", grad=True))
            for letter in r.gates:
                check("gates", r.gates[letter], gates(rec, letter))
            if r.kind == "lstm":
                check("c", r.c, stacked(rec, "c"))
                check("dL/dc", r.dc, stacked(rec, "c", grad=True))
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            for w, g in r.weight_grads.items():
                check("dL/dW", g, params[f"{node}.{w}{sfx}"].grad.numpy())
        else:                                   # attention
            node, call = key
            r = [a for a in tr.layers if a.node == node and getattr(a, "call", 0) == call][0]
            o = rec["out"]
            bf = rec["batch_first"]
            check("attention weights", r.weights, rec["weights"].numpy())
            check("attention out", r.out, (o if bf else o.transpose(0, 1)).detach().numpy())
            g = o.grad if bf else o.grad.transpose(0, 1)
            check("attention dL/dout", r.dout, g.numpy())
        seen += 1
    assert seen == len(tr.layers)
    for n, p in params.items():
        if p.grad is not None:
            check("param grads", tr.param_grads[n], p.grad.numpy())
    return log


def untouched(model, run):
    """``run()`` leaves the model's outputs, weights, .grad fields and mode as they were."""
    state = copy.deepcopy(model.state_dict())
    grads = {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}
    modes = [m.training for m in model.modules()]
    result = run()
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k])
    for n, p in model.named_parameters():
        assert (p.grad is None) == (grads[n] is None)
        if p.grad is not None:
            assert torch.equal(p.grad, grads[n])
    assert [m.training for m in model.modules()] == modes
    assert all("forward" not in vars(m) for m in model.modules())
    return result


@pytest.mark.parametrize("path", ["auto", "compiled", "fused", "stepwise"])
def test_char_lm_two_layer_lstm(path):
    torch.manual_seed(0)
    model = models.CharLM()
    x = torch.randint(0, 12, (3, 9))
    y = torch.roll(x, -1, 1)
    tr = untouched(model, lambda: pg.inspect(model, x, y, models.lm_loss, path=path))
    np.testing.assert_allclose(tr.outputs, model(x)[0].detach().numpy(), rtol=1e-5, atol=1e-6)
    assert [(r.node, r.layer) for r in tr.layers] == [("lstm", 0), ("lstm", 1)]
    assert tr.step_loss.shape == (3, 9)
    compare(tr, model, x, y, models.lm_loss)
    iv = pg.Intervention(node="lstm", step=5, target="f", value=1.0, layer=1)
    tr = pg.inspect(model, x, y, models.lm_loss, [iv], path=path)
    assert np.all(tr.layers[1].gates["f"][:, 5] == 1.0)
    compare(tr, model, x, y, models.lm_loss, [iv])


def test_bidirectional_gru_tagger_packed_time_major():
    torch.manual_seed(1)
    model = models.Tagger()
    lengths = torch.tensor([4, 7, 2, 7])
    tokens = torch.zeros(7, 4, dtype=torch.long)
    gold = torch.full((7, 4), -100)
    for b, n in enumerate(lengths.tolist()):
        tokens[:n, b] = torch.randint(1, 20, (n,))
        gold[:n, b] = torch.randint(0, 5, (n,))
    tr = untouched(model, lambda: pg.inspect(model, (tokens, lengths), gold, models.tagger_loss))
    np.testing.assert_allclose(tr.outputs, model(tokens, lengths).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    assert {(r.node, r.direction) for r in tr.layers} == {("encoder.rnn", 0),
                                                          ("encoder.rnn", 1)}
    assert np.all(tr.layers[0].h[2, 2:] == 0)              # past the sequence's end
    compare(tr, model, (tokens, lengths), gold, models.tagger_loss)
    iv = pg.Intervention(node="encoder.rnn", step=1, target="h", value=0.5, units=(0, 3),
                         direction=1)
    tr = pg.inspect(model, (tokens, lengths), gold, models.tagger_loss, [iv])
    compare(tr, model, (tokens, lengths), gold, models.tagger_loss, [iv])


def test_gru_encoder_decoder_with_multihead_attention():
    torch.manual_seed(2)
    model = models.Seq2Seq()
    src, tgt = torch.randint(0, 10, (2, 6)), torch.randint(0, 9, (2, 5))
    y = torch.randint(0, 9, (2, 5))
    tr = untouched(model, lambda: pg.inspect(model, (src, tgt), y, models.seq2seq_loss))
    a = [r for r in tr.layers if r.node == "attn"][0]
    assert a.weights.shape == (2, 2, 5, 6) and a.kind == "cross_attention"
    compare(tr, model, (src, tgt), y, models.seq2seq_loss)
    iv = pg.Intervention(node="enc", step=2, target="z", value=0.0, span=None)
    tr = pg.inspect(model, (src, tgt), y, models.seq2seq_loss, [iv])
    compare(tr, model, (src, tgt), y, models.seq2seq_loss, [iv])


def test_relu_rnn_regressor_explicit_h0_loss_at_last_step():
    torch.manual_seed(3)
    model = models.Regressor()
    x, h0 = torch.randn(4, 8, 3), 0.1 * torch.randn(1, 4, 10)
    y = torch.randn(4, 1)
    tr = untouched(model, lambda: pg.inspect(model, (x, h0), y, F.mse_loss))
    r = tr.layers[0]
    assert r.nonlinearity == "relu"
    np.testing.assert_allclose(r.h0, h0[0].numpy())
    compare(tr, model, (x, h0), y, F.mse_loss)
    iv = pg.Intervention(node="rnn", step=2, target="h", value=0.3)
    tr = pg.inspect(model, (x, h0), y, F.mse_loss, [iv])
    compare(tr, model, (x, h0), y, F.mse_loss, [iv])


def test_the_same_lstm_called_twice():
    torch.manual_seed(4)
    model = models.Siamese()
    a, b = torch.randn(3, 5, 4), torch.randn(3, 7, 4)
    y = torch.ones(3)

    def loss(o, t):
        return ((o - t) ** 2).mean()
    tr = untouched(model, lambda: pg.inspect(model, (a, b), y, loss))
    assert [(r.node, r.call, r.steps if hasattr(r, "steps") else r.h.shape[1])
            for r in tr.layers] == [("lstm", 0, 5), ("lstm", 1, 7)]
    compare(tr, model, (a, b), y, loss)
    iv = pg.Intervention(node="lstm", step=1, target="c", value=-0.5, units=(2,))
    tr = pg.inspect(model, (a, b), y, loss, [iv])
    compare(tr, model, (a, b), y, loss, [iv])


def test_transformer_encoder_records_every_layer_with_per_head_weights():
    torch.manual_seed(5)
    model = models.TinyTransformer().eval()
    x, y = torch.randn(2, 6, 5), torch.randint(0, 3, (2, 6))

    def loss(o, t):
        return F.cross_entropy(o.transpose(1, 2), t)
    tr = untouched(model, lambda: pg.inspect(model, x, y, loss))
    assert [r.node for r in tr.layers] == ["encoder.layers.0.self_attn",
                                           "encoder.layers.1.self_attn"]
    w = tr.layers[0].weights
    assert w.shape == (2, 2, 6, 6) and np.all(np.triu(w[0, 0], 1) == 0)   # causal
    compare(tr, model, x, y, loss)
    with pytest.raises(SequenceError, match="no recurrent module of that name"):
        pg.inspect(model, x, y, loss, [pg.Intervention(node="encoder", step=1, target="h",
                                                       value=0.0)])


def test_worst_errors_are_reported():
    print({k: f"{v:.1e}" for k, v in sorted(WORST.items())})
