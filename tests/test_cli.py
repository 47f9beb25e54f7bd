"""The command line as a user runs it: ``main.py``'s ``main(argv)`` with its own stdout,
stderr and working folder. A few tests start ``python main.py`` in a subprocess, to check
the entry point itself; the rest run in this process (the same code, without a new Python
and torch import for each call)."""

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import main as entry

ROOT = Path(__file__).resolve().parents[1]


def cli_subprocess(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    env.pop("PLAYGROUND_DEBUG", None)
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=120)


def cli(*args, cwd=None):
    """``python main.py ARGS`` run in this process: its exit status, stdout and stderr."""
    out, err, here, threads = io.StringIO(), io.StringIO(), os.getcwd(), torch.get_num_threads()
    debug = os.environ.pop("PLAYGROUND_DEBUG", None)
    try:
        os.chdir(cwd or ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = entry.main([str(a) for a in args])
    finally:
        os.chdir(here)
        torch.set_num_threads(threads)          # train sets the thread count
        if debug is not None:
            os.environ["PLAYGROUND_DEBUG"] = debug
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def one_line_error(r, code=None):
    assert r.returncode != 0 and (code is None or r.returncode == code), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def test_presets_lists_the_bundled_presets():
    r = cli_subprocess("presets")
    assert r.returncode == 0, r.stderr
    names = [line.split()[0] for line in r.stdout.strip().splitlines()]
    assert len(names) >= 10 and "hello_rnn" in names
    assert names == sorted(p.stem for p in (ROOT / "presets").glob("*.json"))


def test_train_save_then_trace_the_trained_model(tmp_path):
    src = tmp_path / "hello.json"
    src.write_bytes((ROOT / "presets" / "hello_rnn.json").read_bytes())
    r = cli("train", src, "--steps", 120, "--seed", 0, "--device", "cpu", "--save")
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout.strip().splitlines()[-1])
    assert metrics["status"] == "done" and metrics["steps"] == 120 and metrics["seed"] == 0
    assert metrics["accuracy"] == 1.0 and metrics["val_loss"] < 0.05
    assert "step 120/120" in r.stderr
    assert (tmp_path / "hello.weights.pt").exists()
    out = tmp_path / "t.npz"
    r = cli("trace", src, "--input", "hell", "--out", out)
    assert r.returncode == 0, r.stderr
    with np.load(out) as z:
        probs = z["probs"]
        assert probs.shape == (1, 4, 4) and z["layers/0/h"].shape == (1, 4, 8)
        assert "param_grads/layers.rnn.rnn.weight_hh_l0" in z.files
        assert str(z["layers/0/node"]) == "rnn" and float(z["loss"]) < 0.05
    # h, e, l, o: the trained model reads "hell" and predicts "ello"
    assert probs[0].argmax(-1).tolist() == [1, 2, 2, 3]
    # the trained model generates: greedy and beam continue "h" as "ello", sampling repeats
    r = cli("generate", src, "--prompt", "h", "--length", 4, "--greedy")
    assert r.returncode == 0 and r.stdout.strip() == "ello", r.stderr
    r = cli("generate", src, "--prompt", "h", "--length", 4, "--beam", 3)
    assert r.returncode == 0 and r.stdout.strip() == "ello", r.stderr
    runs = [cli("generate", src, "--prompt", "he", "--length", 8, "--temperature", 2,
                "--top-k", 2, "--seed", 3).stdout for _ in range(2)]
    assert runs[0] == runs[1] and len(runs[0].strip()) == 8
    assert one_line_error(cli("generate", src, "--prompt", "h", "--beam", 0), 2) == \
        "error: --beam must be >= 1, got 0"
    assert "not in the vocabulary" in one_line_error(cli("generate", src, "--prompt", "hz"), 1)
    # every path gives the same trace
    for path in ("fused", "stepwise"):
        other = tmp_path / f"{path}.npz"
        r = cli("trace", src, "--input", "hell", "--out", other, "--path", path)
        assert r.returncode == 0, r.stderr
        with np.load(out) as a, np.load(other) as b:
            for key in ("layers/0/h", "layers/0/dh", "probs"):
                np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-7, err_msg=key)


def test_training_a_preset_by_name_saves_into_the_current_folder(tmp_path):
    bundled = (ROOT / "presets" / "spell_one_to_many.weights.pt").read_bytes()
    r = cli("train", "spell_one_to_many", "--steps", 3, "--save", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["saved"] == str(
        tmp_path / "spell_one_to_many.json")
    assert (tmp_path / "spell_one_to_many.weights.pt").exists()
    assert (ROOT / "presets" / "spell_one_to_many.weights.pt").read_bytes() == bundled


def test_a_diverging_run_reports_it():
    r = cli("train", "exploding_relu", "--quiet")
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout.strip().splitlines()[-1])
    assert m["status"] == "diverged" and m["error"] and m["steps"] < 10
    assert "stopped: training stopped at step" in r.stderr


