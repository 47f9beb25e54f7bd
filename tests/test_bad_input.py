"""Bad input gets a clear message naming what and where (found in review), never a raw error."""

import os
import stat

import numpy as np
import pytest
import torch

from playground.errors import FileFormatError, SequenceError
from playground.model.build import build
from playground.model.spec import EdgeSpec, GraphSpec, NodeSpec, chain
from playground.model.validate import analyze
from playground.tracing import Intervention, trace


@pytest.mark.parametrize("kind", ["self_attention", "cross_attention", "transformer", "lstm"])
def test_analyze_never_raises_on_an_unconnected_node(kind):
    info = analyze(GraphSpec([NodeSpec("x", "input"), NodeSpec("a", kind),
                              NodeSpec("head", "linear")], [EdgeSpec("a", "head")]))
    assert any(p.node == "a" and "needs an input on port 'seq'" in p.message
               for p in info.problems)


def test_learned_positions_too_short_is_a_sequence_error():
    g = chain(("x", "input", {"encoding": "embedding", "vocab_size": 4, "embed_dim": 4}),
              ("att", "self_attention", {"positions": "learned", "max_len": 3}),
              ("head", "linear", {"out_features": 4}))
    with pytest.raises(SequenceError, match=r"node 'att': a sequence of 5 steps is longer than "
                                            r"its learned positions \(max_len 3\)"):
        trace(build(g), torch.zeros(1, 5, dtype=torch.long))


@pytest.mark.parametrize("bad", ["enc.1", "training", "", "1abc"])
def test_node_ids_that_torch_cannot_register_are_refused(bad):
    data = chain(("x", "input", {}), ("r", "rnn", {}), ("head", "linear", {})).to_dict()
    data["nodes"][1]["id"] = bad
    data["edges"] = []
    with pytest.raises(FileFormatError, match=r"graph.nodes\[1\].id"):
        GraphSpec.from_dict(data)


def test_edge_fields_of_the_wrong_type():
    data = chain(("x", "input", {}), ("r", "rnn", {}), ("head", "linear", {})).to_dict()
    data["edges"][0]["src"] = ["x"]
    with pytest.raises(FileFormatError, match=r"graph.edges\[0\].src: must be a string"):
        GraphSpec.from_dict(data)
    data["edges"][0]["src"] = "x"
    data["version"] = 0
    with pytest.raises(FileFormatError, match="graph.version: must be 1 or more"):
        GraphSpec.from_dict(data)


def lstm_model(bidirectional=False):
    g = chain(("x", "input", {"vocab_size": 4}),
              ("r", "lstm", {"hidden_size": 5, "bidirectional": bidirectional}),
              ("head", "linear", {"out_features": 4}))
    return build(g, seed=0).double()


@pytest.mark.parametrize("kwargs,match", [
    ({"mask": np.ones((1, 3))}, r"loss mask has shape \(1, 3\)"),
    ({"tbptt": -2}, "positive number of steps"),
    ({"interventions": [Intervention("nope", 1, "f", 0.0)]}, "no recurrent layer"),
    ({"interventions": [Intervention("r", 1, "z", 0.0)]}, "LSTM has no 'z'"),
    ({"interventions": [Intervention("r", 1, "f", 0.0, units=(99,))]}, "unit 99 does not exist"),
    ({"interventions": [Intervention("r", 9, "f", 0.0)]}, "step 9 is outside"),
    ({"interventions": [Intervention("r", 1, "f", 0.0, layer=1)]}, "layer 1 does not exist"),
])
def test_trace_arguments_are_checked(kwargs, match):
    x = torch.zeros(1, 6, dtype=torch.long)
    with pytest.raises(SequenceError, match=match):
        trace(lstm_model(), x, torch.zeros(1, 6, dtype=torch.long), **kwargs)


def test_nan_targets_named_unless_masked_out():
    g = chain(("x", "input", {"encoding": "numeric", "features": 1}), ("r", "gru", {}),
              ("head", "linear", {"out_features": 1, "output": "identity"}))
    model = build(g)
    x = [[0.1], [0.2], [0.3]]
    y = torch.tensor([[[0.0], [float("nan")], [1.0]]])
    with pytest.raises(SequenceError, match="target at step 1"):
        trace(model, x, y)
    tr = trace(model, x, y, mask=torch.tensor([[1.0, 0.0, 1.0]]))
    assert np.isfinite(tr.loss) and tr.step_loss[0, 1] == 0


