"""Vocabularies, batches, sources (typed text and numbers, .txt/.csv/.npy/.npz files),
make_dataset's config checking, and fitting models to data."""

import numpy as np
import pytest
import torch

from playground.data import (
    Batch,
    Vocab,
    bind_inputs,
    check_model,
    make_dataset,
    shape_mask,
    suggest_head,
    suggest_input,
    tokenize,
)
from playground.data.sources import parse_numbers, read_array, read_csv
from playground.errors import FileFormatError, SequenceError
from playground.model.build import build
from playground.model.losses import mean_loss, step_losses
from playground.model.spec import EdgeSpec, GraphSpec, NodeSpec, chain

# -- vocabulary ------------------------------------------------------------------------------


def test_vocab_round_trip_and_order():
    v = Vocab.from_text("hello", order="appearance")
    assert v.symbols == ("h", "e", "l", "o")
    assert Vocab.from_text("hello").symbols == ("e", "h", "l", "o")
    ids = v.encode("hell")
    assert ids.dtype == np.int64 and ids.tolist() == [0, 1, 2, 2]
    assert v.decode(ids) == list("hell")
    assert v.join(ids) == "hell" and len(v) == 4 and "o" in v and "z" not in v


def test_unknown_symbol_names_symbol_and_position():
    v = Vocab.from_text("hello")
    with pytest.raises(SequenceError, match=r"'z' at position 5"):
        v.encode("hellz")
    with pytest.raises(SequenceError, match="id 9 at position 2"):
        v.decode([0, 9])
    with pytest.raises(SequenceError, match="twice"):
        Vocab(["a", "b", "a"])


def test_word_level_tokens_keep_punctuation_apart():
    text = "Hello, world! Don't panic."
    assert tokenize(text, "word") == ["Hello", ",", "world", "!", "Don't", "panic", "."]
    v = Vocab.from_text(text, "word")
    assert v.join(v.encode(text)) == text
    assert v.join(["(", "a", ")", "b"]) == "(a) b"
    assert Vocab.from_dict(v.to_dict()) == v


# -- batches and masks ------------------------------------------------------------------------


def test_shape_masks():
    assert shape_mask("many_to_one", 2, 4).tolist() == [[0, 0, 0, 1]] * 2
    assert shape_mask("many_to_many", 1, 3).tolist() == [[1, 1, 1]]
    m = shape_mask("many_to_one", 2, 4, lengths=[2, 4])
    assert m.tolist() == [[0, 1, 0, 0], [0, 0, 0, 1]]
    assert shape_mask("one_to_many", 2, 3, lengths=[1, 3]).tolist() == [[1, 0, 0], [1, 1, 1]]
    with pytest.raises(ValueError):
        shape_mask("sideways", 1, 1)


def test_batch_to_torch_and_row():
    b = Batch({"x": np.array([[0, 1], [1, 0]])}, np.array([[1, 0], [0, 1]]),
              np.ones((2, 2), np.float32))
    t = b.to_torch("cpu", torch.float64)
    assert t.inputs["x"].dtype == torch.int64 and t.mask.dtype == torch.float64
    assert b.row(1).inputs["x"].tolist() == [[1, 0]] and b.size == 2 and b.steps == 2


def _lm_model(V, seed=0):
    return build(chain(("x", "input", {"encoding": "onehot", "vocab_size": V}),
                       ("rnn", "rnn", {"hidden_size": 6}),
                       ("head", "linear", {"out_features": V})), seed=seed)


def test_tiny_model_consumes_bound_inputs_and_losses_accept_targets():
    ds = make_dataset({"source": "task", "task": "hello"})
    model = _lm_model(len(ds.vocab))
    batch = ds.sample(3, np.random.default_rng(0))
    inputs = bind_inputs(model, batch)
    assert list(inputs) == ["x"] and inputs["x"].dtype == torch.int64
    out = model(inputs)
    t = batch.to_torch()
    losses = step_losses(out, t.targets, t.mask, model.head_output)
    assert losses.shape == (3, 4)
    # Independent reference: cross-entropy of the logits by hand.
    logp = torch.log_softmax(out, -1)
    ref = -logp.gather(-1, t.targets[..., None])[..., 0]
    assert torch.allclose(losses, ref, atol=1e-6)
    assert float(mean_loss(losses, t.mask).detach()) == pytest.approx(float(ref.mean().detach()),
                                                                      rel=1e-6)


