"""Traces agree with PyTorch's own modules on the same weights and input.

References are computed here with ``torch.nn`` modules only (``nn.LSTM`` and friends,
run whole for outputs and weight gradients and one step per call for the per-step
state gradients), independently of the code under test.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from playground.model.build import build
from playground.model.spec import chain
from playground.tracing import trace

NN = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def close(actual, expected, rtol, what=""):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(np.abs(expected).max(), 1e-30)
    err = np.abs(actual - expected).max() / scale
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol:g}"


def make(kind, V, H, L, dtype, seed=0, **extra):
    params = {"hidden_size": H, "num_layers": L, **extra}
    g = chain(("x", "input", {"encoding": "onehot", "vocab_size": V}), ("rec", kind, params),
              ("head", "linear", {"out_features": V}))
    return build(g, seed=seed).to(dtype)


def reference(model, kind, x, y, mask, tbptt=None):
    """nn.LSTM/GRU/RNN + nn.Linear with the model's weights: whole-sequence outputs and
    weight grads, and step-at-a-time per-step state gradients."""
    rnn_src = model.layers["rec"].rnn
    kw = {"nonlinearity": rnn_src.nonlinearity} if kind == "rnn" else {}
    rnn = NN[kind](rnn_src.input_size, rnn_src.hidden_size, rnn_src.num_layers,
                   bias=rnn_src.bias, batch_first=True, bidirectional=rnn_src.bidirectional,
                   **kw).to(model.dtype)
    rnn.load_state_dict(rnn_src.state_dict())
    head = nn.Linear(rnn_src.hidden_size * (2 if rnn_src.bidirectional else 1),
                     model.layers["head"].out_features).to(model.dtype)
    head.load_state_dict(model.layers["head"].state_dict())
    V = model.layers["x"].vocab_size
    xin = F.one_hot(x, V).to(model.dtype)
    B, T = x.shape

    def loss_of(logits):
        ce = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")
        return (ce * mask).sum() / mask.sum()

    out, _ = rnn(xin)
    logits = head(out)
    loss = loss_of(logits)
    loss.backward()
    ref = {"logits": logits.detach().numpy(), "loss": float(loss.detach()),
           "grads": {n: p.grad.numpy().copy() for n, p in rnn.named_parameters()},
           "head_grads": {n: p.grad.numpy().copy() for n, p in head.named_parameters()}}
    if rnn_src.bidirectional:
        return ref
    # Step by step, one single-layer nn module per layer, each step's output read off its
    # returned state (which also feeds the layer above), so .grad is the total gradient.
    cells = []
    for l in range(rnn.num_layers):
        cell = NN[kind](rnn.input_size if l == 0 else rnn.hidden_size, rnn.hidden_size,
                        bias=rnn.bias, batch_first=True, **kw).to(model.dtype)
        cell.load_state_dict({k.replace(f"_l{l}", "_l0"): v for k, v in rnn.state_dict().items()
                              if k.endswith(f"_l{l}")})
        cells.append(cell)
    states = [None] * rnn.num_layers
    cut_leaves = []
    hs = [[] for _ in cells]
    cs = [[] for _ in cells]
    outs = []
    for t in range(T):
        inp = xin[:, t:t + 1]
        for l, cell in enumerate(cells):
            st_ = states[l]
            if st_ is not None and tbptt and t % tbptt == 0:
                # A fresh leaf where truncation cuts: its .grad is what BPTT did not pass on.
                h_cut = (st_[0] if kind == "lstm" else st_).detach().requires_grad_()
                cut_leaves.append((l, t - 1, h_cut))
                st_ = (h_cut, st_[1].detach()) if kind == "lstm" else h_cut
            _, st_ = cell(inp, st_)
            h = st_[0] if kind == "lstm" else st_
            h.retain_grad()
            hs[l].append(h)
            if kind == "lstm":
                st_[1].retain_grad()
                cs[l].append(st_[1])
            states[l] = st_
            inp = h.transpose(0, 1)  # (B, 1, H) into the layer above
        outs.append(inp)
    loss2 = loss_of(head(torch.cat(outs, 1)))
    loss2.backward()
    ref["h"] = np.stack([torch.cat([h.detach()[0][:, None] for h in hl], 1).numpy() for hl in hs])
    ref["dh"] = np.stack([torch.cat([h.grad[0][:, None] for h in hl], 1).numpy() for hl in hs])
    ref["dropped"] = [(l, t, leaf.grad[0].numpy()) for l, t, leaf in cut_leaves]
    if kind == "lstm":
        H = rnn.hidden_size
        ref["c"] = np.stack([torch.cat([c.detach()[0][:, None] for c in cl], 1).numpy()
                             for cl in cs])
        # c_t.grad holds the gradient from step t+1 on; the total dL/dc_t adds the path
        # through h_t = o_t tanh(c_t) of the same step, with o_t from nn's own weights.
        dcs = []
        layer_in = xin
        for l, cell in enumerate(cells):
            h = torch.from_numpy(ref["h"][l])
            h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], 1)
            o = torch.sigmoid(layer_in @ cell.weight_ih_l0[3 * H:].T + h_prev @
                              cell.weight_hh_l0[3 * H:].T + cell.bias_ih_l0[3 * H:]
                              + cell.bias_hh_l0[3 * H:]).detach()
            c = torch.from_numpy(ref["c"][l])
            future = torch.cat([(c_.grad if c_.grad is not None else torch.zeros_like(c_))
                                [0][:, None] for c_ in cs[l]], 1)
            dh = torch.from_numpy(ref["dh"][l])
            dcs.append((future + dh * o * (1 - torch.tanh(c) ** 2)).numpy())
            layer_in = h
        ref["dc"] = np.stack(dcs)
    return ref


PATHS = ["compiled", "fused", "stepwise"]


def check(kind, B, T, V, H, L, dtype, path="auto", tbptt=None, seed=0, bidirectional=False):
    torch.manual_seed(seed)
    model = make(kind, V, H, L, dtype, seed=seed, bidirectional=bidirectional)
    x = torch.randint(0, V, (B, T))
    y = torch.randint(0, V, (B, T))
    mask = (torch.rand(B, T) < 0.8).to(dtype)
    mask[:, -1] = 1
    tol = TOL[dtype]
    with torch.backends.mkldnn.flags(enabled=dtype == torch.float32):
        tr = trace(model, x, y, mask, path=path, tbptt=tbptt)
        ref = reference(model, kind, x, y, mask, tbptt=tbptt)
    close(tr.outputs, ref["logits"], tol, "outputs")
    assert abs(tr.loss - ref["loss"]) <= tol * abs(ref["loss"])
    if tbptt is None:
        for name, g in ref["grads"].items():
            close(tr.param_grads[f"layers.rec.rnn.{name}"], g, tol, f"grad {name}")
        for name, g in ref["head_grads"].items():
            close(tr.param_grads[f"layers.head.{name}"], g, tol, f"grad head.{name}")
    if bidirectional:
        return tr
    for l in range(L):
        rec = tr.layer("rec", l)
        close(rec.h, ref["h"][l], tol, f"h layer {l}")
        close(rec.dh, ref["dh"][l], tol, f"dL/dh layer {l}")
        if kind == "lstm":
            close(rec.c, ref["c"][l], tol, f"c layer {l}")
            close(rec.dc, ref["dc"][l], tol, f"dL/dc layer {l}")
            # The recorded gates reproduce nn.LSTM's states through the LSTM equations.
            c_prev = np.concatenate([rec.c0[:, None], ref["c"][l][:, :-1]], 1)
            g = rec.gates
            close(g["f"] * c_prev + g["i"] * g["g"], ref["c"][l], tol * 10, "c from gates")
            close(g["o"] * np.tanh(ref["c"][l]), ref["h"][l], tol * 10, "h from gates")
        if kind == "gru":
            h_prev = np.concatenate([rec.h0[:, None], ref["h"][l][:, :-1]], 1)
            g = rec.gates
            close((1 - g["z"]) * g["n"] + g["z"] * h_prev, ref["h"][l], tol * 10, "h from gates")
        if kind == "rnn":
            act = np.tanh if rec.nonlinearity == "tanh" else (lambda a: np.maximum(a, 0))
            close(act(rec.pre["pre"]), ref["h"][l], tol * 10, "h from pre-activation")
    return tr


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("path", PATHS)
def test_recurrent_matches_torch_nn(kind, L, B, dtype, path):
    check(kind, B=B, T=9, V=5, H=6, L=L, dtype=dtype, path=path)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("path", PATHS)
def test_truncated_bptt_cuts_gradient(kind, path):
    tr = check(kind, B=2, T=10, V=4, H=5, L=1, dtype=torch.float64, path=path, tbptt=4)
    rec = tr.layer("rec")
    assert rec.cut.tolist() == [t in (4, 8) for t in range(10)]
    if path != "stepwise":  # what truncation dropped at steps 3 and 7, vs nn's detached leaves
        torch.manual_seed(0)
        model = make(kind, 4, 5, 1, torch.float64)
        x, y = torch.randint(0, 4, (2, 10)), torch.randint(0, 4, (2, 10))
        mask = (torch.rand(2, 10) < 0.8).double()
        mask[:, -1] = 1
        ref = reference(model, kind, x, y, mask, tbptt=4)
        assert [t for _, t, _ in ref["dropped"]] == [3, 7]
        for _, t, g in ref["dropped"]:
            close(rec.dh_dropped[:, t], g, 1e-10, f"dropped gradient at step {t}")
        others = [t for t in range(10) if t not in (3, 7)]
        assert np.all(rec.dh_dropped[:, others] == 0)


@pytest.mark.parametrize("B,L,tbptt", [(1, 1, None), (3, 2, None), (2, 1, 4)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_fused_path_matches_torch_nn(B, L, tbptt, dtype, kind):
    """GPUs, large layers and the seconds before the kernels compile take PyTorch's fused
    forward and the torch loop's backward."""
    tr = check(kind, B=B, T=10, V=4, H=5, L=L, dtype=dtype, tbptt=tbptt, path="fused")
    assert (tr.layer("rec").dh_dropped is not None) == (tbptt is not None)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_cpu_traces_take_the_compiled_path_once_it_is_ready(kind, monkeypatch):
    from playground.tracing import compiled, tracer

    if not compiled.installed():
        pytest.skip("numba not installed")
    compiled.warm_up(block=True)
    runs = []
    original = tracer.run_traced
    monkeypatch.setattr(tracer, "run_traced", lambda run: runs.append(run) or original(run))
    check(kind, B=2, T=6, V=4, H=5, L=2, dtype=torch.float64)
    assert len(runs) == 2 and all(run.backend == "compiled" for run in runs)
    runs.clear()
    monkeypatch.setattr(compiled, "ready", lambda: False)   # still compiling: torch answers
    check(kind, B=2, T=6, V=4, H=5, L=1, dtype=torch.float64)
    assert [run.backend for run in runs] == ["fused"]


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("path", PATHS)
def test_encoder_state_gradients_match_torch_nn(kind, path):
    """The decoder starts from the encoder's final state: the encoder's weights get their
    gradient only through it, and its dL/dh_T is what the decoder hands back."""
    from playground.model.spec import EdgeSpec, GraphSpec, NodeSpec

    V, H = 4, 5
    nodes = [NodeSpec("src", "input", {"encoding": "onehot", "vocab_size": V}),
             NodeSpec("tgt", "input", {"encoding": "onehot", "vocab_size": V}),
             NodeSpec("enc", kind, {"hidden_size": H}), NodeSpec("dec", kind, {"hidden_size": H}),
             NodeSpec("head", "linear", {"out_features": V})]
    edges = [EdgeSpec("src", "enc"), EdgeSpec("tgt", "dec"), EdgeSpec("enc", "dec", "state"),
             EdgeSpec("dec", "head")]
    model = build(GraphSpec(nodes, edges), seed=3).double()
    torch.manual_seed(3)
    src, tgt, y = (torch.randint(0, V, (2, n)) for n in (6, 4, 4))
    tr = trace(model, {"src": src, "tgt": tgt}, y, path=path)

    enc, dec = (NN[kind](V, H, batch_first=True).double() for _ in range(2))
    enc.load_state_dict(model.layers["enc"].rnn.state_dict())
    dec.load_state_dict(model.layers["dec"].rnn.state_dict())
    head = nn.Linear(H, V).double()
    head.load_state_dict(model.layers["head"].state_dict())
    _, state = enc(F.one_hot(src, V).double())
    h_T = state[0] if kind == "lstm" else state
    h_T.retain_grad()
    dec_out, _ = dec(F.one_hot(tgt, V).double(), state)
    loss = F.cross_entropy(head(dec_out).transpose(1, 2), y)
    loss.backward()
    assert abs(tr.loss - loss.item()) < 1e-12
    for name, p in enc.named_parameters():
        close(tr.param_grads[f"layers.enc.rnn.{name}"], p.grad.numpy(), 1e-10, f"enc {name}")
    for name, p in dec.named_parameters():
        close(tr.param_grads[f"layers.dec.rnn.{name}"], p.grad.numpy(), 1e-10, f"dec {name}")
    # The encoder's last dL/dh is what the decoder hands back through the state.
    close(tr.layer("enc").dh[:, -1], h_T.grad[0].numpy(), 1e-10, "enc dL/dh_T")