def test_inputs_of_different_batch_sizes():
    g = GraphSpec([NodeSpec("src", "input", {"vocab_size": 4}), NodeSpec("tgt", "input", {}),
                   NodeSpec("enc", "gru", {"hidden_size": 4}),
                   NodeSpec("dec", "gru", {"hidden_size": 4}), NodeSpec("head", "linear", {})],
                  [EdgeSpec("src", "enc"), EdgeSpec("tgt", "dec"), EdgeSpec("enc", "dec", "state"),
                   EdgeSpec("dec", "head")])
    with pytest.raises(SequenceError, match="different numbers of sequences: 'src' 3, 'tgt' 2"):
        trace(build(g), {"src": torch.zeros(3, 5, dtype=torch.long),
                         "tgt": torch.zeros(2, 4, dtype=torch.long)})


def test_bidirectional_truncation_cuts_the_same_gaps_both_ways():
    model = lstm_model(bidirectional=True)
    x = torch.randint(0, 4, (2, 10))
    tr = trace(model, x, x, tbptt=4)
    fwd, rev = tr.layer("r", 0, 0), tr.layer("r", 0, 1)
    assert np.nonzero(fwd.cut)[0].tolist() == np.nonzero(rev.cut)[0].tolist() == [4, 8]
    ref = trace(model, x, x, tbptt=4, path="stepwise")
    np.testing.assert_allclose(rev.dh, ref.layer("r", 0, 1).dh, rtol=1e-10, atol=1e-14)