def test_numeric_inputs_bind_as_floats_of_model_dtype():
    ds = make_dataset({"source": "task", "task": "adding", "params": {"length": 6}})
    g = chain(("inp", "input", suggest_input(ds)), ("g", "gru", {"hidden_size": 4}),
              ("head", "linear", suggest_head(ds)))
    assert check_model(ds, g) == []
    model = build(g, seed=0).double()
    batch = ds.sample(2, np.random.default_rng(1))
    inputs = bind_inputs(model, batch)
    assert inputs["inp"].dtype == torch.float64 and inputs["inp"].shape == (2, 6, 2)
    losses = step_losses(model(inputs), batch.to_torch(dtype=torch.float64).targets,
                         torch.as_tensor(batch.mask), "identity")
    assert (losses[:, :-1] == 0).all() and (losses[:, -1] > 0).all()


def _seq2seq_graph(V, src="src", tgt="tgt"):
    nodes = [NodeSpec(src, "input", {"encoding": "onehot", "vocab_size": V}),
             NodeSpec(tgt, "input", {"encoding": "onehot", "vocab_size": V}),
             NodeSpec("enc", "gru", {"hidden_size": 4}), NodeSpec("dec", "gru", {"hidden_size": 4}),
             NodeSpec("head", "linear", {"out_features": V})]
    edges = [EdgeSpec(src, "enc"), EdgeSpec(tgt, "dec"), EdgeSpec("enc", "dec", "state"),
             EdgeSpec("dec", "head")]
    return GraphSpec(nodes, edges)


def test_bind_inputs_by_role_name_for_encoder_decoder():
    ds = make_dataset({"source": "task", "task": "reverse", "params": {"length": 3}})
    batch = ds.sample(2, np.random.default_rng(0))
    model = build(_seq2seq_graph(len(ds.vocab)), seed=0)
    inputs = bind_inputs(model, batch)
    assert inputs["src"].shape == (2, 3) and inputs["tgt"].shape == (2, 4)
    assert model(inputs).shape == (2, 4, len(ds.vocab))
    wrong = build(_seq2seq_graph(len(ds.vocab), "a", "b"), seed=0)
    with pytest.raises(SequenceError, match="'a', 'b'.*'src', 'tgt'"):
        bind_inputs(wrong, batch)
    assert any("input node named 'src'" in m for m in check_model(ds, wrong.graph))
    single = _lm_model(len(ds.vocab))
    with pytest.raises(SequenceError, match="one input node"):
        bind_inputs(single, batch)


def test_bind_inputs_rejects_wrong_kind_of_input():
    ds = make_dataset({"source": "task", "task": "sine", "params": {"length": 5}})
    with pytest.raises(SequenceError, match="set its encoding to numeric"):
        bind_inputs(_lm_model(4), ds.example())


def test_check_model_names_every_mismatch():
    ds = make_dataset({"source": "task", "task": "hello"})
    ok = chain(("x", "input", suggest_input(ds)), ("r", "rnn", {}),
               ("h", "linear", suggest_head(ds)))
    assert check_model(ds, ok) == []
    bad = chain(("x", "input", {"encoding": "onehot", "vocab_size": 3}), ("r", "rnn", {}),
                ("h", "linear", {"out_features": 5, "output": "identity"}))
    problems = check_model(ds, bad)
    assert len(problems) == 3
    assert "vocabulary size 3 is too small; the data has 4 symbols" in problems[0]
    assert "'h' has 5 outputs" in problems[1] and "4 classes" in problems[1]
    assert "use softmax" in problems[2]
    sine = make_dataset({"source": "task", "task": "sine"})
    p = check_model(sine, bad)
    assert len(p) == 2  # the identity head already fits values
    assert "set its encoding to numeric" in p[0] and "needs 1 value(s) per step" in p[1]
    assert suggest_input(sine) == {"encoding": "numeric", "features": 1}


# -- typed text and numbers --------------------------------------------------------------------


def test_text_dataset_windows_are_next_symbol_pairs():
    text = "the quick brown fox jumps over the lazy dog " * 6
    ds = make_dataset({"source": "text", "text": text, "window": 8})
    b = ds.sample(5, np.random.default_rng(0))
    assert b.inputs["x"].shape == (5, 8) and b.mask.all()
    assert (b.targets[:, :-1] == b.inputs["x"][:, 1:]).all()
    for row in range(5):
        s = ds.vocab.join(np.r_[b.inputs["x"][row], b.targets[row, -1:]])
        assert s in text
    assert ds.held_out
    val = ds.validation()
    assert ds.vocab.join(val.inputs["x"][0]) in text[-30:] + text  # from the held-out tail
    assert ds.example().size == 1 and ds.language_model


