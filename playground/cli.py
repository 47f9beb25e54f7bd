"""The command line: ``python main.py presets | train | trace | export``.

For scripting, preparing a class and CI. ``train`` shows a progress line on stderr and
prints the final metrics as one JSON object on the last line of stdout. Any problem with a
file or an argument is one line on stderr and a non-zero exit status, never a traceback.
``FILE`` is an experiment file or the name of a bundled preset (``hello_rnn``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import errno
import json
import math
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .errors import FileFormatError, PlaygroundError

EXIT_ERROR, EXIT_USAGE = 1, 2
# flag -> (lowest, highest): steps beyond 10^7 would run for days; seeds as in the files
_LIMITS = {"steps": (0, 10**7), "warmup": (0, 10**7), "step_every": (1, 10**7),
           "seed": (0, 2**32 - 1), "threads": (1, max(256, os.cpu_count() or 1)),
           "length": (0, 10**4), "beam": (1, 100), "top_k": (1, 10**6), "temperature": (0, 1000)}


class UsageError(Exception):
    """A bad command-line argument."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print usage and exit; we want one line
        raise UsageError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="main.py", description="Sequence Playground without the window.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("presets", help="list the bundled presets")
    t = sub.add_parser("train", help="train an experiment headless")
    t.add_argument("file", help="experiment file or preset name")
    t.add_argument("--steps", type=int, help="number of steps (default: the file's)")
    t.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="device")
    t.add_argument("--seed", type=int, help="seed for the model and the batches")
    t.add_argument("--save", action="store_true",
                   help="write the weights beside the file (a preset: into the current folder)")
    t.add_argument("--save-weights", action="store_true",
                   help="train from the seed with the file's own settings on one CPU thread and "
                        "write only the weights and their record beside the file (a preset's "
                        "too), as the bundled ones are made: the same weights bit for bit")
    t.add_argument("--threads", type=int, help="CPU threads (default: 1 for models under a "
                   "million parameters, which run fastest that way, else PyTorch's default)")
    t.add_argument("--quiet", action="store_true", help="no progress line")
    t.add_argument("--lr", type=float, help="learning rate (default: the file's)")
    t.add_argument("--schedule", choices=("constant", "step", "cosine"),
                   help="learning-rate schedule: constant, step (--step-factor every "
                        "--step-every steps) or cosine (down to 0 at the last step)")
    t.add_argument("--warmup", type=int, help="linear learning-rate warm-up, in steps")
    t.add_argument("--step-every", type=int, help="steps between the step schedule's cuts")
    t.add_argument("--step-factor", type=float, help="the step schedule's factor, in (0, 1]")
    t.add_argument("--forget-bias", type=float,
                   help="LSTM forget-gate bias at initialisation (1.0 is the usual choice)")
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
    return p


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    commands = ("presets", "train", "trace", "export", "generate")
    if argv and not argv[0].startswith("-") and argv[0] not in commands:
        close = difflib.get_close_matches(argv[0], commands, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        _error(f"unknown command {argv[0]!r}{hint} (commands: {', '.join(commands)})")
        return EXIT_USAGE
    try:
        args = _parser().parse_args(argv)
        for name, (low, high) in _LIMITS.items():   # a numeric flag out of range (NaN too)
            v = getattr(args, name, None)
            if v is not None and not low <= v <= high:
                bound = f">= {low:,}" if not v > low else f"<= {high:,}"
                raise UsageError(f"--{name.replace('_', '-')} must be {bound}, got {v}")
        return globals()[f"cmd_{args.command}"](args)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except (UsageError, PlaygroundError) as e:
        _error(str(e))
        return EXIT_USAGE if isinstance(e, UsageError) else EXIT_ERROR
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except Exception as e:  # a bug: still one line, with its type to report it
        if os.environ.get("PLAYGROUND_DEBUG"):
            raise
        oom = isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError"
        _error(f"out of memory while running {argv[0]}: use a smaller model, batch or "
               "sequence" if oom else f"internal error ({type(e).__name__}): {e}")
        return EXIT_ERROR


def _error(message: str) -> None:
    print("error: " + " ".join(str(message).split()), file=sys.stderr)


_WHY = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
        errno.EISDIR: "{f} is a folder", errno.EEXIST: "{f} is not a folder",
        errno.EACCES: "permission denied in the folder {d}", errno.ENOTDIR: "{d} is not a folder",
        errno.EROFS: "the folder {d} is read-only", errno.ENOENT: "the folder {d} does not exist"}


