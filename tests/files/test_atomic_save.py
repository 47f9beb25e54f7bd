"""Saving an experiment's pair (``NAME.json`` + ``NAME.weights.pt``) is atomic: a crash at any
moment leaves the old pair or the new pair, never a mix, and the next save (or open) clears
away what the crash left (issue 15, item 2)."""

from __future__ import annotations

import inspect
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from playground.files import experiment as X
from playground.files import pairsave
from playground.files.experiment import Experiment, load, weights_path
from playground.model.spec import chain

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = Path(__file__).resolve().parents[2]
PAIR = ["run.json", "run.weights.pt"]


def make(hidden):
    """An experiment with ``hidden`` RNN units and its model (seeded: always the same)."""
    g = chain(("x", "input", {"encoding": "onehot", "vocab_size": 4}),
              ("rnn", "rnn", {"hidden_size": hidden}),
              ("head", "linear", {"out_features": 4}))
    exp = Experiment(name=f"h{hidden}", graph=g, seed=hidden,
                     data={"source": "task", "task": "hello", "seed": 0})
    return exp, exp.build_model()


def hidden(exp: Experiment) -> int:
    return exp.graph.to_dict()["nodes"][1]["params"]["hidden_size"]


def state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def which(path: Path, pairs: dict[str, tuple[Experiment, dict | None]]) -> str:
    """The name of the pair in ``pairs`` that ``path`` loads as (its JSON and its weights,
    exactly); fails when it loads as none of them or not at all."""
    exp = load(path)                      # raises when the weights do not fit the graph
    for name, (want, weights) in pairs.items():
        if exp.to_dict() != want.to_dict():
            continue
        if weights is None and exp.weights is None:
            return name
        if weights is not None and exp.weights is not None and exp.weights.keys() == \
                weights.keys() and all(torch.equal(exp.weights[k], weights[k]) for k in weights):
            return name
    pytest.fail(f"{path} loads as neither pair: {hidden(exp)}, weights "
                f"{None if exp.weights is None else sorted(exp.weights)}")