@pytest.mark.parametrize("args, code, words", [
    (("train", "no_such_preset"), 1, "no file or preset named 'no_such_preset'"),
    (("train", "missing.json"), 1, "file not found"),
    (("train", "hello_rnn", "--steps", "many"), 2, "invalid int value: 'many'"),
    (("train", "hello_rnn", "--steps", "-4"), 2, "--steps must be >= 0"),
    (("train",), 2, "the following arguments are required: file"),
    (("trace", "hello_rnn", "--input", "hexl", "--out", "x.npz"), 1,
     "symbol 'x' at position 3 is not in the vocabulary"),
    (("trace", "hello_rnn", "--out", "x.txt"), 2, "--out must end in .npz"),
    (("presets", "--bogus"), 2, "unrecognized arguments: --bogus"),
])
def test_bad_arguments_give_one_line(args, code, words, tmp_path):
    r = cli(*args, cwd=tmp_path)
    line = one_line_error(r, code)
    assert words in line, line


def test_bad_file_names_the_field(tmp_path):
    d = json.loads((ROOT / "presets" / "hello_rnn.json").read_text())
    d["graph"]["nodes"][1]["params"]["hidden_size"] = -3
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    line = one_line_error(cli("train", bad))
    assert line == (f"error: {bad}: graph.nodes[1].params.hidden_size: must be a positive "
                    "integer, got -3")


def test_a_mistyped_command_is_named_with_a_suggestion(tmp_path):
    r = cli_subprocess("trian", "x", cwd=tmp_path)
    line = one_line_error(r, 2)
    assert "unknown command 'trian'" in line and "did you mean 'train'" in line


def test_after_train_save_trace_and_export_read_the_trained_file_and_say_so(tmp_path):
    r = cli("train", "hello_rnn", "--steps", 5, "--device", "cpu", "--save", "--quiet",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    saved = tmp_path / "hello_rnn.json"
    assert json.loads(r.stdout.splitlines()[-1])["saved"] == str(saved)
    r = cli("trace", "hello_rnn", "--out", "t.npz", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    assert out["trained"] and out["experiment"] == "hello_rnn.json"
    assert "traced hello_rnn.json (trained weights)" in r.stderr
    r = cli("export", "hello_rnn", "--out", "m.py", cwd=tmp_path)
    assert r.returncode == 0 and "exported hello_rnn.json (trained weights)" in r.stderr


def test_a_file_with_several_problems_names_every_one(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 1, "name": "x", "graph": {"nodes": [
        {"id": "a", "kind": "no_such_kind"}]}}))
    line = one_line_error(cli("train", bad, cwd=tmp_path), 1)
    assert "2 problems" in line and "graph.nodes[0].kind" in line and "data: missing" in line


def test_generate_free_runs_a_values_model_and_refuses_token_options(tmp_path):
    untrained = tmp_path / "sine.json"      # the preset without its weights
    untrained.write_bytes((ROOT / "presets" / "gru_sine.json").read_bytes())
    for file, note in (("gru_sine", False), (untrained, True)):
        r = cli("generate", file, "--prompt", "0, 0.5, 0.8", "--length", 5)
        assert r.returncode == 0, r.stderr
        values = [float(v) for v in r.stdout.strip().split(",")]
        assert len(values) == 5 and all(np.isfinite(values))
        assert ("no trained weights" in r.stderr) == note
    assert "for token models" in one_line_error(
        cli("generate", "gru_sine", "--prompt", "0,1", "--beam", 2), 2)
    assert "comma-separated numbers" in one_line_error(
        cli("generate", "gru_sine", "--prompt", "a,b"), 2)


def test_generate_reads_the_prompt_as_an_encoder_decoders_source(tmp_path):
    import torch

    from playground.files.experiment import load, resolve

    exp = load(resolve("reverse_attention"))
    model, v = exp.build_model().eval(), exp.make_dataset().vocab
    src, out = torch.tensor([v.encode("cabf").tolist()]), []
    with torch.no_grad():   # the decoder's argmax on the growing prefix, to </s> or 9
        while len(out) < 9 and (not out or out[-1] != v.index["</s>"]):
            tgt = torch.tensor([[v.index["<s>"], *out]])
            out.append(int(model({"src": src, "tgt": tgt})[0, -1].argmax()))
    r = cli("generate", "reverse_attention", "--prompt", "cabf", "--length", 9, "--greedy")
    assert r.returncode == 0 and r.stdout.strip() == "".join(v.decode(out)), r.stderr
    r = cli("generate", "reverse_attention", "--prompt", "cabf", "--length", 9, "--beam", 3)
    assert r.returncode == 0, r.stderr
    beam = r.stdout.strip()
    assert beam.endswith("</s>") or len(v.tokens(beam)) == 9
    assert "symbol 'z' at position 2" in one_line_error(
        cli("generate", "reverse_attention", "--prompt", "az"), 1)
    assert "one answer per sequence" in one_line_error(
        cli("generate", "classify_order", "--prompt", "ab"), 1)
    r = cli("export", "reverse_attention", "--out", "rev.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    data = tmp_path / json.loads(r.stdout.splitlines()[-1])["data"]
    assert data == tmp_path / "rev_data.pt"
    loaded = torch.load(data, weights_only=True)
    assert set(loaded["inputs"]) == {"src", "tgt"} and loaded["mask"].shape[1] == 7
