"""Export a model as a standalone PyTorch file (no playground import) plus its weights.

:func:`export_pytorch` writes ``OUT.py`` defining ``Model(nn.Module)`` with the same
layers, in the same order, under the same state-dict keys as the playground's
:class:`~playground.build.SequenceModel`, a short training loop (which also runs under
``torchrun``), and ``OUT.pt``: the trained weights as a state dict that loads with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

import torch

from .spec import RECURRENT_KINDS

_LIB = {
    "onehot": '''
class OneHot(nn.Module):
    """Token ids (B, T) -> one-hot vectors (B, T, V)."""

    def __init__(self, vocab_size):
        super().__init__()
        self.vocab_size = vocab_size

    def forward(self, ids):
        return F.one_hot(ids, self.vocab_size).float()
''',
    "embedding": '''
class Embed(nn.Module):
    """Token ids (B, T) -> learned vectors (B, T, E)."""

    def __init__(self, vocab_size, dim):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)

    def forward(self, ids):
        return self.embedding(ids)
''',
    "numeric": '''
class Numeric(nn.Module):
    """Values (B, T, F), used as they are."""

    def forward(self, x):
        return x.float()
''',
    "recurrent": '''
class Recurrent(nn.Module):
    """nn.RNN / nn.LSTM / nn.GRU, batch first: (B, T, I) -> (B, T, D*H), final state."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, state=None):
        return self.rnn(x, state)
''',
    "positions": '''
def sinusoidal(T, width, device, dtype):
    """PE[t, 2i] = sin(t / 10000^(2i/d)), PE[t, 2i+1] = cos(t / 10000^(2i/d))."""
    pos = torch.arange(T, device=device, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(0, width, 2, device=device, dtype=torch.float64)
    angle = pos / torch.pow(10000.0, i / width)
    pe = torch.zeros(T, width, device=device, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : width // 2])
    return pe.to(dtype)


class Positions(nn.Module):
    """Adds sinusoidal or learned positions ("none": nothing)."""

    def __init__(self, kind, width, max_len):
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.table = nn.Parameter(torch.zeros(max_len, width))

    def forward(self, x):
        if self.kind == "sinusoidal":
            return x + sinusoidal(x.shape[1], x.shape[2], x.device, x.dtype)
        if self.kind == "learned":
            return x + self.table[: x.shape[1]]
        return x


def causal_mask(T, device):
    """True where query t may not look (keys after t)."""
    return torch.ones(T, T, dtype=torch.bool, device=device).triu(1)
''',
    "self_attention": '''
class SelfAttention(nn.Module):
    """softmax(Q K^T / sqrt(d) + mask) V over heads, then W_o."""

    def __init__(self, width, heads, causal, positions, max_len, dropout):
        super().__init__()
        self.causal = causal
        self.positions = Positions(positions, width, max_len)
        self.attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)

    def forward(self, x):
        x = self.positions(x)
        mask = causal_mask(x.shape[1], x.device) if self.causal else None
        return self.attn(x, x, x, attn_mask=mask, need_weights=False)[0]
''',
    "cross_attention": '''
class CrossAttention(nn.Module):
    """Queries from the sequence (B, T, E), keys and values from memory (B, S, M)."""

    def __init__(self, width, memory_width, heads, dropout):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, dropout=dropout, kdim=memory_width,
                                          vdim=memory_width, batch_first=True)

    def forward(self, x, memory):
        return self.attn(x, memory, memory, need_weights=False)[0]
''',
    "transformer": '''
class TransformerBlock(nn.Module):
    """Pre-norm: x + SelfAttn(LN(x)), then x + W2 act(W1 LN(x))."""

    def __init__(self, width, heads, ff_dim, causal, positions, max_len, activation, dropout):
        super().__init__()
        self.causal = causal
        self.positions = Positions(positions, width, max_len)
        self.self_attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(width, ff_dim)
        self.linear2 = nn.Linear(ff_dim, width)
        self.norm1 = nn.LayerNorm(width)
        self.norm2 = nn.LayerNorm(width)
        self.dropout = nn.Dropout(dropout)
        self.activation = F.relu if activation == "relu" else F.gelu

    def forward(self, x):
        x = self.positions(x)
        n1 = self.norm1(x)
        mask = causal_mask(x.shape[1], x.device) if self.causal else None
        a = self.self_attn(n1, n1, n1, attn_mask=mask, need_weights=False)[0]
        x = x + self.dropout(a)
        ff = self.linear2(self.dropout(self.activation(self.linear1(self.norm2(x)))))
        return x + self.dropout(ff)
