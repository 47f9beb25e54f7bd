"""Exported standalone PyTorch files reproduce the playground model's outputs.

Each model is exported, then run in a fresh Python process (plain torch, no playground
on the path) on the same inputs; its outputs must match ``model(inputs)`` here.
"""

import ast
import os
import subprocess
import sys

import pytest
import torch

from playground.build import build
from playground.export import export_pytorch
from playground.spec import EdgeSpec, GraphSpec, NodeSpec, chain

V = 7


def enc_dec(kind="gru"):
    n = [NodeSpec("src", "input", {"encoding": "embedding", "vocab_size": V, "embed_dim": 6}),
         NodeSpec("enc", kind, {"hidden_size": 8, "num_layers": 2}),
         NodeSpec("tgt", "input", {"encoding": "onehot", "vocab_size": V}),
         NodeSpec("dec", kind, {"hidden_size": 8, "num_layers": 2}),
         NodeSpec("xattn", "cross_attention", {"num_heads": 2}),
         NodeSpec("head", "linear", {"out_features": V})]
    e = [EdgeSpec("src", "enc"), EdgeSpec("tgt", "dec"), EdgeSpec("enc", "dec", "state"),
         EdgeSpec("dec", "xattn"), EdgeSpec("enc", "xattn", "memory"),
         EdgeSpec("xattn", "head")]
    return GraphSpec(n, e)


ONEHOT = ("x", "input", {"encoding": "onehot", "vocab_size": V})
EMBED = ("x", "input", {"encoding": "embedding", "vocab_size": V, "embed_dim": 8})
HEAD = ("head", "linear", {"out_features": V})
GRAPHS = {
    "rnn_stack": chain(ONEHOT, ("r1", "rnn", {"hidden_size": 9, "nonlinearity": "relu"}),
                       ("r2", "rnn", {"hidden_size": 5, "num_layers": 2}), HEAD),
    "lstm_bidir": chain(EMBED, ("lstm", "lstm", {"hidden_size": 6, "num_layers": 2,
                                                  "bidirectional": True}), HEAD),
    "gru_attention": chain(EMBED, ("gru", "gru", {"hidden_size": 8, "bias": False}),
                           ("attn", "self_attention", {"num_heads": 2, "causal": True,
                                                       "positions": "sinusoidal"}), HEAD),
    "transformer": chain(EMBED, ("block", "transformer", {"num_heads": 2, "ff_dim": 12,
                                                          "positions": "learned", "max_len": 20,
                                                          "activation": "gelu"}),
                         ("head", "linear", {"out_features": 3, "output": "identity"})),
    "enc_dec_gru": enc_dec("gru"),
    "enc_dec_lstm": enc_dec("lstm"),
}


def inputs_for(model, g):
    T = 6
    ids = {nid: torch.randint(0, V, (3, T), generator=g) for nid in model.input_ids}
    if "src" in ids:
        ids["src"] = torch.randint(0, V, (3, T + 2), generator=g)  # memory longer than queries
    return ids


def test_exported_files_reproduce_outputs(tmp_path):
    g = torch.Generator().manual_seed(0)
    expected, procs = {}, {}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for name, graph in GRAPHS.items():
        model = build(graph, seed=1).eval()
        with torch.no_grad():  # move learned positions off zero so they matter
            for p in model.parameters():
                p.add_(0.1 * torch.randn(p.shape, generator=g))
        inputs = inputs_for(model, g)
        with torch.no_grad():
            expected[name] = model(inputs)
        py, pt = export_pytorch(model, tmp_path / name / f"{name}.py")
        assert "playground" not in {n.split(".")[0] for n in _imports(py)}
        assert set(torch.load(pt, weights_only=True)) == set(model.state_dict())
        torch.save(inputs, tmp_path / name / "in.pt")
        procs[name] = subprocess.Popen(
            [sys.executable, str(py), "--run", "in.pt", "out.pt"], cwd=tmp_path / name,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{name}: {err}"
        got = torch.load(tmp_path / name / "out.pt", weights_only=True)
        want = expected[name]
        assert got.shape == want.shape, name
        err = (got - want).abs().max().item() / want.abs().max().item()
        assert err < 1e-5, f"{name}: relative error {err:.2g}"
        count = sum(p.numel() for p in build(GRAPHS[name]).parameters())
        assert f"{count:,} parameters" in out


def _imports(py):
    tree = ast.parse(py.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ""


def test_exported_training_loop_lowers_the_loss(tmp_path):
    graph = chain(ONEHOT, ("rnn", "rnn", {"hidden_size": 8}), HEAD)
    model = build(graph, seed=0)
    py, _ = export_pytorch(model, tmp_path / "hello.py")
    seq = torch.tensor([[0, 1, 2, 2, 3, 0, 1, 2, 2, 3]] * 4)  # h e l l o h e l l o
    data = {"inputs": {"x": seq[:, :-1]}, "targets": seq[:, 1:],
            "mask": torch.ones(4, 9)}
    torch.save(data, tmp_path / "data.pt")
    res = subprocess.run([sys.executable, str(py), "--train", "data.pt", "--steps", "60",
                          "--lr", "0.03"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    losses = [float(line.split("loss")[1]) for line in res.stdout.splitlines()
              if line.startswith("step")]
    assert losses[-1] < 0.5 * losses[0]
    trained = torch.load(tmp_path / "hello_trained.pt", weights_only=True)
    assert set(trained) == set(model.state_dict())


def test_export_refuses_something_else(tmp_path):
    with pytest.raises(TypeError, match="built playground model"):
        export_pytorch(object(), tmp_path / "x.py")