# -- (1) SIGKILL at random moments of a save loop ----------------------------------------------
SERVER = """
import os, sys, time, traceback
import torch
torch.set_num_threads(1)
from playground.files.experiment import Experiment
from playground.model.spec import chain
""" + inspect.getsource(make) + """
path = sys.argv[1]
pairs = [make(8), make(16)]
real_replace = os.replace


def slow_replace(src, dst):       # a slow disk: a kill lands between two renames often
    real_replace(src, dst)
    time.sleep(0.002)


os.replace = slow_replace
print("ready", flush=True)
for _ in sys.stdin:                   # one saving process per line, killed by the test
    pid = os.fork()
    if pid == 0:
        try:
            i = 0
            while True:
                exp, model = pairs[i % 2]
                exp.save(path, model=model)
                i += 1
        except BaseException:
            traceback.print_exc()
        os._exit(1)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1, flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks a saving process to kill")
def test_a_save_killed_at_any_moment_leaves_a_pair_that_loads(tmp_path):
    """A process saves two experiments of different shapes (hidden size 8 and 16) in turn,
    to the same file, as fast as it can; it is killed with SIGKILL at random moments. Each
    time the pair loads as one of the two, weights and JSON together, and the next save
    leaves just the pair. (The saver is forked from one process, so that 30 kills do not
    cost 30 imports of torch.)"""
    path = tmp_path / "run.json"
    pairs = {f"h{h}": (e, state(m)) for h in (8, 16) for e, m in [make(h)]}
    pairs["h8"][0].save(path, model=make(8)[1])
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(path)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    rng = random.Random(15)
    kills, mid_save, seen = 30, 0, set()
    try:
        assert server.stdout.readline().strip() == "ready"
        for _ in range(kills):
            server.stdin.write("go\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            time.sleep(rng.uniform(0.005, 0.08))
            os.kill(pid, signal.SIGKILL)
            assert server.stdout.readline().strip() == str(int(signal.SIGKILL)), \
                "the saving process died before it was killed"
            mid_save += sorted(os.listdir(tmp_path)) != PAIR
            seen.add(which(path, pairs))
            exp = load(path)
            exp.save(path)
            assert sorted(os.listdir(tmp_path)) == PAIR
            assert which(path, pairs) == f"h{hidden(exp)}"
    finally:
        server.stdin.close()
        server.kill()
        server.wait(timeout=30)
    assert seen == {"h8", "h16"}
    assert mid_save > 0, "no kill landed in the middle of a save"


# -- (2) a save interrupted at each step ------------------------------------------------------
class Killed(BaseException):
    """The process died here: nothing after it runs, not even the clean-ups."""


def interrupt(monkeypatch, at: int, how: str) -> None:
    """Make the ``at``-th ``os.replace`` fail: ``error`` raises OSError there (the save's
    own clean-ups run), ``before`` / ``after`` kill the process just before / after that
    rename (no clean-up runs: every later rename and removal is refused too)."""
    real, calls = os.replace, [0]

    def replace(src, dst):
        calls[0] += 1
        if calls[0] < at:
            return real(src, dst)
        if how == "error" and calls[0] == at:
            raise OSError("simulated failure")
        if how == "error":
            return real(src, dst)
        if how == "after" and calls[0] == at:
            real(src, dst)
        raise Killed

    def unlink(*a, **k):
        if how == "error":
            return real_unlink(*a, **k)
        raise Killed

    real_unlink = os.unlink
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(os, "remove", unlink)


@pytest.mark.parametrize("how", ["error", "before", "after"])
@pytest.mark.parametrize("at", [1, 2, 3, 4])
def test_a_save_interrupted_at_each_step_leaves_the_old_pair_or_the_new(tmp_path, monkeypatch,
                                                                         at, how):
    """With weights a save renames three times: the weights to their pending name, the
    JSON into place (the commit), the weights to NAME.weights.pt. Up to the commit the old
    pair loads, from it the new one."""
    path = tmp_path / "run.json"
    (old, old_model), (new, new_model) = make(8), make(16)
    pairs = {"old": (old, state(old_model)), "new": (new, state(new_model))}
    old.save(path, model=old_model)
    with monkeypatch.context() as m:
        interrupt(m, at, how)
        try:
            new.save(path, model=new_model)
            done = True
        except (OSError, Killed):
            done = False
    committed = at > 2 or (at == 2 and how == "after")
    assert which(path, pairs) == ("new" if committed else "old")
    assert done == (at > 3 or (how == "error" and at == 3))
    third, model = make(8)
    third.description = "third"
    third.save(path, model=model)
    assert sorted(os.listdir(tmp_path)) == PAIR
    assert which(path, {"third": (third, state(model))}) == "third"


@pytest.mark.parametrize("how", ["error", "before", "after"])
@pytest.mark.parametrize("at", [1, 2, 3])
def test_a_save_without_weights_interrupted_leaves_the_old_pair_or_the_new(tmp_path,
                                                                           monkeypatch, at, how):
    """Without weights, the old weights are first moved aside, where the old JSON still
    finds them; then the JSON goes in; then they are removed."""
    path = tmp_path / "run.json"
    (old, old_model), (new, _) = make(8), make(16)
    pairs = {"old": (old, state(old_model)), "new": (new, None)}
    old.save(path, model=old_model)
    with monkeypatch.context() as m:
        interrupt(m, at, how)
        try:
            new.save(path)
        except (OSError, Killed):
            pass
    committed = at > 2 or (at == 2 and how == "after")
    assert which(path, pairs) == ("new" if committed else "old")
    new.save(path)
    assert sorted(os.listdir(tmp_path)) == ["run.json"]


def test_saving_the_same_json_without_weights_drops_them(tmp_path):
    """The JSON's bytes do not change (load -> save), so its pending name is the old
    one's: the weights moved there must still go."""
    path = tmp_path / "run.json"
    exp, model = make(8)
    exp.save(path, model=model)
    before = path.read_bytes()
    load(path, weights=False).save(path)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["run.json"]
    assert load(path).weights is None


# -- opening a file finishes a cut-off save and tidies up ----------------------------------
def cut_off_after_commit(monkeypatch, path, new, new_model):
    with monkeypatch.context() as m:
        interrupt(m, 3, "before")
        with pytest.raises(Killed):
            new.save(path, model=new_model)