def test_text_dataset_word_level_and_typed_input():
    ds = make_dataset({"source": "text", "text": "I like cats. I like dogs.", "level": "word",
                       "window": 3, "validation": 0.0})
    assert "." in ds.vocab and "cats" in ds.vocab and not ds.held_out
    b = ds.encode_input("I like")
    assert ds.vocab.decode(b.inputs["x"][0]) == ["I", "like"]
    assert b.targets[0, 0] == ds.vocab.index["like"] and b.mask.tolist() == [[1, 0]]
    with pytest.raises(SequenceError, match="'birds' at position 3"):
        ds.encode_input("I like birds")


def test_short_text_clips_the_window():
    ds = make_dataset({"source": "text", "text": "hello", "window": 16})
    assert ds.window == 4 and "shorter" in ds.description
    with pytest.raises(FileFormatError, match="data.text: typed text: need at least 2"):
        make_dataset({"source": "text", "text": "h"})
    with pytest.raises(FileFormatError, match="data.text: typed numbers: need at least 2 steps"):
        make_dataset({"source": "numbers", "text": "5"})


def test_parse_numbers_formats():
    np.testing.assert_allclose(parse_numbers("0.1, 0.5 0.9"), [[0.1], [0.5], [0.9]], rtol=1e-6)
    two = parse_numbers("1 2; 3 4;5,6")
    assert two.shape == (3, 2) and two[2].tolist() == [5, 6]
    assert parse_numbers("1 2\n3 4\n").shape == (2, 2)
    with pytest.raises(SequenceError, match=r"value 1: 'x' is not a number"):
        parse_numbers("1, x")
    with pytest.raises(SequenceError, match="step 1 has 1 value"):
        parse_numbers("1 2; 3")
    with pytest.raises(SequenceError, match="finite"):
        parse_numbers("1, nan")
    with pytest.raises(SequenceError, match="empty"):
        parse_numbers("  ")
    with pytest.raises(SequenceError, match="expected 2 feature"):
        parse_numbers("1, 2, 3", features=2)


def test_numbers_dataset_forecasts_next_value():
    series = ", ".join(str(i) for i in range(40))
    ds = make_dataset({"source": "numbers", "text": series, "window": 5})
    b = ds.sample(4, np.random.default_rng(0))
    assert b.inputs["x"].shape == (4, 5, 1) and ds.output == "values"
    np.testing.assert_array_equal(b.targets, b.inputs["x"] + 1)
    last = make_dataset({"source": "numbers", "text": series, "window": 5,
                         "shape": "many_to_one"}).sample(3, np.random.default_rng(0))
    assert last.mask[:, :-1].sum() == 0 and last.mask[:, -1].all()
    np.testing.assert_array_equal(last.targets[:, -1], last.inputs["x"][:, -1] + 1)
    typed = ds.encode_input("1, 2, 4")
    assert typed.targets[0, :2, 0].tolist() == [2, 4] and typed.mask.tolist() == [[1, 1, 0]]


# -- files -----------------------------------------------------------------------------------


def test_csv_with_and_without_header(tmp_path):
    f = tmp_path / "temps.csv"
    f.write_text("day,temp,rain\n1,20.5,0\n2,21.0,1\n3,19.5,0\n")
    values, names = read_csv(str(f), ["temp", 2])
    assert names == ["temp", "rain"] and values.tolist() == [[20.5, 0], [21, 1], [19.5, 0]]
    g = tmp_path / "plain.csv"
    g.write_text("1;2\n3;4\n5;6\n")
    values, names = read_csv(str(g))
    assert values.shape == (3, 2) and names == ["column 0", "column 1"]
    ds = make_dataset({"source": "file", "path": "temps.csv", "columns": ["temp"], "window": 1,
                       "validation": 0.0}, base_dir=str(tmp_path))
    assert ds.input_features == 1 and ds.feature_names == ["temp"]