@pytest.mark.parametrize("path", ["compiled", "fused"])
def test_traces_leave_nothing_alive(path, monkeypatch):
    """The recurrent function's backward finds its run through a weak reference: a strong
    one closed a cycle through autograd's C++ graph, and every trace leaked its arrays."""
    import gc
    import weakref

    from playground.tracing import tracer

    refs = []
    original = tracer.run_traced
    monkeypatch.setattr(tracer, "run_traced",
                        lambda run: refs.append(weakref.ref(run)) or original(run))
    model = make("lstm", 4, 5, 2, torch.float64)
    x = torch.randint(0, 4, (2, 6))
    trace(model, x, x, path=path)
    trace(model, x, path=path)
    with torch.inference_mode():   # no gradients to save: the forward alone
        assert trace(model, x, path=path).layer("rec").h.shape == (2, 6, 5)
    gc.collect()
    assert len(refs) == 6 and all(r() is None for r in refs)


def test_relu_rnn_matches():
    torch.manual_seed(1)
    model = make("rnn", 4, 6, 1, torch.float64, nonlinearity="relu")
    x = torch.randint(0, 4, (2, 8))
    y = torch.randint(0, 4, (2, 8))
    tr = trace(model, x, y)
    ref = reference(model, "rnn", x, y, torch.ones(2, 8, dtype=torch.float64))
    close(tr.layer("rec").dh, ref["dh"][0], 1e-10, "dh relu")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_bidirectional_outputs_and_grads(kind):
    check(kind, B=2, T=6, V=4, H=5, L=2, dtype=torch.float64, bidirectional=True)


