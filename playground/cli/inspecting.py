"""``inspect FILE.py:FACTORY``: trace a model of the user's own code (``playground.inspect``).

``FACTORY`` in ``FILE.py`` builds the ``torch.nn.Module`` (this runs the user's file, which
is the point); ``--weights`` (a state dict), ``--input`` and ``--targets`` load with
``torch.load(weights_only=True)``. ``--input`` holds a tensor or a tuple / list of the
forward's positional arguments. With ``--out`` the trace is written to ``.npz`` (the arrays
of ``trace``); without it ``python main.py inspect`` opens the window on the model
(``ui.show.main_inspect``: this package has no window, so here one line says so).
``--to-experiment OUT.json`` writes a plain chain of layers as an editable experiment with
its weights (:mod:`playground.files.fromtorch`), or says in one line why it does not fit.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from .common import UsageError, num, writing

LOSSES = ("cross_entropy", "mse")


def add_arguments(sub) -> None:
    p = sub.add_parser("inspect", help="trace your own torch.nn.Module (FILE.py:FACTORY)")
    p.add_argument("factory", metavar="FILE.py:FACTORY",
                   help="a Python file and the function in it that returns the model")
    p.add_argument("--weights", help="a state dict saved with torch.save (.pt)")
    p.add_argument("--input", required=True,
                   help="the forward's input: a tensor, or a tuple of its arguments (.pt)")
    p.add_argument("--targets", help="targets for the loss (.pt)")
    p.add_argument("--loss", choices=LOSSES,
                   help="cross_entropy (logits (B, T, C) and class ids (B, T)) or mse; "
                        "per-step losses")
    p.add_argument("--out", help="write the trace to this .npz instead of opening the window")
    p.add_argument("--to-experiment", metavar="OUT.json",
                   help="open a plain chain (Embedding -> LSTM -> Linear ...) as an editable "
                        "experiment: write it and its weights (outputs checked on --input)")


def _tensor_file(flag: str, path: str):
    import torch

    if not Path(path).is_file():
        raise UsageError(f"{flag}: no file {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a pickle that is not plain tensors, or not a torch file
        raise UsageError(f"{flag}: cannot read {path} as tensors ({type(e).__name__}: "
                         f"{' '.join(str(e).split())[:200]})") from None


def build_model(spec: str):
    """The model ``FILE.py:FACTORY`` builds."""
    import torch

    file, sep, name = spec.rpartition(":")
    if not sep or not file.endswith(".py") or not name.isidentifier():
        raise UsageError(f"expected FILE.py:FACTORY, got {spec!r}")
    path = Path(file)
    if not path.is_file():
        raise UsageError(f"no file {file}")
    mod_spec = importlib.util.spec_from_file_location(f"_inspected_{path.stem}", path)
    module = importlib.util.module_from_spec(mod_spec)
    sys.path.insert(0, str(path.resolve().parent))     # its own imports beside it
    try:
        mod_spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.resolve().parent))
    factory = getattr(module, name, None)
    if not callable(factory):
        raise UsageError(f"{file} has no function {name!r}")
    model = factory()
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"{file}:{name}() returned {type(model).__name__}, not a "
                         "torch.nn.Module")
    return model


def loss_function(name: str):
    import torch.nn.functional as F

    def cross_entropy(output, targets):
        logits = output if not isinstance(output, (tuple, list)) else output[0]
        if logits.dim() != targets.dim() + 1:
            raise UsageError(f"--loss cross_entropy: logits of shape {tuple(logits.shape)} do "
                             f"not fit targets of shape {tuple(targets.shape)}")
        flat = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).long(),
                               reduction="none")
        return flat.view(targets.shape)

    def mse(output, targets):
        out = output if not isinstance(output, (tuple, list)) else output[0]
        if out.shape != targets.shape:
            raise UsageError(f"--loss mse: the output has shape {tuple(out.shape)} but the "
                             f"targets {tuple(targets.shape)}")
        d = (out - targets.to(out.dtype)) ** 2
        return d.mean(-1) if d.dim() == 3 else d      # per step when (B, T, F)

    return {"cross_entropy": cross_entropy, "mse": mse}[name]


def load(args):
    """``(model, inputs, targets, loss_fn)`` from the parsed arguments of ``inspect`` (also
    for the window: ``ui.show.main_inspect``)."""
    if (args.targets is None) != (args.loss is None):
        raise UsageError("--targets and --loss go together")
    model = build_model(args.factory)
    if args.weights:
        state = _tensor_file("--weights", args.weights)
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        try:
            model.load_state_dict(state)
        except Exception as e:
            raise UsageError(f"--weights: {args.weights} does not fit the model "
                             f"({' '.join(str(e).split())[:300]})") from None
    inputs = _tensor_file("--input", args.input)
    if isinstance(inputs, list):
        inputs = tuple(inputs)
    targets = None if args.targets is None else _tensor_file("--targets", args.targets)
    if args.to_experiment is not None:     # written before a trace or the window
        _to_experiment(model, inputs, args.to_experiment, args.factory)
    loss = None if args.loss is None else loss_function(args.loss)
    return model, inputs, targets, loss


def _to_experiment(model, inputs, out: str, factory: str) -> None:
    """``--to-experiment``: the experiment of a plain chain, or one line saying why not."""
    from ..files.fromtorch import experiment_from_module

    if Path(out).suffix != ".json":
        raise UsageError(f"--to-experiment must end in .json, got {out!r}")
    exp = experiment_from_module(model, inputs, name=factory.rpartition(":")[2])
    with writing("--to-experiment", Path(out), "choose another --to-experiment"):
        exp.save(out)
    print(json.dumps({"experiment": out, "nodes": [n.id for n in exp.graph.nodes]}))


def cmd_inspect(args) -> int:
    from ..probe.inspector import inspect
    from .running import write_trace

    if args.out is not None and Path(args.out).suffix != ".npz":
        raise UsageError(f"--out must end in .npz, got {args.out!r}")
    if (args.targets is None) != (args.loss is None):
        raise UsageError("--targets and --loss go together")
    model, inputs, targets, loss = load(args)
    if args.to_experiment is not None and args.out is None:
        return 0
    tr = inspect(model, inputs, targets, loss)
    if args.out is None:   # the window on a trace (issue 14, item 2) plugs in here
        raise UsageError("the window is not available yet here (playground.cli has no "
                         "window): python main.py inspect without --out opens it; give "
                         "--out trace.npz to write the trace")
    out = Path(args.out)
    arrays = write_trace(tr, out)
    print(json.dumps({"file": str(out), "arrays": len(arrays), "steps": tr.steps,
                      "loss": num(tr.loss), "records": [r.label for r in tr.layers]}))
    return 0
