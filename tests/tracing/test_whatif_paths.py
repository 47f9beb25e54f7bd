"""Interventions on every path, and the incremental what-if (``trace(..., base=...)``).

The reference for the compiled and fused paths is the step-by-step autograd unroll
(``path="stepwise"``): a different implementation of the same change, whose gradients
autograd derives through the overwritten values itself. Each quantity a cell has is
clamped or overwritten, for some units and a span of steps, in a forward and a reverse
direction, in a stack of two layers, with truncated BPTT.
"""

import numpy as np
import pytest
import torch

from playground.model.build import build
from playground.model.spec import chain
from playground.tracing import Intervention, compiled, trace

TARGETS = {"lstm": "ifgoch", "gru": "rznh", "rnn": "h"}
FIELDS = ("h", "c", "dh", "dc", "dh_dropped")


def model_of(kind, bidirectional=False, layers=2, H=5, V=4, **extra):
    g = chain(("x", "input", {"encoding": "onehot", "vocab_size": V}),
              ("rec", kind, {"hidden_size": H, "num_layers": layers,
                             "bidirectional": bidirectional, **extra}),
              ("head", "linear", {"out_features": V}))
    return build(g, seed=7).double()


def data(B=2, T=11, V=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randint(0, V, (B, T), generator=gen),
            torch.randint(0, V, (B, T), generator=gen))


def same(a, b, rtol=1e-10, what=""):
    assert a.loss == pytest.approx(b.loss, rel=1e-12), what
    for ra, rb in zip(a.layers, b.layers):
        for f in FIELDS:
            va, vb = getattr(ra, f, None), getattr(rb, f, None)
            if va is None or vb is None:
                continue
            np.testing.assert_allclose(va, vb, rtol=rtol, atol=1e-13,
                                       err_msg=f"{what} {ra.label} {f}")
        for k in getattr(ra, "gates", {}):
            np.testing.assert_allclose(ra.gates[k], rb.gates[k], rtol=rtol, atol=1e-13,
                                       err_msg=f"{what} {ra.label} gate {k}")
    for k in a.param_grads:
        np.testing.assert_allclose(a.param_grads[k], b.param_grads[k], rtol=1e-9, atol=1e-13,
                                   err_msg=f"{what} grad {k}")


