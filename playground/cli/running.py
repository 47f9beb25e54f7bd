"""Commands that run a trained model: ``trace``, ``generate`` and ``export``."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .common import UsageError, load, num, writing


def add_arguments(sub) -> None:
    r = sub.add_parser("trace", help="write a trace of one sequence to .npz")
    r.add_argument("file", help="experiment file or preset name")
    r.add_argument("--input", help="the sequence, typed (default: the task's example)")
    r.add_argument("--out", required=True, help="output .npz file")
    r.add_argument("--path", choices=("auto", "compiled", "fused", "stepwise"), default="auto",
                   help="how recurrent layers are traced: compiled loops (CPU, numba), PyTorch's "
                        "kernel and torch loops, or the step-by-step unroll (default: auto)")
    e = sub.add_parser("export", help="write the model as a standalone PyTorch file")
    e.add_argument("file", help="experiment file or preset name")
    e.add_argument("--out", required=True, help="output .py file (weights go beside as .pt, "
                   "the data set as NAME_data.pt)")
    g = sub.add_parser("generate", help="continue a prompt with the (trained) model")
    g.add_argument("file", help="experiment file or preset name")
    g.add_argument("--prompt", required=True,
                   help="text for a token model (the source for an encoder-decoder); "
                        "comma-separated numbers for a values model")
    g.add_argument("--length", type=int, default=20, help="symbols or steps to generate")
    how = g.add_mutually_exclusive_group()
    how.add_argument("--greedy", action="store_true", help="always the most likely symbol")
    how.add_argument("--temperature", type=float, help="sample at this temperature (default 1)")
    how.add_argument("--beam", type=int, help="beam search of this width")
    g.add_argument("--top-k", type=int, help="sample only from the K most likely symbols")
    g.add_argument("--seed", type=int, default=0, help="seed for sampling")


def flatten_trace(tr) -> dict[str, np.ndarray]:
    """A :class:`playground.tracing.Trace` as named arrays: ``outputs``, ``probs``, ``loss``,
    ``inputs/<node>``, ``param_grads/<name>``, and per layer record
    ``layers/<i>/<field>`` (with ``gates/<letter>``, ``pre/<letter>``)."""
    out: dict[str, np.ndarray] = {}

    def put(key, value):                        # None is left out, a tuple is its length
        if isinstance(value, dict):
            for k, v in value.items():
                put(f"{key}/{k}", v)
        elif isinstance(value, (str, bool, int, float, np.ndarray, np.generic, tuple)):
            out[key] = np.asarray(len(value) if isinstance(value, tuple) else value)

    for name in ("outputs", "probs", "targets", "mask", "step_loss", "loss", "head_output",
                 "tbptt", "inputs", "param_grads"):
        put(name, getattr(tr, name))
    for i, rec in enumerate(tr.layers):
        # the record's data: not its bookkeeping (serial numbers, caches a view made)
        names = [f.name for f in dataclasses.fields(rec) if f.compare] \
            if dataclasses.is_dataclass(rec) else list(vars(rec))
        for name in names:
            put(f"layers/{i}/{name}", getattr(rec, name))
    return out


def write_trace(tr, out: Path) -> dict[str, np.ndarray]:
    """``--out``: the trace's :func:`flatten_trace` arrays as a compressed ``.npz``, whole or
    not at all; returns the arrays."""
    arrays = flatten_trace(tr)
    tmp = out.with_name(f".{out.name}.tmp.npz")
    with writing("--out", out, "choose another --out"):
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            np.savez_compressed(tmp, **arrays)
            os.replace(tmp, out)
        finally:                                # no half-written file left behind
            tmp.unlink(missing_ok=True)
    return arrays


def cmd_trace(args) -> int:
    from ..data.bind import bind_inputs
    from ..tracing.tracer import trace

    out = Path(args.out)
    if out.suffix != ".npz":
        raise UsageError(f"--out must end in .npz, got {args.out!r}")
    exp, path = load(args.file)
    dataset, model = exp.make_dataset(), exp.build_model()
    batch = dataset.example() if args.input is None else dataset.encode_input(args.input)
    has_targets = float(np.asarray(batch.mask).sum()) > 0
    tr = trace(model, bind_inputs(model, batch), batch.targets if has_targets else None,
               batch.mask if has_targets else None, tbptt=exp.train.tbptt, path=args.path)
    arrays = write_trace(tr, out)
    print(json.dumps({"file": str(out), "arrays": len(arrays), "steps": tr.steps,
                      "loss": num(tr.loss), "trained": exp.weights is not None,
                      "experiment": str(path)}))
    print(f"traced {path} ({'trained' if exp.weights is not None else 'untrained'} weights)",
          file=sys.stderr)
    return 0


def cmd_generate(args) -> int:
    """Print the continuation of ``--prompt`` on stdout (numbers comma-separated); an
    encoder-decoder reads the prompt as its source."""
    from ..train.generate import generate

    if args.top_k is not None and (args.greedy or args.beam is not None):
        raise UsageError("--top-k goes with sampling (--temperature), not --greedy or --beam")
    exp, path = load(args.file)
    dataset, model = exp.make_dataset(), exp.build_model()
    if getattr(dataset, "vocab", None) is None:
        try:
            numbers = [float(v) for v in args.prompt.replace(" ", "").split(",") if v]
        except ValueError:
            raise UsageError("--prompt: a values model takes comma-separated numbers, got "
                             f"{args.prompt!r}") from None
        if args.beam is not None or args.top_k is not None or args.temperature is not None:
            raise UsageError("a values model free-runs: --temperature, --top-k and --beam "
                             "are for token models")
        if not numbers:
            raise UsageError("--prompt: give at least one number")
    mode = "beam" if args.beam is not None else "greedy" if args.greedy or \
        dataset.vocab is None else "sample"
    made = generate(model, dataset, args.prompt, args.length, mode=mode, beam=args.beam,
                    temperature=1.0 if args.temperature is None else args.temperature,
                    top_k=args.top_k, seed=args.seed)
    print(made.text)
    if exp.weights is None:
        print(f"note: {path.name} has no trained weights, so this came from an untrained "
              "model (train it with: main.py train FILE --save)", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    if not Path(args.out).name:
        raise UsageError(f"--out must name a .py file, got {args.out!r}")
    from ..files.export import export_dataset, export_pytorch

    exp, path = load(args.file)
    model, dataset = exp.build_model(), exp.make_dataset()
    with writing("--out", args.out, "choose another --out"):
        py, pt = export_pytorch(SimpleNamespace(model=model, dataset=dataset), args.out)
        data = export_dataset(model, dataset, py, exp.train)
    print(json.dumps({"file": str(py), "weights": str(pt), "data": str(data),
                      "trained": exp.weights is not None, "experiment": str(path)}))
    print(f"exported {path} ({'trained' if exp.weights is not None else 'untrained'} "
          "weights)", file=sys.stderr)
    return 0
