"""Export a model as a standalone PyTorch file (no playground import) plus its weights.

:func:`export_pytorch` writes ``OUT.py`` defining ``Model(nn.Module)`` with the same
layers, in the same order, under the same state-dict keys as the playground's
:class:`~playground.model.build.SequenceModel`, a short training loop (which also runs under
``torchrun``), and ``OUT.pt``: the trained weights as a state dict that loads with
``torch.load(..., weights_only=True)``. :func:`export_dataset` writes ``OUT_data.pt``, the
sequences the playground's trainer draws, for the script's ``--train``.
"""

from __future__ import annotations

import keyword
import os
import re
from pathlib import Path

import numpy as np
import torch

from ..errors import file_boundary
from .pairsave import write_temp

_MAIN = '''

def step_losses(outputs, targets, mask):
    """(B, T) loss: cross-entropy for a softmax head, mean squared error for values."""
    if HEAD_OUTPUT == "softmax":
        safe = torch.where(mask > 0, targets, torch.zeros_like(targets))
        loss = F.cross_entropy(outputs.transpose(1, 2), safe, reduction="none")
    else:
        t = targets.float()
        t = t.unsqueeze(-1) if t.dim() == 2 else t
        loss = (outputs - t).pow(2).mean(-1)
    return loss * mask


def train(model, data, steps=100, batch_size=16, lr=1e-3, clip=1.0, seed=0):
    """Adam on random minibatches of data = {"inputs": {id: (N, T...)}, "targets", "mask"};
    L = sum(mask * loss) / sum(mask). Under torchrun each process draws its own batches
    and DistributedDataParallel averages the gradients."""
    device = next(model.parameters()).device
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    N = data["targets"].shape[0]
    model.train()
    for step in range(steps):
        rows = torch.randint(0, N, (min(batch_size, N),), generator=gen)
        inputs = {k: v[rows].to(device) for k, v in data["inputs"].items()}
        targets, mask = data["targets"][rows].to(device), data["mask"][rows].float().to(device)
        loss = step_losses(model(inputs), targets, mask).sum() / mask.sum().clamp_min(1.0)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if step % max(steps // 10, 1) == 0 or step == steps - 1:
            print(f"step {step}: loss {loss.item():.4f}")
    return model


def main():
    here = Path(__file__).resolve()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default=str(here.with_suffix(".pt")))
    p.add_argument("--run", nargs=2, metavar=("INPUTS.pt", "OUTPUTS.pt"),
                   help="outputs for a tensor (or dict of tensors) saved with torch.save")
    p.add_argument("--train", metavar="DATA.pt", help="train on {inputs, targets, mask}")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--save", help="where to write the trained weights")
    args = p.parse_args()
    model = Model()
    model.load_state_dict(torch.load(args.weights, weights_only=True))
    print(f"{type(model).__name__}: {sum(q.numel() for q in model.parameters()):,} parameters")
    if args.run:
        model.eval()
        with torch.no_grad():
            out = model(torch.load(args.run[0], weights_only=True))
        torch.save(out, args.run[1])
    if args.train:
        data = torch.load(args.train, weights_only=True)
        rank, net = 0, model
        if "LOCAL_RANK" in os.environ:  # launched by torchrun
            import torch.distributed as dist
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
            rank = dist.get_rank()
            if torch.cuda.is_available():
                torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
                model.cuda()
            net = torch.nn.parallel.DistributedDataParallel(model)
        train(net, data, steps=args.steps, lr=args.lr, seed=rank)
        if rank == 0:
            out = args.save or str(here.with_name(here.stem + "_trained.pt"))
            torch.save(model.state_dict(), out)


if __name__ == "__main__":
    main()
'''


def _var(node_id: str, used: set[str]) -> str:
    name = re.sub(r"\W", "_", node_id)
    if not name or name[0].isdigit() or keyword.iskeyword(name) or name in (
            "inputs", "L", "self", "torch", "nn", "F"):
        name = "n_" + name
    base, i = name, 2
    while name in used:
        name, i = f"{base}_{i}", i + 1
    used.add(name)
    return name