''',
}

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


def _layer_code(node, src, width) -> tuple[str, str]:
    """(constructor expression, library part it needs)."""
    p, k = node.params, node.kind
    in_w = width.get(src.get("seq"))
    if k == "input":
        enc = p["encoding"]
        return {"onehot": f"OneHot({p['vocab_size']})",
                "embedding": f"Embed({p['vocab_size']}, {p['embed_dim']})",
                "numeric": "Numeric()"}[enc], enc
    if k in RECURRENT_KINDS:
        cls = {"rnn": "nn.RNN", "lstm": "nn.LSTM", "gru": "nn.GRU"}[k]
        extra = f", nonlinearity={p['nonlinearity']!r}" if k == "rnn" else ""
        drop = p["dropout"] if p["num_layers"] > 1 else 0.0
        return (f"Recurrent({cls}({in_w}, {p['hidden_size']}, num_layers={p['num_layers']}, "
                f"bias={p['bias']}, dropout={drop!r}, bidirectional={p['bidirectional']}, "
                f"batch_first=True{extra}))"), "recurrent"
    if k == "self_attention":
        return (f"SelfAttention({in_w}, {p['num_heads']}, causal={p['causal']}, "
                f"positions={p['positions']!r}, max_len={p['max_len']}, "
                f"dropout={p['dropout']!r})"), "self_attention"
    if k == "cross_attention":
        return (f"CrossAttention({in_w}, {width[src['memory']]}, {p['num_heads']}, "
                f"dropout={p['dropout']!r})"), "cross_attention"
    if k == "transformer":
        return (f"TransformerBlock({in_w}, {p['num_heads']}, {p['ff_dim']}, causal={p['causal']}"
                f", positions={p['positions']!r}, max_len={p['max_len']}, "
                f"activation={p['activation']!r}, dropout={p['dropout']!r})"), "transformer"
    return f"nn.Linear({in_w}, {p['out_features']})", "linear"


def model_source(model, title: str = "model", vocab: list[str] | None = None) -> str:
    """The standalone Python source of ``model`` (a built SequenceModel)."""
    graph, info = model.graph, model.info
    used: set[str] = set()
    seq_var = {nid: _var(nid, used) for nid in info.order}
    state_var = {nid: _var(nid + "_state", used) for nid in info.order
                 if graph.node(nid).kind in RECURRENT_KINDS}
    title = re.sub(r"[^\w\-. ]", "_", title)
    ctor, body, parts = [], [], []
    for nid in info.order:
        node, src = graph.node(nid), graph.inputs_of(nid)
        code, part = _layer_code(node, src, info.width)
        ctor.append(f"            {nid!r}: {code},")
        if part in ("self_attention", "transformer") and "positions" not in parts:
            parts.append("positions")
        if part != "linear" and part not in parts:
            parts.append(part)
        v, w = seq_var[nid], info.width.get(nid)
        shape = f"  # (B, T, {w})"
        if node.kind == "input":
            line = f"{v} = L[{nid!r}](inputs[{nid!r}])"
        elif node.kind in RECURRENT_KINDS:
            state = f", {state_var[src['state']]}" if "state" in src else ""
            line = f"{v}, {state_var[nid]} = L[{nid!r}]({seq_var[src['seq']]}{state})"
        elif node.kind == "cross_attention":
            line = f"{v} = L[{nid!r}]({seq_var[src['seq']]}, {seq_var[src['memory']]})"
        else:
            line = f"{v} = L[{nid!r}]({seq_var[src['seq']]})"
        body.append(f"        {line}{shape}")
    order = ["positions", "onehot", "embedding", "numeric", "recurrent", "self_attention",
             "cross_attention", "transformer"]
    lib = "\n" + "\n".join(_LIB[k] for k in order if k in parts)
    inputs = list(info.inputs)
    single = (f"        if isinstance(inputs, torch.Tensor):\n"
              f"            inputs = {{{inputs[0]!r}: inputs}}\n") if len(inputs) == 1 else ""
    out = seq_var[info.output]
    head = f'''"""{title}: a sequence model exported from Sequence Playground.

Plain PyTorch, no playground import. The weights are the state dict beside this file
({title}.pt), loaded with torch.load(..., weights_only=True).

    python {title}.py                              load the weights, print the size
    python {title}.py --run INPUTS.pt OUTPUTS.pt   outputs for saved inputs
    python {title}.py --train DATA.pt --steps 200  train on {{"inputs", "targets", "mask"}}
    torchrun --nproc_per_node=4 {title}.py --train DATA.pt   the same, data-parallel

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
    are written as ``VOCAB`` when known. Returns ``(py_path, weights_path)``."""
    model, vocab = _model_and_vocab(model_or_experiment)
    path = Path(path)
    if path.suffix != ".py":
        path = path.with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = path.with_suffix(".pt")
    state = {k: v.detach().to("cpu", torch.float32).clone() for k, v in model.state_dict().items()}
    source = model_source(model, path.stem, vocab)
    compile(source, str(path), "exec")  # a generator bug fails here, not in the user's hands
    tmp_py, tmp_pt = path.with_name(path.name + ".tmp"), weights.with_name(weights.name + ".tmp")
    tmp_py.write_text(source, encoding="utf-8")
    torch.save(state, tmp_pt)
    tmp_py.replace(path)
    tmp_pt.replace(weights)
    return path, weights