@contextlib.contextmanager
def _writing(flag: str, target, fix: str):
    """A failed write of ``target`` as one sentence naming ``flag``, why and what to do."""
    try:
        yield
    except (OSError, RuntimeError) as e:    # torch.save: RuntimeError for a failed write
        if not isinstance(e, OSError) and "inline_container" not in str(e):
            raise
        code, name = getattr(e, "errno", None), getattr(e, "filename", None) or target
        name = Path(getattr(e, "filename2", None) or name)     # os.replace's destination
        why = _WHY.get(code, getattr(e, "strerror", None) or "the write failed (disk full?)")
        fix = "free some space" if code in (errno.ENOSPC, errno.EDQUOT, None) else fix
        raise PlaygroundError(f"{flag}: cannot write {target}: "
                              f"{why.format(f=name, d=name.parent)}; {fix}") from None


def _load(name: str, weights: bool = True):
    """The experiment ``name`` names and its path: a file of that name here when there is one
    (what ``train NAME --save`` wrote), else the bundled preset."""
    from .files import access, experiment, trained

    here = Path(f"{name}.json")
    path = here if Path(name).suffix == "" and len(Path(name).parts) == 1 and here.exists() \
        else experiment.resolve(name)
    outside = access.outside_data_files(path)
    if outside and os.environ.get("PLAYGROUND_READ_OUTSIDE") != "1":   # no one to ask here
        raise PlaygroundError(f"{path} reads its data from {outside[0]}, outside its own folder"
                              "; if you trust it, run again with PLAYGROUND_READ_OUTSIDE=1")
    exp = experiment.load(path, weights=weights)
    if broken := trained.nonfinite_weights(exp.weights):
        print(f"warning: {path}: {broken}", file=sys.stderr)
    return exp, path


def cmd_presets(args) -> int:
    from .files.experiment import load, preset_names, resolve

    names = preset_names()
    width = max(map(len, names), default=0)
    for name in names:
        print(f"{name:<{width}}  {load(resolve(name), weights=False).name}")
    return 0