def model_source(model, title: str = "model", vocab: list[str] | None = None) -> str:
    """The standalone Python source of ``model`` (a built SequenceModel)."""
    graph, info = model.graph, model.info
    used: set[str] = set()
    seq_var = {nid: _var(nid, used) for nid in info.order}
    state_var = {nid: _var(nid + "_state", used) for nid, decl, _ in model.plan
                 if "state" in decl.outputs}
    title = re.sub(r"[^\w\-. ]", "_", title)
    ctor, body, lib = [], [], {}
    for nid, decl, ports in model.plan:
        node, src = graph.node(nid), graph.inputs_of(nid)
        widths = {port: info.width[s] for port, s in src.items() if s in info.width}
        ctor.append(f"            {nid!r}: {decl.export.constructor(node.params, widths)},")
        for name, source in decl.export.helpers(node.params):
            lib.setdefault(name, source)
        v = seq_var[nid]
        if decl.role == "input":
            call = f"L[{nid!r}](inputs[{nid!r}])"
        else:
            # the same calling convention as the built model: input ports in order, a state
            # port fed the source's final state; trailing unconnected ports left out
            args = [("None" if s is None else (state_var[s] if takes_state else seq_var[s]))
                    for s, takes_state in ports]
            while len(args) > 1 and args[-1] == "None":
                args.pop()
            call = f"L[{nid!r}]({', '.join(args)})"
        target = f"{v}, {state_var[nid]}" if nid in state_var else v
        body.append(f"        {target} = {call}  # (B, T, {info.width.get(nid)})")
    lib = "\n" + "\n".join(lib.values())
    inputs = list(info.inputs)
    single = (f"        if isinstance(inputs, torch.Tensor):\n"
              f"            inputs = {{{inputs[0]!r}: inputs}}\n") if len(inputs) == 1 else ""
    out = seq_var[info.output]
    head = f'''"""{title}: a sequence model exported from Sequence Playground.

Plain PyTorch, no playground import. The weights are the state dict beside this file
({title}.pt), loaded with torch.load(..., weights_only=True).

    python {title}.py                              load the weights, print the size
    python {title}.py --run INPUTS.pt OUTPUTS.pt   outputs for saved inputs
    python {title}.py --train {title}_data.pt --steps 200
        train on the data set exported beside this file ({{"inputs", "targets", "mask"}}:
        the sequences the playground trained on; any such file works)
    torchrun --nproc_per_node=4 {title}.py --train {title}_data.pt   the same, data-parallel

Inputs: token ids (B, T) int64 or values (B, T, F), one per input node {inputs};
outputs (B, T, {info.width[info.output]}) ({model.head_output}).
"""

import argparse
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

HEAD_OUTPUT = {model.head_output!r}
INPUTS = {inputs!r}
VOCAB = {list(vocab) if vocab is not None else None!r}
'''
    cls = f'''

class Model(nn.Module):
    """The exported graph; layers run in this order: {", ".join(info.order)}."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleDict({{
{chr(10).join(ctor)}
        }})

    def forward(self, inputs):
        """inputs: a tensor (one input node) or a dict {{input id: tensor}} -> (B, T, C)."""
{single}        L = self.layers
{chr(10).join(body)}
        return {out}
'''
    return head + lib + cls + _MAIN


def _model_and_vocab(obj):
    """(model, vocab symbols or None) of a built model, an experiment (``build_model()``,
    ``make_dataset()``) or anything with ``.model`` (and maybe ``.dataset``)."""
    dataset = getattr(obj, "dataset", None)
    if hasattr(obj, "build_model"):
        model = obj.build_model()
        if dataset is None and hasattr(obj, "make_dataset"):
            try:
                dataset = obj.make_dataset()
            except Exception:  # the data may be unreadable here; the model still exports
                dataset = None
    else:
        model = getattr(obj, "model", obj)
    if not hasattr(model, "graph") or not hasattr(model, "info"):
        raise TypeError("export_pytorch needs a built playground model or an experiment, "
                        f"got {type(obj).__name__}")
    symbols = getattr(getattr(dataset, "vocab", None), "symbols", None)
    return model, (None if symbols is None else [str(s) for s in symbols])


