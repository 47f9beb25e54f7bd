"""Commands that list and train: ``presets`` and ``train`` (with ``--save-weights``)."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from ..errors import FileFormatError
from .common import UsageError, load, num, writing


def add_arguments(sub) -> None:
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


def cmd_presets(args) -> int:
    from ..files.experiment import load, preset_names, resolve

    names = preset_names()
    width = max(map(len, names), default=0)
    for name in names:
        print(f"{name:<{width}}  {load(resolve(name), weights=False).name}")
    return 0


# the TrainConfig fields a flag of the same name can override
_TRAIN_FLAGS = ("lr", "schedule", "warmup", "step_every", "step_factor", "forget_bias", "steps")


def _with_training_flags(exp, args):
    """``exp`` with the training settings the command line gives (checked like a file's)."""
    from ..train.config import TrainConfig

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

    from ..files.experiment import PRESETS_DIR
    from ..files.trained import record_of
    from ..train.trainer import Trainer, suggested_threads

    exp, path = load(args.file, weights=not args.save_weights)
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
        "steps": trainer.step, "loss": num(last.loss) if last else None,
        "val_loss": num(metrics["val_loss"]), "accuracy": metrics["accuracy"],
        "sequence_accuracy": metrics["sequence_accuracy"],
        "grad_norm": num(last.grad_norm) if last else None, "elapsed_s": round(trainer.elapsed, 3),
        "steps_per_second": round(trainer.step / trainer.elapsed, 1) if trainer.elapsed else None,
        "device": str(trainer.device), "threads": torch.get_num_threads(), "seed": exp.seed,
        "outcome": exp.outcome, "error": last.error if last else None}
    if args.save:
        target = Path.cwd() / path.name if bundled else path    # never into the presets
        with writing("--save", target, "copy the file to (or run in) a folder you can write"):
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
    from ..files.experiment import save_weights, weights_path
    from ..files.trained import describe, train_reproducibly

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
    with writing("--save-weights", weights_path(path), "copy the file to a folder you can write"):
        wpath = save_weights(path, trainer.model, record)
    print(f"saved {wpath} ({describe(record)})", file=sys.stderr)
    print(json.dumps({"experiment": exp.name, "file": str(path), "saved": str(wpath),
                      "elapsed_s": round(trainer.elapsed, 3), **record}))
    return 0


