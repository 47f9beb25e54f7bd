"""Exported standalone PyTorch files reproduce the playground model's outputs.

Each model is exported, then run in a fresh Python process (plain torch, no playground
on the path) on the same inputs; its outputs must match ``model(inputs)`` here.
"""

import ast
import json
import os
import subprocess
import sys

import pytest
import torch

from playground.files.export import export_pytorch
from playground.model.build import build
from playground.model.spec import EdgeSpec, GraphSpec, NodeSpec, chain

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


DRIVER = """
import contextlib, io, json, os, runpy, sys

class NoPlayground:  # the exported files must run with plain torch only
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("playground", "ui"):
            raise ImportError("an exported file imported " + name)

sys.meta_path.insert(0, NoPlayground())
results = {}
for name, cwd, argv in json.loads(sys.argv[1]):
    os.chdir(cwd)
    sys.argv = argv
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(argv[0], run_name="__main__")
    results[name] = out.getvalue()
print(json.dumps(results))
"""

HELLO = torch.tensor([[0, 1, 2, 2, 3, 0, 1, 2, 2, 3]] * 4)  # h e l l o h e l l o


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Export every graph (and a hello RNN for training), then run all the exported files as
    scripts in ONE fresh Python process (one torch import) where playground cannot be
    imported. Returns (stdout per job, expected outputs, directory)."""
    tmp = tmp_path_factory.mktemp("export")
    g = torch.Generator().manual_seed(0)
    expected, jobs = {}, []
    for name, graph in GRAPHS.items():
        model = build(graph, seed=1).eval()
        with torch.no_grad():  # move learned positions off zero so they matter
            for p in model.parameters():
                p.add_(0.1 * torch.randn(p.shape, generator=g))
        inputs = inputs_for(model, g)
        with torch.no_grad():
            expected[name] = model(inputs)
        py, pt = export_pytorch(model, tmp / name / f"{name}.py")
        assert "playground" not in {n.split(".")[0] for n in _imports(py)}
        assert set(torch.load(pt, weights_only=True)) == set(model.state_dict())
        torch.save(inputs, tmp / name / "in.pt")
        jobs.append((name, str(tmp / name), [str(py), "--run", "in.pt", "out.pt"]))
    hello = build(chain(ONEHOT, ("rnn", "rnn", {"hidden_size": 8}), HEAD), seed=0)
    py, _ = export_pytorch(hello, tmp / "train" / "hello.py")
    data = {"inputs": {"x": HELLO[:, :-1]}, "targets": HELLO[:, 1:], "mask": torch.ones(4, 9)}
    torch.save(data, tmp / "train" / "data.pt")
    jobs.append(("train", str(tmp / "train"),
                 [str(py), "--train", "data.pt", "--steps", "60", "--lr", "0.03"]))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(jobs)], cwd=tmp, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.splitlines()[-1]), expected, tmp


@pytest.mark.parametrize("name", list(GRAPHS))
def test_exported_file_reproduces_outputs(exported, name):
    stdout, expected, tmp = exported
    got = torch.load(tmp / name / "out.pt", weights_only=True)
    want = expected[name]
    assert got.shape == want.shape
    err = (got - want).abs().max().item() / want.abs().max().item()
    assert err < 1e-5, f"{name}: relative error {err:.2g}"
    count = sum(p.numel() for p in build(GRAPHS[name]).parameters())
    assert f"{count:,} parameters" in stdout[name]


def _imports(py):
    tree = ast.parse(py.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ""


def test_exported_training_loop_lowers_the_loss(exported):
    stdout, _, tmp = exported
    losses = [float(line.split("loss")[1]) for line in stdout["train"].splitlines()
              if line.startswith("step")]
    assert len(losses) >= 5 and losses[-1] < 0.5 * losses[0]
    trained = torch.load(tmp / "train" / "hello_trained.pt", weights_only=True)
    original = torch.load(tmp / "train" / "hello.pt", weights_only=True)
    assert set(trained) == set(original)
    assert not torch.equal(trained["layers.rnn.rnn.weight_hh_l0"],
                           original["layers.rnn.rnn.weight_hh_l0"])


def test_export_refuses_something_else(tmp_path):
    with pytest.raises(TypeError, match="built playground model"):
        export_pytorch(object(), tmp_path / "x.py")


def test_export_of_an_experiment_writes_its_vocabulary(tmp_path):
    """Anything with build_model()/make_dataset() (an Experiment) exports its weights."""
    import runpy
    from types import SimpleNamespace

    graph = chain(ONEHOT, ("gru", "gru", {"hidden_size": 4}), HEAD)
    trained = build(graph, seed=5)
    symbols = tuple("abcdefg")
    experiment = SimpleNamespace(
        build_model=lambda: trained,
        make_dataset=lambda: SimpleNamespace(vocab=SimpleNamespace(symbols=symbols)))
    py, pt = export_pytorch(experiment, tmp_path / "exp.py")
    ns = runpy.run_path(str(py))  # defines Model; main() only runs as __main__
    assert ns["VOCAB"] == list(symbols) and ns["INPUTS"] == ["x"]
    model = ns["Model"]()
    model.load_state_dict(torch.load(pt, weights_only=True))
    x = torch.tensor([[0, 3, 6, 1]])
    with torch.no_grad():
        torch.testing.assert_close(model(x), trained(x), rtol=1e-6, atol=1e-6)