def export_pytorch(model_or_experiment, path) -> tuple[Path, Path]:
    """Write ``path`` (a standalone .py defining ``Model``) and the weights beside it
    (same name, ``.pt``). Accepts a built model, an experiment (its ``build_model()``,
    with the saved weights), or anything with a ``.model``; the dataset's input symbols
    are written as ``VOCAB`` when known. Returns ``(py_path, weights_path)``. A failed
    write (FileAccessError) leaves no temporary file behind."""
    model, vocab = _model_and_vocab(model_or_experiment)
    path = Path(path)
    if path.suffix != ".py":
        path = path.with_suffix(".py")
    weights = path.with_suffix(".pt")
    state = {k: v.detach().to("cpu", torch.float32).clone() for k, v in model.state_dict().items()}
    source = model_source(model, path.stem, vocab)
    compile(source, str(path), "exec")  # a generator bug fails here, not in the user's hands
    with file_boundary(path, "export it"):
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_all({path: source.encode("utf-8"), weights: state})
    return path, weights


def _write_all(files: dict) -> None:
    """Each ``{target: bytes or a state for torch.save}`` to a temporary file beside it,
    then all moved into place; on any failure every temporary is removed."""
    temps: list[Path] = []
    try:
        for target, content in files.items():
            if isinstance(content, bytes):
                temps.append(write_temp(target, content))
            else:
                temps.append(write_temp(target, state=content))
        for tmp, target in zip(temps, files):
            os.replace(tmp, target)
    except BaseException:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        raise


MAX_SEQUENCES = 20_000   # an exported data set's size at most (sequences)


def data_path(path) -> Path:
    """``dir/NAME.py`` -> ``dir/NAME_data.pt``: the data set beside an exported script."""
    path = Path(path)
    path = path if path.suffix == ".py" else path.with_suffix(".py")
    return path.with_name(path.stem + "_data.pt")


def _pad(parts: list[torch.Tensor]) -> torch.Tensor:
    """Batches ``(B, T_i, ...)`` as one ``(sum B, max T_i, ...)``, zeros after each end."""
    T = max(p.shape[1] for p in parts)
    out = parts[0].new_zeros((sum(p.shape[0] for p in parts), T, *parts[0].shape[2:]))
    row = 0
    for p in parts:
        out[row:row + p.shape[0], :p.shape[1]] = p
        row += p.shape[0]
    return out


def dataset_tensors(model, dataset, config=None, max_sequences: int = MAX_SEQUENCES) -> dict:
    """The sequences the playground's :class:`~playground.train.Trainer` trains ``model`` on:
    ``config.steps`` batches of ``config.batch_size`` drawn from
    ``numpy.random.default_rng(config.seed)`` (whole batches, about ``max_sequences`` at most),
    padded to one length with the mask 0 there. ``{"inputs": {input node: (N, T) int64 |
    (N, T, F) float32}, "targets": (N, T) int64 | (N, T, C) float32, "mask": (N, T)
    float32}``."""
    from ..data.bind import bind_inputs
    from ..train.config import TrainConfig

    cfg = config or TrainConfig()
    rng = np.random.default_rng(cfg.seed)
    batches = max(1, min(int(cfg.steps), -(-int(max_sequences) // int(cfg.batch_size))))
    inputs: dict[str, list[torch.Tensor]] = {}
    targets, mask = [], []
    for _ in range(batches):
        b = dataset.sample(cfg.batch_size, rng)
        for nid, x in bind_inputs(model, b).items():
            x = x.detach().cpu()
            inputs.setdefault(nid, []).append(x if not x.dtype.is_floating_point
                                              else x.float())
        y = torch.as_tensor(np.asarray(b.targets))
        targets.append(y.float() if y.dtype.is_floating_point else y.long())
        mask.append(torch.as_tensor(np.asarray(b.mask), dtype=torch.float32))
    return {"inputs": {nid: _pad(xs) for nid, xs in inputs.items()},
            "targets": _pad(targets), "mask": _pad(mask)}


def export_dataset(model, dataset, path, config=None) -> Path:
    """Write :func:`dataset_tensors` as ``NAME_data.pt`` beside the script ``path`` (loads
    with ``torch.load(..., weights_only=True)``); returns its path."""
    out = data_path(path)
    tensors = dataset_tensors(model, dataset, config)
    with file_boundary(out, "export the data set"):
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_all({out: tensors})
    return out