def test_failed_weights_write_keeps_the_old_pair(tmp_path, monkeypatch):
    from playground.files import experiment as X

    exp = X.load(X.resolve("hello_rnn"))
    model = exp.build_model()
    path = exp.save(tmp_path / "run.json", model=model)
    before = (path.read_bytes(), X.weights_path(path).read_bytes())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~_umask()
    changed = X.load(path)
    changed.graph.node("rnn").params["hidden_size"] = 9
    real_save = torch.save

    def full_disk(obj, f, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(X.torch, "save", full_disk)
    with pytest.raises(OSError):
        changed.save(path, model=build(changed.graph))
    monkeypatch.setattr(X.torch, "save", real_save)
    assert (path.read_bytes(), X.weights_path(path).read_bytes()) == before
    assert X.load(path).build_model() is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json", "run.weights.pt"]


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def _weights_case(tmp_path, kind):
    import pickle
    import shutil

    from playground.files.experiment import PRESETS_DIR

    shutil.copy(PRESETS_DIR / "hello_rnn.json", tmp_path / "hello_rnn.json")
    w = tmp_path / "hello_rnn.weights.pt"
    good = (PRESETS_DIR / "hello_rnn.weights.pt").read_bytes()
    if kind == "empty":
        w.write_bytes(b"")
    elif kind == "text":
        w.write_text("these are not weights")
    elif kind == "cut":
        w.write_bytes(good[: len(good) // 2])
    elif kind == "pickle":
        with open(w, "wb") as f:
            pickle.dump({"w": object()}, f)
    elif kind == "global":      # a torch file carrying a class that would be imported
        torch.save({"w": torch.zeros(2), "f": os.path.join}, w)
    return tmp_path / "hello_rnn.json"


@pytest.mark.parametrize("kind,words", [
    ("empty", "empty (0 bytes)"), ("text", "not a PyTorch weights file"),
    ("cut", "damaged or cut short"), ("pickle", "pickled Python objects"),
    ("global", "pickled Python objects")])
def test_a_bad_weights_file_says_plainly_what_is_wrong(tmp_path, kind, words):
    import subprocess
    import sys

    from playground.files import experiment

    path = _weights_case(tmp_path, kind)
    with pytest.raises(FileFormatError) as e:
        experiment.load(path)
    msg = str(e.value)
    assert words in msg and "hello_rnn.weights.pt" in msg
    assert "internal" not in msg.lower() and "Traceback" not in msg and len(msg) < 300
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, os.path.join(root, "main.py"), "trace", str(path),
                        "--out", str(tmp_path / "t.npz")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1 and words in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "t.npz").exists()


def test_weights_that_are_all_nan_load_with_a_warning_in_the_window_and_the_cli(tmp_path, qtbot):
    import json
    import subprocess
    import sys

    import torch

    from playground.files.experiment import PRESETS_DIR, load
    from ui.testing import close_window, make_window

    src = PRESETS_DIR / "hello_rnn.json"
    exp = load(src)
    dst = tmp_path / "nan.json"
    dst.write_text(json.dumps(json.loads(src.read_text())))
    state = {k: torch.full_like(v, float("nan")) for k, v in exp.weights.items()}
    torch.save(state, tmp_path / "nan.weights.pt")
    win = make_window(tmp_path, str(dst))
    try:
        assert any("NaN" in e and "nan.json" in e for e in win.errors), win.errors
        assert win.controller.name            # opened all the same: the user can go on
    finally:
        close_window(win)
    r = subprocess.run([sys.executable, "main.py", "trace", str(dst), "--input", "hel",
                        "--out", str(tmp_path / "t.npz")], capture_output=True, text=True,
                       cwd=str(PRESETS_DIR.parent), timeout=120)
    assert "warning:" in r.stderr and "NaN" in r.stderr, r.stderr


def test_a_data_file_outside_the_experiments_folder_is_read_only_when_the_user_says_so(
        tmp_path, qtbot):
    import json

    from playground.files.access import outside_data_files
    from ui.testing import close_window, make_window

    secret = tmp_path / "private" / "diary.txt"
    secret.parent.mkdir()
    secret.write_text("dear diary, " * 50)
    shared = tmp_path / "downloads"
    shared.mkdir()
    data = {"source": "file", "path": "../private/diary.txt", "window": 8}
    exp = {"version": 1, "name": "shared", "seed": 0, "data": data,
           "graph": {"nodes": [{"id": "x", "kind": "input", "params": {"vocab": 0}}],
                     "edges": []}}
    bad = shared / "shared.json"
    bad.write_text(json.dumps(exp))
    assert outside_data_files(bad) == [secret.resolve()]
    data_inside = dict(data, path="diary.txt")
    (secret.parent / "own.json").write_text(json.dumps(dict(exp, data=data_inside)))
    assert outside_data_files(secret.parent / "own.json") == []   # its own folder: no question
    win = make_window(tmp_path)
    try:
        before = win.controller.name
        read = []
        win.files.ask_read_outside = lambda files: read.append(files) or False
        assert not win.files.open_path(str(bad), ask=False)
        assert read == [[secret.resolve()]]
        assert win.controller.name == before                # the current experiment stays
        assert "diary.txt" in win.errors[-1] and "outside" in win.errors[-1]
    finally:
        close_window(win)


def test_a_save_on_a_full_disk_says_so_and_keeps_the_saved_pair(tmp_path, qtbot, monkeypatch):
    import torch

    from playground.files.experiment import PRESETS_DIR, load
    from ui.testing import close_window, make_window

    win = make_window(tmp_path, str(PRESETS_DIR / "hello_rnn.json"))
    try:
        path = tmp_path / "mine.json"
        assert win.files.save_to(str(path))
        before = load(path)

        def full(*a, **k):
            raise RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter"
                               " failed writing file data/0: file write failed")

        monkeypatch.setattr(torch, "save", full)
        win.canvas.set_param("rnn", "hidden_size", 12)       # a change to save
        assert not win.files.save_to(str(path))
        assert win.errors and "write" in win.errors[-1]
        assert win.controller.model is not None              # the window goes on
        monkeypatch.undo()
        again = load(path)                                   # the old pair, whole
        assert again.graph == before.graph
        assert {k: v.shape for k, v in again.weights.items()} == \
            {k: v.shape for k, v in before.weights.items()}
    finally:
        close_window(win)


def test_the_command_line_refuses_a_data_file_outside_the_experiments_folder(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from playground.files.experiment import PRESETS_DIR

    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "notes.txt").write_text("some private words " * 40)
    (tmp_path / "shared").mkdir()
    exp = json.loads((PRESETS_DIR / "hello_rnn.json").read_text())
    exp["data"] = {"source": "file", "path": "../private/notes.txt", "window": 8}
    bad = tmp_path / "shared" / "shared.json"
    bad.write_text(json.dumps(exp))
    cmd = [sys.executable, "main.py", "trace", str(bad), "--out", str(tmp_path / "t.npz")]
    run = dict(capture_output=True, text=True, cwd=str(PRESETS_DIR.parent), timeout=120)
    r = subprocess.run(cmd, **run)
    assert r.returncode != 0 and "notes.txt" in r.stderr and "outside" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    env = dict(os.environ, PLAYGROUND_READ_OUTSIDE="1")
    r = subprocess.run(cmd, env=env, **run)
    assert "own folder" not in r.stderr, r.stderr    # read when the user says so