@settings(max_examples=15, deadline=None)
@given(kind=st.sampled_from(["rnn", "lstm", "gru"]), B=st.integers(1, 3), T=st.integers(1, 12),
       V=st.integers(2, 7), H=st.integers(1, 9), L=st.integers(1, 2), seed=st.integers(0, 99))
def test_random_sizes_float64(kind, B, T, V, H, L, seed):
    check(kind, B, T, V, H, L, torch.float64, seed=seed)


# -- attention -----------------------------------------------------------------------------

def attn_model(kind, E, heads, causal, dtype, seed=0, V=6):
    p = {"num_heads": heads}
    if kind != "cross_attention":
        p["causal"] = causal
    if kind == "transformer":
        p["ff_dim"] = 2 * E
    g = chain(("x", "input", {"encoding": "embedding", "vocab_size": V, "embed_dim": E}),
              ("att", kind, p), ("head", "linear", {"out_features": V}))
    return build(g, seed=seed).to(dtype)


@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_self_attention_matches_multihead_attention(heads, causal, dtype):
    torch.manual_seed(0)
    E, B, T, V = 6, 2, 7, 6
    model = attn_model("self_attention", E, heads, causal, dtype)
    x = torch.randint(0, V, (B, T))
    y = torch.randint(0, V, (B, T))
    tr = trace(model, x, y)
    mha = nn.MultiheadAttention(E, heads, batch_first=True).to(dtype)
    mha.load_state_dict(model.layers["att"].attn.state_dict())
    emb = nn.Embedding(V, E).to(dtype)
    emb.load_state_dict(model.layers["x"].embedding.state_dict())
    head = nn.Linear(E, V).to(dtype)
    head.load_state_dict(model.layers["head"].state_dict())
    e = emb(x)
    mask = torch.ones(T, T, dtype=torch.bool).triu(1) if causal else None
    out, w = mha(e, e, e, attn_mask=mask, need_weights=True, average_attn_weights=False)
    out.retain_grad()
    logits = head(out)
    loss = F.cross_entropy(logits.transpose(1, 2), y)
    loss.backward()
    tol = TOL[dtype]
    rec = tr.layer("att")
    close(rec.weights, w.detach().numpy(), tol, "attention weights")
    close(rec.out, out.detach().numpy(), tol, "attention output")
    close(tr.outputs, logits.detach().numpy(), tol, "logits")
    close(rec.dout, out.grad.numpy(), tol, "dL/d out")
    for n, p in mha.named_parameters():
        close(tr.param_grads[f"layers.att.attn.{n}"], p.grad.numpy(), tol, n)
    close(tr.param_grads["layers.x.embedding.weight"], emb.weight.grad.numpy(), tol, "embedding")
    if causal:
        assert np.all(rec.weights[..., np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] == 0)
    # Q, K, V and the scores before the softmax, from nn.MultiheadAttention's own weights
    d = E // heads
    Wq, Wk, Wv = mha.in_proj_weight.detach().chunk(3)
    bq, bk, bv = mha.in_proj_bias.detach().chunk(3)
    ed = e.detach()
    split = lambda a: a.view(B, T, heads, d).transpose(1, 2).numpy()  # noqa: E731
    q, k, v = (split(F.linear(ed, W, b)) for W, b in ((Wq, bq), (Wk, bk), (Wv, bv)))
    close(rec.q, q, tol, "Q")
    close(rec.k, k, tol, "K")
    close(rec.v, v, tol, "V")
    scores = np.einsum("bhtd,bhsd->bhts", q, k) / np.sqrt(d)
    if causal:
        hidden = np.triu(np.ones((T, T), bool), 1)
        assert np.all(np.isneginf(rec.scores[..., hidden]))
        scores[..., hidden] = -np.inf
    close(np.where(np.isfinite(scores), rec.scores, 0), np.where(np.isfinite(scores), scores, 0),
          tol, "scores q.k/sqrt(d)")
    soft = np.exp(scores - scores.max(-1, keepdims=True))
    close(soft / soft.sum(-1, keepdims=True), w.detach().numpy(), tol, "softmax(scores)")


