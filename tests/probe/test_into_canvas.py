"""A user's plain chain (or this project's export) opens as an editable experiment."""

import json
import textwrap

import pytest
import torch
from torch import nn

import playground as pg
from playground.cli import main
from playground.files.fromtorch import experiment_from_export, from_export, graph_of_script
from playground.probe.tocanvas import DoesNotFit, from_module


class Net(nn.Module):
    """Embedding -> LSTM (2 layers) -> Linear, as a user writes it."""

    def __init__(self, V=7, E=5, H=6):
        super().__init__()
        self.embed = nn.Embedding(V, E)
        self.lstm = nn.LSTM(E, H, num_layers=2, batch_first=True)
        self.fc = nn.Linear(H, V)

    def forward(self, x):
        out, _ = self.lstm(self.embed(x))
        return self.fc(out)


class First(nn.Module):
    def forward(self, pair):
        return pair[0]


def sequential():
    return nn.Sequential(nn.Embedding(9, 4), nn.GRU(4, 8, batch_first=True), First(),
                         nn.Linear(8, 9))


def built_with(graph, state):
    model = pg.build(graph)
    model.load_state_dict(state)
    return model.eval()


def test_a_user_class_maps_to_a_chain_with_equal_outputs():
    torch.manual_seed(1)
    net = Net().eval()
    graph, state = from_module(net)
    assert [(n.id, n.kind) for n in graph.nodes] == [("embed", "input"), ("lstm", "lstm"),
                                                     ("fc", "linear")]
    assert graph.node("embed").params["encoding"] == "embedding"
    assert graph.node("lstm").params["num_layers"] == 2
    x = torch.randint(0, 7, (4, 13))
    with torch.no_grad():
        torch.testing.assert_close(built_with(graph, state)(x), net(x))


def test_a_sequential_chain_maps_too():
    torch.manual_seed(2)
    seq = sequential().eval()
    graph, state = from_module(seq)
    assert [n.kind for n in graph.nodes] == ["input", "gru", "linear"]
    x = torch.randint(0, 9, (2, 6))
    with torch.no_grad():
        torch.testing.assert_close(built_with(graph, state)(x), seq(x))


def test_values_in_and_out_map_to_a_numeric_input():
    torch.manual_seed(3)

    class Reg(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(1, 5, nonlinearity="relu", bidirectional=True, batch_first=True)
            self.out = nn.Linear(10, 1)

        def forward(self, x):
            return self.out(self.rnn(x)[0])

    net = Reg()
    graph, state = from_module(net)
    assert graph.nodes[0].params["encoding"] == "numeric"
    assert graph.node("rnn").params["nonlinearity"] == "relu"
    assert graph.node("out").params["output"] == "identity"
    x = torch.randn(2, 8, 1)
    with torch.no_grad():
        torch.testing.assert_close(built_with(graph, state)(x), net(x))
    exp = pg.experiment_from_module(net)
    assert exp.data["source"] == "numbers"
    snap = pg.Trainer(exp.build_model(), exp.make_dataset(), exp.train).train_step()
    assert snap.status != "diverged" and snap.loss == snap.loss


def test_the_experiment_saves_reloads_trains_and_traces(tmp_path):
    torch.manual_seed(4)
    net = Net()
    exp = pg.experiment_from_module(net, name="mine")
    path = exp.save(tmp_path / "mine.json")
    back = pg.load_experiment(path)
    model, data = back.build_model(), back.make_dataset()
    assert len(data.vocab) == 7 and data.vocab.symbols[0] == "t0"
    x = torch.randint(0, 7, (3, 5))
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), net.eval()(x))
    snap = pg.Trainer(model, data, back.train).train_step()
    assert snap.status != "diverged" and snap.loss == snap.loss
    batch = data.example()
    tr = pg.trace(model, pg.bind_inputs(model, batch), batch.targets, batch.mask)
    assert tr.outputs.shape[-1] == 7


class EncoderDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.embed = nn.Embedding(6, 8)
        self.encoder.gru = nn.GRU(8, 8, batch_first=True)
        self.encoder.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.out = nn.Linear(8, 6)

    def forward(self, x):
        h, _ = self.encoder.gru(self.encoder.embed(x))
        a, _ = self.encoder.attn(h, h, h)
        return self.out(a)


class Residual(Net):
    def __init__(self):
        super().__init__(V=7, E=6, H=6)
        self.lstm = nn.LSTM(6, 6, batch_first=True)

    def forward(self, x):
        e = self.embed(x)
        return self.fc(self.lstm(e)[0] + e)


