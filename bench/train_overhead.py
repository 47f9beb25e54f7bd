"""Overhead of the training engine against a plain hand-written PyTorch loop.

    python -m bench.train_overhead [--steps N] [--repeats R] [--device D] [--threads T] [--quick]

Both train the same model (an LSTM language model, and a GRU on the sine task) on batches
drawn from the same dataset on the same device. The engine runs as the app uses it: a
callback receives a snapshot after every step (loss, gradient norms before and after
clipping, learning rate, speed), with the divergence guard on; validation and traces are
off on both sides, since the plain loop does neither. Runs are interleaved in one process
and the median steps/second of each side is compared. The last line is
``engine/plain steps-per-second ratio: X`` (the worst case over the models; goal X >= 0.95).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground.data import make_dataset  # noqa: E402
from playground.model.build import build  # noqa: E402
from playground.model.spec import chain  # noqa: E402
from playground.train import TrainConfig, Trainer, pick_device  # noqa: E402

TEXT = ("The recurrent network reads a sequence one step at a time and passes its state on. "
        "Training unrolls it through time and sends the gradient back through every step. ") * 4


def setups():
    """(label, dataset, graph, config) of each measured case."""
    text = make_dataset({"source": "text", "text": TEXT, "level": "char", "window": 32})
    V = len(text.vocab)
    lm = chain(("x", "input", {"encoding": "onehot", "vocab_size": V}),
               ("lstm", "lstm", {"hidden_size": 128}), ("head", "linear", {"out_features": V}))
    sine = make_dataset({"source": "task", "task": "sine", "params": {"length": 40}})
    reg = chain(("x", "input", {"encoding": "numeric", "features": 1}),
                ("gru", "gru", {"hidden_size": 64}),
                ("head", "linear", {"out_features": 1, "output": "identity"}))
    return [("LSTM-128 char LM, T=32, B=32", text, lm, TrainConfig(lr=0.003, clip_norm=1.0)),
            ("GRU-64 sine, T=40, B=32", sine, reg, TrainConfig(lr=0.01))]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_loop(model, dataset, config: TrainConfig, device, steps: int, seed: int) -> float:
    """The loop anyone would write; returns steps per second."""
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    classes = dataset.output == "classes"
    nid = model.input_ids[0]
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        b = dataset.sample(config.batch_size, rng)
        x = torch.from_numpy(b.inputs["x"]).to(device)
        y = torch.from_numpy(b.targets).to(device)
        out = model({nid: x})
        if classes:
            loss = torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]),
                                                     y.reshape(-1))
        else:
            loss = torch.nn.functional.mse_loss(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        opt.step()
        loss.item()  # a loop that reports its loss reads it back once per step
    _sync(device)
    return steps / (time.perf_counter() - t0)


def engine_loop(trainer: Trainer, steps: int) -> float:
    seen = []
    trainer._callbacks["on_step_end"] = [seen.append]  # what the app's worker does: keep it
    _sync(trainer.device)
    t0 = time.perf_counter()
    trainer.run(steps)
    _sync(trainer.device)
    assert len(seen) == steps
    return steps / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=31)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1,
                    help="CPU threads (default 1, as `main.py train` uses for small models)")
    ap.add_argument("--quick", action="store_true", help="a few short runs (smoke test)")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 10, 2
    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.repeats} interleaved repeats of {args.steps} steps")
    print(f"{'case':<34}{'engine steps/s':>16}{'plain steps/s':>15}{'ratio':>8}")
    ratios = []
    for label, dataset, graph, config in setups():
        config = TrainConfig(**{**config.to_dict(), "val_every": 0, "trace_every": 0,
                                "device": device.type})
        model = build(graph, seed=0)
        plain_model = copy.deepcopy(model).to(device)
        trainer = Trainer(model, dataset, config)
        engine_loop(trainer, 5)  # warm up both (allocator, kernels)
        plain_loop(plain_model, dataset, config, device, 5, 0)
        eng, pla = [], []
        for r in range(args.repeats):
            first, second = (engine_loop, plain_loop) if r % 2 == 0 else (plain_loop, engine_loop)
            for fn in (first, second):
                if fn is engine_loop:
                    eng.append(engine_loop(trainer, args.steps))
                else:
                    pla.append(plain_loop(plain_model, dataset, config, device, args.steps, r))
        e, p = statistics.median(eng), statistics.median(pla)
        ratios.append(e / p)
        print(f"{label:<34}{e:>16.1f}{p:>15.1f}{e / p:>8.3f}")
    print(f"engine/plain steps-per-second ratio: {min(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