def _num(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


# the TrainConfig fields a flag of the same name can override
_TRAIN_FLAGS = ("lr", "schedule", "warmup", "step_every", "step_factor", "forget_bias", "steps")


def _with_training_flags(exp, args):
    """``exp`` with the training settings the command line gives (checked like a file's)."""
    from .train.config import TrainConfig

    given = {f: getattr(args, f) for f in _TRAIN_FLAGS if getattr(args, f) is not None}
    if not given:
        return exp
    try:
        train = TrainConfig.from_dict({**exp.train.to_dict(), **given})
    except FileFormatError as e:
        flag = "--" + e.path.rsplit(".", 1)[-1].replace("_", "-")
        raise UsageError(f"{flag}: {e.detail}") from None
    return dataclasses.replace(exp, train=train)


def cmd_train(args) -> int:
    import torch

    from .files.experiment import PRESETS_DIR
    from .files.trained import record_of
    from .train.trainer import Trainer, suggested_threads

    exp, path = _load(args.file, weights=not args.save_weights)
    exp = exp if args.seed is None else exp.with_seed(args.seed)
    if args.save_weights:
        return _save_weights(args, exp, path)
    exp = _with_training_flags(exp, args)
    dataset = exp.make_dataset()
    # A bundled preset's weights are what training it makes, so it starts from the seed's
    # initialisation; a file of your own goes on from the weights beside it.
    bundled = path.resolve().parent == PRESETS_DIR
    model = exp.build_model(weights=not bundled)
    before = 0                                  # steps the weights had (None: not known)
    if exp.weights is not None and not bundled:
        before = None if exp.trained is None else exp.trained["steps"]
    trainer = Trainer(model, dataset, exp.train, device=args.device)
    if trainer.device.type == "cpu":
        torch.set_num_threads(args.threads or suggested_threads(model))
    total = exp.train.steps if args.steps is None else args.steps
    trainer.add_callback("on_step_end", _progress(args, total))
    last = trainer.run(total)
    if sys.stderr.isatty() and not args.quiet:
        print(file=sys.stderr)
    if last is not None and last.status == "diverged":
        print(f"stopped: {last.error}", file=sys.stderr)
    metrics = trainer.evaluate()
    out = {
        "experiment": exp.name, "file": str(path), "status": last.status if last else "done",
        "steps": trainer.step, "loss": _num(last.loss) if last else None,
        "val_loss": _num(metrics["val_loss"]), "accuracy": metrics["accuracy"],
        "sequence_accuracy": metrics["sequence_accuracy"],
        "grad_norm": _num(last.grad_norm) if last else None, "elapsed_s": round(trainer.elapsed, 3),
        "steps_per_second": round(trainer.step / trainer.elapsed, 1) if trainer.elapsed else None,
        "device": str(trainer.device), "threads": torch.get_num_threads(), "seed": exp.seed,
        "outcome": exp.outcome, "error": last.error if last else None}
    if args.save:
        target = Path.cwd() / path.name if bundled else path    # never into the presets
        with _writing("--save", target, "copy the file to (or run in) a folder you can write"):
            exp.save(target, model=trainer.model,
                     trained=None if before is None else record_of(trainer, last, before))
        out["saved"] = str(target)
        print(f"saved {target} and its weights", file=sys.stderr)
    print(json.dumps(out))
    return 0


def _progress(args, total: int):
    """An ``on_step_end`` callback that prints a progress line at most twice a second."""
    last_print, val, tty = [0.0], [None], sys.stderr.isatty()

    def progress(s):
        val[0] = val[0] if s.val_loss is None else s.val_loss
        now = time.perf_counter()
        if args.quiet or (now - last_print[0] < 0.5 and s.step < total):
            return
        last_print[0] = now
        v = "" if val[0] is None else f"  val {val[0]:.4g}"
        line = (f"step {s.step}/{total}  loss {s.loss:.4g}{v}  |g| {s.grad_norm:.3g}  "
                f"{s.steps_per_second:.0f} steps/s")
        print(("\r" + line.ljust(79)) if tty else line, file=sys.stderr, end="" if tty else "\n",
              flush=True)

    return progress


def _save_weights(args, exp, path) -> int:
    """``train FILE --save-weights``: the file's own recipe, reproducibly. Only the weights
    file is written, never the JSON."""
    from .files.experiment import save_weights, weights_path
    from .files.trained import describe, train_reproducibly

    given = [f"--{a.replace('_', '-')}" for a in (*_TRAIN_FLAGS, "seed", "threads", "save")
             if getattr(args, a) not in (None, False)]
    if args.device not in (None, "cpu"):
        given.append("--device")
    if given:
        raise UsageError(f"--save-weights trains with the file's own settings; drop "
                         f"{', '.join(given)} (or change the file's train block)")
    trainer, last, record = train_reproducibly(exp, _progress(args, exp.train.steps))
    if sys.stderr.isatty() and not args.quiet:
        print(file=sys.stderr)
    with _writing("--save-weights", weights_path(path), "copy the file to a folder you can write"):
        wpath = save_weights(path, trainer.model, record)
    print(f"saved {wpath} ({describe(record)})", file=sys.stderr)
    print(json.dumps({"experiment": exp.name, "file": str(path), "saved": str(wpath),
                      "elapsed_s": round(trainer.elapsed, 3), **record}))
    return 0


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
        for name, value in vars(rec).items():
            put(f"layers/{i}/{name}", value)
    return out


def cmd_trace(args) -> int:
    from .data.bind import bind_inputs
    from .tracing.tracer import trace

    out = Path(args.out)
    if out.suffix != ".npz":
        raise UsageError(f"--out must end in .npz, got {args.out!r}")
    exp, path = _load(args.file)
    dataset, model = exp.make_dataset(), exp.build_model()
    batch = dataset.example() if args.input is None else dataset.encode_input(args.input)
    has_targets = float(np.asarray(batch.mask).sum()) > 0
    tr = trace(model, bind_inputs(model, batch), batch.targets if has_targets else None,
               batch.mask if has_targets else None, tbptt=exp.train.tbptt, path=args.path)
    arrays = flatten_trace(tr)
    tmp = out.with_name(f".{out.name}.tmp.npz")
    with _writing("--out", out, "choose another --out"):
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            np.savez_compressed(tmp, **arrays)
            os.replace(tmp, out)
        finally:                                # no half-written file left behind
            tmp.unlink(missing_ok=True)
    print(json.dumps({"file": str(out), "arrays": len(arrays), "steps": tr.steps,
                      "loss": _num(tr.loss), "trained": exp.weights is not None,
                      "experiment": str(path)}))
    print(f"traced {path} ({'trained' if exp.weights is not None else 'untrained'} weights)",
          file=sys.stderr)
    return 0


def cmd_generate(args) -> int:
    """Print the continuation of ``--prompt`` on stdout (numbers comma-separated); an
    encoder-decoder reads the prompt as its source."""
    from .train.generate import generate

    if args.top_k is not None and (args.greedy or args.beam is not None):
        raise UsageError("--top-k goes with sampling (--temperature), not --greedy or --beam")
    exp, path = _load(args.file)
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
    from .files.export import export_dataset, export_pytorch

    exp, path = _load(args.file)
    model, dataset = exp.build_model(), exp.make_dataset()
    with _writing("--out", args.out, "choose another --out"):
        py, pt = export_pytorch(SimpleNamespace(model=model, dataset=dataset), args.out)
        data = export_dataset(model, dataset, py, exp.train)
    print(json.dumps({"file": str(py), "weights": str(pt), "data": str(data),
                      "trained": exp.weights is not None, "experiment": str(path)}))
    print(f"exported {path} ({'trained' if exp.weights is not None else 'untrained'} "
          "weights)", file=sys.stderr)
    return 0