def test_refusals_name_the_module_and_the_reason():
    with pytest.raises(DoesNotFit, match=r"^encoder\.attn: nn\.MultiheadAttention is not a "
                                         r"layer of a plain chain"):
        from_module(EncoderDecoder())
    with pytest.raises(DoesNotFit, match=r"forward does more than chain its children: "
                                         r"outputs differ by"):
        from_module(Residual())
    late = nn.LSTM(4, 4)
    with pytest.raises(DoesNotFit, match="batch_first=False"):
        from_module(nn.Sequential(nn.Embedding(3, 4), late, nn.Linear(4, 3)))
    with pytest.raises(DoesNotFit, match="is followed by"):
        from_module(nn.Sequential(nn.Linear(3, 4), nn.GRU(4, 4, batch_first=True)))
    tied = Net()
    tied.fc = nn.Linear(5, 7)
    tied.lstm = nn.LSTM(5, 5, batch_first=True)
    tied.fc.weight = tied.embed.weight
    with pytest.raises(DoesNotFit, match=r"fc\.weight is the same tensor as embed\.weight"):
        from_module(tied)
    h0 = Net()
    h0.h0 = nn.Parameter(torch.zeros(2, 1, 6))
    with pytest.raises(DoesNotFit, match=r"Net has tensors of its own \(h0\)"):
        from_module(h0)
    with pytest.raises(DoesNotFit, match="no data section fits"):
        pg.experiment_from_module(nn.Sequential(nn.Embedding(5, 4), nn.GRU(4, 4, batch_first=True),
                                                First(), nn.Linear(4, 2)))


def test_the_export_round_trip(tmp_path):
    torch.manual_seed(5)
    exp = pg.experiment_from_module(Net())
    model = exp.build_model()
    py, pt = pg.export_pytorch(model, tmp_path / "net.py")
    graph, state = from_export(pt)
    assert graph.to_dict()["edges"] == exp.graph.to_dict()["edges"]
    assert [n.params for n in graph.nodes] == [n.params for n in exp.graph.nodes]
    for key, value in model.state_dict().items():
        torch.testing.assert_close(state[key], value)
    again = experiment_from_export(py)
    snap = pg.Trainer(again.build_model(), again.make_dataset(), again.train).train_step()
    assert snap.status != "diverged"


def test_an_exported_encoder_decoder_reads_back_with_its_state_edge(tmp_path):
    preset = pg.load_experiment(pg.resolve("encdec_no_attention"))
    source = (tmp_path / "e.py")
    pg.export_pytorch(preset, source)
    graph = graph_of_script(source.read_text())
    want = preset.graph.to_dict()
    assert sorted(map(str, graph.to_dict()["edges"])) == sorted(map(str, want["edges"]))
    assert {n.id: n.params for n in graph.nodes} == {n["id"]: n["params"] for n in want["nodes"]}
    from_export(source)


def test_an_export_with_attention_is_refused(tmp_path):
    pg.export_pytorch(pg.load_experiment(pg.resolve("compare_transformer")), tmp_path / "t.py")
    with pytest.raises(DoesNotFit, match="is not read back from an export"):
        from_export(tmp_path / "t.pt")
    with pytest.raises(DoesNotFit, match="NAME.py and NAME.pt"):
        from_export(tmp_path / "missing.pt")


MODEL = textwrap.dedent("""
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self, residual=False):
            super().__init__()
            self.residual = residual
            self.emb = nn.Embedding(7, 6)
            self.rnn = nn.LSTM(6, 6, num_layers=2, batch_first=True)
            self.fc = nn.Linear(6, 7)

        def forward(self, x):
            e = self.emb(x)
            h = self.rnn(e)[0]
            return self.fc(h + e if self.residual else h)

    def make():
        torch.manual_seed(0)
        return Net()

    def residual():
        return Net(residual=True)
""")


def test_the_inspect_command_writes_an_experiment(tmp_path, capsys):
    (tmp_path / "net.py").write_text(MODEL)
    torch.save(torch.randint(0, 7, (2, 5)), tmp_path / "x.pt")
    out = tmp_path / "exp.json"
    code = main(["inspect", f"{tmp_path / 'net.py'}:make", "--input", str(tmp_path / "x.pt"),
                 "--to-experiment", str(out)])
    assert code == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["nodes"] == ["emb", "rnn", "fc"]
    assert pg.load_experiment(out).build_model().parameter_count() > 0
    code = main(["inspect", f"{tmp_path / 'net.py'}:residual", "--input",
                 str(tmp_path / "x.pt"), "--to-experiment", str(tmp_path / "r.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "outputs differ by" in err[0]
    assert not (tmp_path / "r.json").exists()
