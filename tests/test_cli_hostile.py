"""Hostile arguments on the command line: each one is one sentence on stderr that names the
flag and what to do, exit status 2 for a usage error and 1 for a failed write, never an
``internal error`` and never a traceback (issue 15).

A few cases run ``python main.py`` as a user does; the rest, and what no test machine has
at hand (a full disk, no memory, a read-only folder for root), call ``main()`` in this
process, which is the same code without a second Python starting each time."""

import copy
import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from test_cli import ROOT, cli, one_line_error

import playground.cli as cli_module

BIG = 10 ** 30
WRITE_FAILED = "[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"


def clean(line):
    assert "internal error" not in line and "Traceback" not in line, line
    return line


def run_main(capsys, monkeypatch, *argv):
    """``main(argv)`` here: its exit status and its one line on stderr."""
    monkeypatch.delenv("PLAYGROUND_DEBUG", raising=False)
    code = cli_module.main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return code, clean(lines[0])


# -- numbers out of range: refused before anything is loaded or written -------------------
@pytest.mark.parametrize("args, words", [
    (("train", "hello_rnn", "--seed", 2 ** 64), "--seed must be <= 4,294,967,295, got"),
    (("train", "hello_rnn", "--seed", 2 ** 32), "--seed must be <= 4,294,967,295, got"),
    (("train", "hello_rnn", "--threads", 10 ** 9), "--threads must be <= "),
    (("train", "hello_rnn", "--steps", BIG), f"--steps must be <= 10,000,000, got {BIG}"),
    (("generate", "hello_rnn", "--prompt", "h", "--length", 10 ** 12), "--length must be <="),
    (("generate", "hello_rnn", "--prompt", "h", "--temperature", "nan"),
     "--temperature must be >= 0, got nan"),
])
def test_main_py_refuses_a_number_out_of_range_naming_the_flag(args, words, tmp_path):
    line = clean(one_line_error(cli(*args, cwd=tmp_path), 2))
    assert words in line, line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, words", [
    (("train", "hello_rnn", "--seed", -1), "--seed must be >= 0, got -1"),
    (("train", "hello_rnn", "--threads", 0), "--threads must be >= 1, got 0"),
    (("train", "hello_rnn", "--warmup", BIG), "--warmup must be <= 10,000,000"),
    (("train", "hello_rnn", "--step-every", 0), "--step-every must be >= 1, got 0"),
    (("train", "hello_rnn", "--save-weights", "--steps", BIG), "--steps must be <="),
    (("train", "hello_rnn", "--steps", 1, "--lr", "nan"), "--lr: must be a positive number"),
    (("train", "hello_rnn", "--steps", 1, "--lr=-inf"), "--lr: must be a positive number"),
    (("train", "hello_rnn", "--steps", 1, "--lr", "-inf"), "--lr: must be a positive number"),
    (("train", "hello_rnn", "--steps", 1, "--lr", "-1e-3"), "--lr: must be a positive number"),
    (("train", "hello_rnn", "--steps", 1, "--lr", "0"), "--lr: must be a positive number"),
    (("train", "hello_rnn", "--steps", 1, "--step-factor", "-.5"),
     "--step-factor: must be a number in (0, 1]"),
    (("train", "hello_rnn", "--steps", 1, "--step-factor", "inf"),
     "--step-factor: must be a number in (0, 1]"),
    (("train", "hello_rnn", "--steps", 1, "--forget-bias", "nan"),
     "--forget-bias: must be a number between -100 and 100"),
    (("generate", "hello_rnn", "--prompt", "h", "--length", -1), "--length must be >= 0"),
    (("generate", "hello_rnn", "--prompt", "h", "--beam", 10 ** 9), "--beam must be <= 100"),
    (("generate", "hello_rnn", "--prompt", "h", "--top-k", 0), "--top-k must be >= 1, got 0"),
    (("generate", "hello_rnn", "--prompt", "h", "--top-k", BIG), "--top-k must be <="),
    (("generate", "hello_rnn", "--prompt", "h", "--temperature", "inf"),
     "--temperature must be <= 1,000, got inf"),
    (("generate", "hello_rnn", "--prompt", "h", "--temperature", -1), "--temperature must be >="),
    (("generate", "hello_rnn", "--prompt", "h", "--seed", -1), "--seed must be >= 0, got -1"),
    (("generate", "hello_rnn", "--prompt", "h", "--seed", 2 ** 64), "--seed must be <="),
    (("export", "hello_rnn", "--out", ""), "--out must name a .py file"),
])
def test_every_numeric_flag_is_bounded(args, words, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, line = run_main(capsys, monkeypatch, *args)
    assert code == 2 and words in line, line
    assert list(tmp_path.iterdir()) == []


def test_the_seed_bound_is_the_experiment_files(tmp_path, capsys, monkeypatch, one_thread):
    """The largest seed the command line takes trains, saves and opens again; one more is
    what a file refuses."""
    from playground.errors import FileFormatError
    from playground.files.experiment import Experiment, load

    low, high = cli_module.LIMITS["seed"]
    d = json.loads((ROOT / "presets" / "hello_rnn.json").read_text())
    for seed, ok in ((low, True), (high, True), (high + 1, False), (low - 1, False)):
        try:
            Experiment.from_dict({**copy.deepcopy(d), "seed": seed})
            assert ok, seed
        except FileFormatError:
            assert not ok, seed
    monkeypatch.chdir(tmp_path)
    assert cli_module.main(["train", "hello_rnn", "--steps", "1", "--seed", str(high),
                            "--save", "--quiet", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["seed"] == high
    assert load(tmp_path / "hello_rnn.json").seed == high


# -- writes that fail: exit status 1, the flag, the path and why ---------------------------
def test_main_py_out_under_a_file_says_that_is_not_a_folder(tmp_path):
    (tmp_path / "notes").write_text("a file, not a folder")
    line = clean(one_line_error(cli("trace", "hello_rnn", "--out", "notes/sub/t.npz",
                                    cwd=tmp_path), 1))
    assert line == ("error: --out: cannot write notes/sub/t.npz: notes is not a folder; "
                    "choose another --out"), line


def test_export_under_a_file_and_onto_a_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").write_text("a file, not a folder")
    code, line = run_main(capsys, monkeypatch, "export", "hello_rnn", "--out", "notes/m.py")
    assert code == 1 and line == ("error: --out: cannot write notes/m.py: notes is not a "
                                  "folder; choose another --out"), line
    (tmp_path / "m.py").mkdir()
    code, line = run_main(capsys, monkeypatch, "export", "hello_rnn", "--out", "m.py")
    assert code == 1 and "--out: cannot write m.py: m.py is a folder" in line, line


def test_trace_onto_a_folder_leaves_no_half_written_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.npz").mkdir()
    code, line = run_main(capsys, monkeypatch, "trace", "hello_rnn", "--out", "t.npz")
    assert code == 1 and line == ("error: --out: cannot write t.npz: t.npz is a folder; "
                                  "choose another --out"), line
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]


def test_a_full_disk_says_so_and_leaves_no_half_written_trace(tmp_path, capsys, monkeypatch):
    def full(path, **arrays):
        with open(path, "wb") as f:             # a part was written before the disk filled
            f.write(b"PK")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(np, "savez_compressed", full)
    out = tmp_path / "t.npz"
    code, line = run_main(capsys, monkeypatch, "trace", "hello_rnn", "--out", out)
    assert code == 1 and line == (f"error: --out: cannot write {out}: the disk is full; "
                                  "free some space"), line
    assert list(tmp_path.iterdir()) == []


def test_torch_save_failing_to_write_is_a_sentence(tmp_path, capsys, monkeypatch):
    import torch

    def fails(*_a, **_k):                       # what torch.save says when the disk fills
        raise RuntimeError(WRITE_FAILED)

    monkeypatch.setattr(torch, "save", fails)
    code, line = run_main(capsys, monkeypatch, "export", "hello_rnn", "--out", tmp_path / "m.py")
    assert code == 1 and "--out: cannot write" in line and "disk full?" in line, line


@pytest.mark.parametrize("flag, code, why", [
    ("--save", errno.EROFS, "the folder {d} is read-only; copy the file to (or run in)"),
    ("--save-weights", errno.EACCES, "permission denied in the folder {d}; copy the file to"),
])
def test_saving_where_one_cannot_write_names_the_flag(flag, code, why, tmp_path, capsys,
                                                      monkeypatch, one_thread):
    """A read-only folder (root writes through chmod, so the error is made here)."""
    from playground.files import experiment

    def refused(path, *_a, **_k):
        tmp = Path(path).with_name(".tmp")
        raise OSError(code, os.strerror(code), str(tmp))

    src = tmp_path / "hello.json"
    src.write_bytes((ROOT / "presets" / "hello_rnn.json").read_bytes())
    monkeypatch.setattr(experiment.Experiment, "save", lambda self, p, **k: refused(p))
    monkeypatch.setattr(experiment, "save_weights", refused)
    rc, line = run_main(capsys, monkeypatch, "train", src, flag, "--quiet",
                        *(("--steps", 1) if flag == "--save" else ()))
    target = src if flag == "--save" else experiment.weights_path(src)
    assert rc == 1 and line.startswith(f"error: {flag}: cannot write {target}: "), line
    assert why.format(d=tmp_path) in line, line


def test_out_into_a_read_only_folder_says_permission_denied(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into a read-only folder (the case is made by hand above)")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        line = clean(one_line_error(cli("trace", "hello_rnn", "--out", ro / "t.npz"), 1))
    finally:
        ro.chmod(0o755)
    assert f"--out: cannot write {ro / 't.npz'}: permission denied in the folder {ro}" in line


# -- no memory ------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["train", "generate"])
def test_out_of_memory_says_what_to_make_smaller(command, capsys, monkeypatch, one_thread):
    from playground.train import generate, trainer

    def no_memory(*_a, **_k):
        raise MemoryError()

    monkeypatch.setattr(trainer.Trainer, "run", no_memory)
    monkeypatch.setattr(generate, "generate", no_memory)
    argv = {"train": ("train", "hello_rnn", "--steps", 1, "--quiet", "--device", "cpu"),
            "generate": ("generate", "hello_rnn", "--prompt", "h")}[command]
    code, line = run_main(capsys, monkeypatch, *argv)
    assert code == 1 and line == (f"error: out of memory while running {command}: use a "
                                  "smaller model, batch or sequence"), line