def test_bad_csv_cells_name_row_and_column(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("a,b\n1,2\n3,oops\n")
    with pytest.raises(FileFormatError, match=r"bad.csv: row 3, column 'b': 'oops' is not a num"):
        read_csv(str(f))
    f.write_text("a,b\n1,2\n3,\n")
    with pytest.raises(FileFormatError, match="row 3, column 'b': is empty"):
        read_csv(str(f))
    f.write_text("a,b\n1,2\n3,nan\n")
    with pytest.raises(FileFormatError, match="row 3.*finite"):
        read_csv(str(f))
    f.write_text("a,b\n1,2\n3\n")
    with pytest.raises(FileFormatError, match="row 3 has 1 cell"):
        read_csv(str(f))
    f.write_text("a,b\n1,2\n")
    with pytest.raises(FileFormatError, match="no column named 'c'; column names: 'a', 'b'"):
        read_csv(str(f), ["c"])
    with pytest.raises(FileFormatError, match="column index 5 is out of range"):
        read_csv(str(f), [5])
    f.write_bytes(b"a,b\n\xff\xfe,1\n")
    with pytest.raises(FileFormatError, match="not UTF-8"):
        read_csv(str(f))


def test_npy_npz_and_bad_arrays(tmp_path):
    np.save(tmp_path / "one.npy", np.arange(10.0))
    assert read_array(str(tmp_path / "one.npy")).shape == (1, 10, 1)
    np.savez(tmp_path / "two.npz", a=np.zeros((3, 8, 2)), b=np.ones(4))
    assert read_array(str(tmp_path / "two.npz"), "a").shape == (3, 8, 2)
    with pytest.raises(FileFormatError, match="holds 2 arrays \\(a, b\\)"):
        read_array(str(tmp_path / "two.npz"))
    with pytest.raises(FileFormatError, match="no array named 'c'"):
        read_array(str(tmp_path / "two.npz"), "c")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(FileFormatError, match="Python objects"):
        read_array(str(tmp_path / "obj.npy"))
    bad = np.zeros((5, 2))
    bad[3, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(FileFormatError, match="step 3, feature 1 is nan"):
        read_array(str(tmp_path / "nan.npy"))
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(FileFormatError, match="junk.npy: not a readable NumPy file"):
        read_array(str(tmp_path / "junk.npy"))
    ds = make_dataset({"source": "file", "path": str(tmp_path / "two.npz"), "array": "a",
                       "window": 4})
    assert ds.sample(2, np.random.default_rng(0)).inputs["x"].shape == (2, 4, 2)


def test_text_file_dataset(tmp_path):
    (tmp_path / "poem.txt").write_text("roses are red\nviolets are blue\n" * 3)
    ds = make_dataset({"source": "file", "path": "poem.txt", "window": 6},
                      base_dir=str(tmp_path))
    assert ds.language_model and "\n" in ds.vocab and ds.name == "poem.txt"
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(FileFormatError, match="empty.txt: the file is empty"):
        make_dataset({"source": "file", "path": str(tmp_path / "empty.txt")})


# -- config errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("config, message", [
    ({"source": "task", "task": "adding", "params": {"length": -3}},
     "data.params.length: must be >= 2, got -3"),
    ({"source": "task", "task": "hello", "params": {"text": ""}},
     "data.params.text: must contain at least one word"),
    ({"source": "task", "task": "nope"}, "data.task: unknown task 'nope'"),
    ({"source": "task", "task": "sine", "params": {"period_min": 40.0}},
     "data.params.period_min: must not exceed period_max"),
    ({"source": "task", "task": "parity", "params": {"bits": 3}},
     "data.params.bits: unknown field"),
    ({"source": "text"}, "data.text: missing"),
    ({"source": "text", "text": "abc", "window": 0},
     "data.window: must be a positive integer, got 0"),
    ({"source": "text", "text": "abc", "level": "byte"}, "data.level: must be one of char, word"),
    ({"source": "numbers", "text": "1, two"}, "data.text: value 1: 'two' is not a number"),
    ({"source": "file", "path": "x.docx"}, "data.path: cannot read .docx"),
    ({"source": "file", "path": "nowhere.csv"}, "data.path: file not found"),
    ({"source": "file", "path": "x.txt", "columns": [0]},
     "data.columns: does not apply to .txt files"),
    ({"source": "web"}, "data.source: must be one of task, text, numbers, file"),
    ("text", "data: must be an object"),
])
def test_config_errors_name_the_field(config, message):
    with pytest.raises(FileFormatError) as e:
        make_dataset(config)
    assert message in str(e.value)


def test_normalized_series_and_typed_input_use_training_statistics():
    values = np.array([10.0, 12, 14, 16, 18, 20, 22, 24, 26, 28])
    text = ", ".join(str(v) for v in values)
    ds = make_dataset({"source": "numbers", "text": text, "window": 3, "validation": 0.0,
                       "normalize": True})
    assert ds.mean[0] == pytest.approx(values.mean()) and ds.std[0] == pytest.approx(values.std())
    b = ds.example()
    np.testing.assert_allclose(ds.denormalize(b.inputs["x"][0, :, 0:1])[:, 0], [10, 12, 14],
                               rtol=1e-6)
    typed = ds.encode_input("19")
    assert typed.inputs["x"][0, 0, 0] == pytest.approx((19 - values.mean()) / values.std())
    raw = make_dataset({"source": "numbers", "text": text, "window": 3})
    assert raw.example().inputs["x"][0, 0, 0] == 10 and not raw.normalized