@pytest.mark.parametrize("heads", [1, 2])
@pytest.mark.parametrize("causal", [False, True])
def test_transformer_block_matches_encoder_layer(heads, causal):
    torch.manual_seed(0)
    dtype = torch.float64
    E, B, T, V = 8, 2, 5, 6
    model = attn_model("transformer", E, heads, causal, dtype)
    x = torch.randint(0, V, (B, T))
    y = torch.randint(0, V, (B, T))
    tr = trace(model, x, y)
    ref = nn.TransformerEncoderLayer(E, heads, 2 * E, dropout=0.0, batch_first=True,
                                     norm_first=True).to(dtype)
    ref.load_state_dict(model.layers["att"].state_dict(), strict=False)
    emb = model.layers["x"].embedding
    head = model.layers["head"]
    e = emb(x).detach()
    mask = torch.ones(T, T, dtype=torch.bool).triu(1) if causal else None
    out = ref(e, src_mask=mask, is_causal=causal)
    loss = F.cross_entropy(head(out).detach().requires_grad_().transpose(1, 2), y)
    close(tr.layer("att").out, out.detach().numpy(), 1e-10, "block output")
    assert abs(tr.loss - float(loss)) < 1e-10
    ref_loss = F.cross_entropy(F.linear(out, head.weight.detach(), head.bias.detach())
                               .transpose(1, 2), y)
    ref_loss.backward()
    for n, p in ref.named_parameters():
        close(tr.param_grads[f"layers.att.{n}"], p.grad.numpy(), 1e-10, n)