def test_opening_finishes_a_save_cut_off_after_its_json_went_in(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    (old, old_model), (new, new_model) = make(8), make(16)
    old.save(path, model=old_model)
    cut_off_after_commit(monkeypatch, path, new, new_model)
    pending = pairsave.pending_name(path, path.read_bytes())
    assert pending.exists() and hidden(load(path, weights=False)) == 16
    assert which(path, {"new": (new, state(new_model))}) == "new"   # the open moved it
    assert sorted(os.listdir(tmp_path)) == PAIR
    # weights written alone after such a cut-off save go where the JSON finds them
    cut_off_after_commit(monkeypatch, path, new, new_model)
    other = make(16)[1]
    with torch.no_grad():
        other.layers["head"].bias.fill_(0.5)
    assert X.save_weights(path, other) == weights_path(path) == tmp_path / "run.weights.pt"
    assert sorted(os.listdir(tmp_path)) == PAIR
    assert which(path, {"new": (new, state(other))}) == "new"


def test_opening_clears_old_leftovers_and_never_a_file_of_another(tmp_path):
    path = tmp_path / "run.json"
    exp, model = make(8)
    exp.save(path, model=model)
    ours = [".run.json.0123456789abcdef.tmp", ".run.json.k2_x9abq.tmp",   # this, older one
            ".run.weights.pt.abcd_123.tmp", "run.weights-0123456789abcdef.pt",
            ".run.weights-0123456789abcdef.pt.fedcba9876543210.tmp"]
    others = ["runs.weights-0123456789abcdef.pt", ".run2.json.abcd_123.tmp", "notes.txt",
              "run.weights-0123.pt", ".run.json.0123.tmp", "run2.json", "run2.weights.pt",
              ".run.json.abcd_123.tmp.bak", "x.run.weights-0123456789abcdef.pt"]
    for name in ours + others:
        (tmp_path / name).write_bytes(b"x")
    fresh = tmp_path / ".run.json.fedcba9876543210.tmp"   # maybe a save in progress elsewhere
    fresh.write_bytes(b"x")
    old = time.time() - 2 * pairsave.OPEN_GRACE_S
    for name in ours + others:
        os.utime(tmp_path / name, (old, old))
    assert which(path, {"it": (exp, state(model))}) == "it"
    assert sorted(os.listdir(tmp_path)) == sorted(PAIR + others + [fresh.name])
    exp.save(path, model=model)
    assert sorted(os.listdir(tmp_path)) == sorted(PAIR + others)


# -- (3) files written before, and the presets, load as they did ------------------------------
def test_old_style_files_load_unchanged(tmp_path):
    path = tmp_path / "run.json"
    exp, model = make(16)
    path.write_text(exp.to_json())
    torch.save(state(model), tmp_path / "run.weights.pt")   # a plain state dict beside it
    assert which(path, {"it": (exp, state(model))}) == "it"
    assert weights_path(path) == tmp_path / "run.weights.pt"
    assert sorted(os.listdir(tmp_path)) == PAIR


def test_the_presets_load_with_their_weights_and_are_left_as_they_are():
    before = {p.name: p.stat().st_mtime_ns for p in X.PRESETS_DIR.iterdir()}
    for name in X.preset_names()[:4]:
        path = X.PRESETS_DIR / f"{name}.json"
        exp = load(path)
        assert exp.weights is not None and exp.trained is not None, name
        assert weights_path(path) == X.PRESETS_DIR / f"{name}.weights.pt"
        exp.build_model()                                   # they fit the graph
    assert {p.name: p.stat().st_mtime_ns for p in X.PRESETS_DIR.iterdir()} == before


def test_a_saved_pair_is_json_and_weights_by_their_plain_names(tmp_path):
    """Nothing in the JSON names the weights: the files travel as they always did."""
    path = tmp_path / "run.json"
    exp, model = make(8)
    exp.save(path, model=model)
    assert path.read_text() == exp.to_json() and sorted(os.listdir(tmp_path)) == PAIR
    assert oct((tmp_path / "run.weights.pt").stat().st_mode & 0o777) == \
        oct(path.stat().st_mode & 0o777)