@pytest.mark.parametrize("path", ["compiled", "fused"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_every_quantity_clamped_matches_the_unroll(kind, path):
    if path == "compiled" and not compiled.installed():
        pytest.skip("numba not installed")
    extra = {"nonlinearity": "relu"} if kind == "rnn" else {}
    model = model_of(kind, bidirectional=True, **extra)
    x, y = data()
    for target in TARGETS[kind]:
        value = 0.9 if target in "ifoz" else -0.4
        ivs = [Intervention("rec", 3, target, value, units=(0, 2), span=4),
               Intervention("rec", 6, target, value, layer=1, direction=1, span=None),
               Intervention("rec", 5, target, 0.1, layer=0, direction=1)]
        ours = trace(model, x, y, tbptt=4, interventions=ivs, path=path)
        ref = trace(model, x, y, tbptt=4, interventions=ivs, path="stepwise")
        same(ours, ref, what=f"{kind} {target}")
        # and it did change something
        plain = trace(model, x, y, tbptt=4, path=path)
        assert np.abs(plain.layer("rec", 1, 1).h - ours.layer("rec", 1, 1).h).max() > 1e-6


@pytest.mark.parametrize("path", ["auto", "compiled", "fused"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_a_what_if_on_the_current_trace_equals_a_fresh_one(kind, path):
    model = model_of(kind, bidirectional=kind == "gru")
    x, y = data(T=40)
    base = trace(model, x, y, path=path)
    iv = [Intervention("rec", 20, "h", 0.5, units=(1,), layer=1)]
    inc = trace(model, x, y, interventions=iv, path=path, base=base)
    fresh = trace(model, x, y, interventions=iv, path=path)
    same(inc, fresh, what="what-if")
    # the steps before the change are the base's, bit for bit
    for l in range(2):
        np.testing.assert_array_equal(inc.layer("rec", l).h[:, :20], base.layer("rec", l).h[:, :20])


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_an_edited_sequence_reuses_the_unchanged_prefix(kind, monkeypatch):
    from playground.tracing import recurrent

    model = model_of(kind)
    x, y = data(T=30)
    base = trace(model, x, y)
    x2 = x.clone()
    x2[:, 25:] = (x2[:, 25:] + 1) % 4
    starts = []
    original = recurrent.run_forward
    monkeypatch.setattr(recurrent, "run_forward",
                        lambda run, *a: starts.append(run.start) or original(run, *a))
    inc = trace(model, x2, y, base=base)
    assert starts == [25, 25]   # both layers start where their input first differs
    monkeypatch.setattr(recurrent, "run_forward", original)
    same(inc, trace(model, x2, y), what="edited")


def test_a_base_from_other_weights_is_not_reused():
    """After an optimiser step (or any in-place change of a weight) the base no longer
    describes the model: the trace starts from scratch."""
    model = model_of("lstm")
    x, y = data()
    base = trace(model, x, y)
    with torch.no_grad():
        model.layers["rec"].rnn.weight_hh_l0.mul_(1.5)
    iv = [Intervention("rec", 8, "f", 0.0)]
    inc = trace(model, x, y, interventions=iv, base=base)
    same(inc, trace(model, x, y, interventions=iv), what="changed weights")
    assert np.abs(inc.layer("rec").h[:, :8] - base.layer("rec").h[:, :8]).max() > 1e-6


def test_a_base_of_another_model_is_ignored_and_one_of_another_length_reused():
    model = model_of("gru")
    x, y = data(T=12)
    other = trace(model_of("gru", layers=1), x, y)
    short = trace(model, x[:, :6], y[:, :6])
    for base in (other, short):
        same(trace(model, x, y, base=base), trace(model, x, y), what="other base")


def _starts(monkeypatch):
    """The run-order step each recurrent forward pass starts from, as traces run."""
    from playground.tracing import recurrent

    starts = []
    original = recurrent.run_forward
    monkeypatch.setattr(recurrent, "run_forward",
                        lambda run, *a: starts.append(run.start) or original(run, *a))
    return starts


@pytest.mark.parametrize("path", ["compiled", "fused"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_a_sequence_typed_further_or_cut_short_keeps_its_first_steps(kind, path, monkeypatch):
    """Typing at the end of a text: the forward pass of the steps already there is the
    last trace's (bit for bit), and the trace equals a fresh one; a shorter text reuses
    all its steps. A bidirectional layer's reverse direction starts from the end."""
    if path == "compiled" and not compiled.installed():
        pytest.skip("numba not installed")
    model = model_of(kind)
    x, y = data(T=30)
    base = trace(model, x[:, :24], y[:, :24], path=path)
    starts = _starts(monkeypatch)
    for T in (25, 30, 17):
        starts.clear()
        inc = trace(model, x[:, :T], y[:, :T], path=path, base=base)
        assert starts == [min(T, 24)] * 2
        same(inc, trace(model, x[:, :T], y[:, :T], path=path), what=f"T={T}")
        for l in range(2):
            np.testing.assert_array_equal(inc.layer("rec", l).h[:, :min(T, 24)],
                                          base.layer("rec", l).h[:, :min(T, 24)])
    bi = model_of(kind, bidirectional=True)
    base = trace(bi, x[:, :24], y[:, :24], path=path)
    inc = trace(bi, x, y, path=path, base=base)
    same(inc, trace(bi, x, y, path=path), what="bidirectional, typed further")


@pytest.mark.parametrize("path", ["compiled", "fused"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_a_base_traced_with_a_what_if_is_reused_only_before_it(kind, path, monkeypatch):
    """A base whose layer was changed at step 8 holds no plain values from there on: a
    trace without the change (or with another) recomputes from step 8, and equals a
    fresh trace."""
    if path == "compiled" and not compiled.installed():
        pytest.skip("numba not installed")
    model = model_of(kind)
    x, y = data(T=20)
    target = TARGETS[kind][0]
    on_first = [Intervention("rec", 8, target, 0.0, layer=0)]
    on_second = [Intervention("rec", 8, "h", 0.3, layer=1, span=None)]
    starts = _starts(monkeypatch)
    for base_ivs, new_ivs, expect in ((on_first, [], [8, 8]), (on_second, [], [20, 8]),
                                      (on_second, on_first, [8, 8])):
        base = trace(model, x, y, interventions=base_ivs, path=path)
        starts.clear()
        inc = trace(model, x, y, interventions=new_ivs, path=path, base=base)
        assert starts == expect
        same(inc, trace(model, x, y, interventions=new_ivs, path=path),
             what=f"base {base_ivs}, new {new_ivs}")