@pytest.mark.parametrize("heads", [1, 2])
def test_cross_attention_matches_multihead_attention(heads):
    from playground.model.spec import EdgeSpec, GraphSpec, NodeSpec

    torch.manual_seed(0)
    dtype = torch.float64
    g = GraphSpec(
        [NodeSpec("src", "input", {"encoding": "onehot", "vocab_size": 5}),
         NodeSpec("enc", "gru", {"hidden_size": 6}),
         NodeSpec("tgt", "input", {"encoding": "embedding", "vocab_size": 5, "embed_dim": 4}),
         NodeSpec("cross", "cross_attention", {"num_heads": heads}),
         NodeSpec("head", "linear", {"out_features": 5})],
        [EdgeSpec("src", "enc"), EdgeSpec("tgt", "cross"), EdgeSpec("enc", "cross", "memory"),
         EdgeSpec("cross", "head")])
    model = build(g, seed=3).to(dtype)
    xs, xt = torch.randint(0, 5, (2, 7)), torch.randint(0, 5, (2, 4))
    y = torch.randint(0, 5, (2, 4))
    tr = trace(model, {"src": xs, "tgt": xt}, y)
    enc = nn.GRU(5, 6, batch_first=True).to(dtype)
    enc.load_state_dict(model.layers["enc"].rnn.state_dict())
    mha = nn.MultiheadAttention(4, heads, kdim=6, vdim=6, batch_first=True).to(dtype)
    mha.load_state_dict(model.layers["cross"].attn.state_dict())
    mem, _ = enc(F.one_hot(xs, 5).to(dtype))
    q = model.layers["tgt"].embedding(xt).detach()
    out, w = mha(q, mem, mem, need_weights=True, average_attn_weights=False)
    head = model.layers["head"]
    loss = F.cross_entropy(F.linear(out, head.weight.detach(), head.bias.detach())
                           .transpose(1, 2), y)
    loss.backward()
    close(tr.layer("cross").weights, w.detach().numpy(), 1e-10, "cross weights")
    for n, p in enc.named_parameters():
        close(tr.param_grads[f"layers.enc.rnn.{n}"], p.grad.numpy(), 1e-10, n)


def test_gradient_norms_are_taken_in_float64_so_tiny_gradients_do_not_vanish():
    """A float32 norm squares its values: 1e-23 squared underflows to 0. The trace's norms
    are float64 (the gradient panel draws them)."""
    import numpy as np

    from playground.tracing.records import AttentionTrace, RecurrentTrace

    tiny = np.full((1, 3, 4), 1e-23, np.float32)
    assert np.linalg.norm(tiny, axis=-1).max() == 0.0      # what a float32 norm gives
    rec = RecurrentTrace("r", "lstm", 0, 0, "tanh", tiny, tiny, tiny[:, 0], tiny, tiny[:, 0],
                         {}, {}, tiny, tiny * 10, None, np.zeros(3, bool), {})
    assert rec.dh_norm.dtype == np.float64
    np.testing.assert_allclose(rec.dh_norm, 2e-23, rtol=1e-6)
    np.testing.assert_allclose(rec.dc_norm, 2e-22, rtol=1e-6)
    att = AttentionTrace("a", "self_attention", tiny, tiny, tiny, tiny, tiny, tiny, tiny,
                         tiny)
    np.testing.assert_allclose(att.dout_norm, 2e-23, rtol=1e-6)
