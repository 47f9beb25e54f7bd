"""The data set written beside an exported script: the sequences the playground trains on,
which the script (plain torch, in a process of its own) trains on with ``--train``."""

import dataclasses
import json
import math
import os
import subprocess
import sys

import pytest
import torch
from test_export import DRIVER  # the plain-torch runner of exported files

from playground.files.experiment import load, resolve
from playground.files.export import data_path, export_dataset, export_pytorch
from playground.train import Trainer

PRESETS = ("reverse_attention", "gru_sine", "spell_one_to_many")



def small(exp, steps=6, batch_size=8):
    exp.train = dataclasses.replace(exp.train, steps=steps, batch_size=batch_size,
                                    val_every=0, device="cpu")
    return exp


def drawn_by_the_trainer(model, dataset, config):
    """What a Trainer's steps draw, recorded as it trains."""
    batches = []
    sample = dataset.sample

    def recording(n, rng):
        b = sample(n, rng)
        batches.append(b)
        return b

    dataset.sample = recording
    Trainer(model, dataset, config, device="cpu").run(config.steps)
    return batches


@pytest.mark.parametrize("name", PRESETS)
def test_the_exported_data_is_what_the_trainer_draws(tmp_path, name, one_thread):
    exp = small(load(resolve(name)))
    model, dataset = exp.build_model(), exp.make_dataset()
    py, _ = export_pytorch(model, tmp_path / f"{name}.py")
    path = export_dataset(model, dataset, py, exp.train)
    assert path == data_path(py) == tmp_path / f"{name}_data.pt"
    data = torch.load(path, weights_only=True)
    batches = drawn_by_the_trainer(exp.build_model(), exp.make_dataset(), exp.train)
    assert len(batches) == exp.train.steps
    N = sum(b.size for b in batches)
    assert data["targets"].shape[0] == data["mask"].shape[0] == N
    row = 0
    for b in batches:
        rows = slice(row, row + b.size)
        T = b.mask.shape[1]
        torch.testing.assert_close(data["mask"][rows, :T], torch.as_tensor(b.mask))
        assert not data["mask"][rows, T:].any()          # padding carries no loss
        want = torch.as_tensor(b.targets)
        got = data["targets"][rows, :T]
        torch.testing.assert_close(got, want.to(got.dtype))
        roles = b.inputs
        for nid, x in data["inputs"].items():
            role = roles[nid] if nid in roles else roles["x"]
            want = torch.as_tensor(role)
            torch.testing.assert_close(x[rows, :want.shape[1]], want.to(x.dtype))
        row += b.size
    assert data["targets"].dtype == (torch.float32 if dataset.output == "values"
                                     else torch.int64)


def test_the_exported_script_trains_on_its_data_set(tmp_path):
    jobs = []
    for name in PRESETS:
        exp = small(load(resolve(name)), steps=40, batch_size=16)
        model, dataset = exp.build_model(), exp.make_dataset()
        folder = tmp_path / name
        py, _ = export_pytorch(model, folder / f"{name}.py")
        export_dataset(model, dataset, py, exp.train)
        assert f"--train {name}_data.pt" in py.read_text()   # the usage text names it
        jobs.append((name, str(folder), [str(py), "--train", f"{name}_data.pt", "--steps",
                                         "5"]))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    res = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(jobs)], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.splitlines()[-1])
    for name in PRESETS:
        losses = [float(line.split("loss")[1]) for line in out[name].splitlines()
                  if line.startswith("step")]
        assert losses and all(math.isfinite(v) for v in losses), out[name]
        assert (tmp_path / name / f"{name}_trained.pt").exists()
