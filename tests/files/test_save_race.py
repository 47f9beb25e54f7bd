"""Two programs saving the same experiment at once never corrupt the pair (issue 15).

Each of two processes saves its own model (8 or 16 hidden units) to the same path many
times; the saves take turns under the folder's lock (:func:`pairsave.locked`). While
they race, and after, every load gives one of the two pairs whole: the JSON of one with
the weights of the same one, never one's JSON beside the other's weights.
"""

import subprocess
import sys
import time

import torch

from playground.files import pairsave
from playground.files.experiment import load

SAVER = """
import sys
from playground.model.spec import chain
from playground.files.experiment import Experiment
hidden, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
g = chain(("x", "input", {"encoding": "onehot", "vocab_size": 4}),
          ("rnn", "rnn", {"hidden_size": hidden}), ("head", "linear", {"out_features": 4}))
exp = Experiment(name=f"h{hidden}", graph=g, seed=hidden,
                 data={"source": "task", "task": "hello", "seed": 0})
model = exp.build_model()
print("ready", flush=True)
sys.stdin.readline()
for _ in range(n):
    exp.save(path, model=model)
"""


def consistent(path) -> int:
    """The hidden size of the pair at ``path``, checked whole: its weights are the seeded
    model of its own JSON (seed = hidden size)."""
    exp = load(path)                     # raises when the weights do not fit the graph
    h = exp.graph.to_dict()["nodes"][1]["params"]["hidden_size"]
    own = exp.build_model(weights=False).state_dict()
    assert exp.weights is not None and all(torch.equal(exp.weights[k], v)
                                           for k, v in own.items()), h
    return h


def test_two_processes_racing_saves_leave_a_pair_that_loads(tmp_path):
    path = tmp_path / "run.json"
    procs = [subprocess.Popen([sys.executable, "-c", SAVER, str(h), str(path), "40"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for h in (8, 16)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:                      # both start saving at once
        p.stdin.write("go\n")
        p.stdin.flush()
    seen = set()
    while any(p.poll() is None for p in procs):
        if path.exists():
            with pairsave.locked(path):  # a reader that takes its turn too
                seen.add(consistent(path))
        time.sleep(0.01)
    assert [p.wait() for p in procs] == [0, 0]
    seen.add(consistent(path))
    assert seen <= {8, 16} and seen
    assert sorted(f.name for f in tmp_path.iterdir()) == ["run.json", "run.weights.pt"]
