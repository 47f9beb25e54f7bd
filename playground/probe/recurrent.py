"""``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` run through this project's traced recurrent
function (:class:`playground.tracing.recurrent.TracedRecurrent`), one layer and direction
at a time, returning exactly what the module returns: ``(output, h_n)`` or
``(output, (h_n, c_n))``, batch-first or not, a ``PackedSequence`` when given one.

A packed batch of unequal lengths runs as one group per length (each sequence starts
from its own last step in the reverse direction, and ``h_n`` / ``c_n`` are its own last
step's), then the groups are put back in batch order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..errors import SequenceError
from ..tracing import compiled
from ..tracing.interventions import records_for
from ..tracing.recurrent import run_traced
from ..tracing.runs import Run, cut_masks
from ..tracing.stepwise import run_stepwise

KINDS = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn", "RNN_RELU": "rnn"}
GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn": ()}


@dataclass
class RecurrentCall:
    """One call of a recurrent module: its runs, per group of equal-length sequences."""

    node: str
    call: int
    kind: str
    nonlinearity: str
    layers: int
    directions: int
    batch: int
    steps: int
    groups: list            # [(rows (b,) int64 tensor or None, T_g, {(layer, dir): Run})]


def allowed_targets(kind: str) -> tuple[str, ...]:
    return (*GATES[kind], "h", *(("c",) if kind == "lstm" else ()))


def check_module(name: str, module: nn.RNNBase) -> str:
    """The module's kind, or a SequenceError naming what is not supported."""
    where = f"{type(module).__name__} '{name}'"
    if module.mode not in KINDS:
        raise SequenceError(f"{where}: mode {module.mode!r} is not supported")
    if getattr(module, "proj_size", 0) > 0:
        raise SequenceError(f"{where}: proj_size > 0 (an LSTM with projections) is not "
                            "supported")
    if module.training and module.dropout > 0 and module.num_layers > 1:
        raise SequenceError(f"{where}: dropout between layers in training mode is random and "
                            "cannot be traced exactly; call model.eval() first")
    return KINDS[module.mode]


def _backend(path: str, kind: str, x: torch.Tensor, H: int, name: str) -> str:
    if path in ("fused", "stepwise"):
        return path
    dtype = {torch.float32: np.float32, torch.float64: np.float64}.get(x.dtype)
    ok = compiled.available(kind, dtype, x.device.type, H, wait=path == "compiled")
    if path == "compiled" and not ok:
        raise SequenceError(f"'{name}' cannot take the compiled path: it needs numba and a CPU "
                            f"model in float32 or float64 with at most {compiled.MAX_HIDDEN} "
                            "hidden units")
    return "compiled" if ok else "fused"


def _run_group(module, kind, nonlinearity, x, h0, c0, ivs, name, path):
    """All layers and directions over ``x`` (b, T, I) of equal-length sequences."""
    L, D, H = module.num_layers, 2 if module.bidirectional else 1, module.hidden_size
    T = x.shape[1]
    cut, keep = cut_masks(T, ((0, T),))
    backend = _backend(path, kind, x, H, name)
    runs, hs, cs = {}, [], []
    layer_in = x
    for layer in range(L):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            W = (getattr(module, "weight_ih" + sfx), getattr(module, "weight_hh" + sfx),
                 getattr(module, "bias_ih" + sfx, None), getattr(module, "bias_hh" + sfx, None))
            run = Run(kind, nonlinearity, layer_in.flip(1) if d else layer_in,
                      h0[layer * D + d], None if c0 is None else c0[layer * D + d], W,
                      cut, keep, backend=backend)
            mine = [iv for iv in ivs if iv.layer == layer and iv.direction == d
                    and iv.step < T]
            if backend == "stepwise":
                at: dict[int, list] = {}
                for t in range(T):
                    active = [iv for iv in mine if iv.covers(T - 1 - t if d else t)]
                    if active:
                        at[t] = active
                run_stepwise(run, [(0, T)], at)
            else:
                run.ivs = records_for(mine, kind, T, H, reverse=bool(d))
                run_traced(run)
            runs[(layer, d)] = run
            outs.append(run.out.flip(1) if d else run.out)
            hs.append(run.hT)
            cs.append(run.cT)
        layer_in = torch.cat(outs, -1) if D == 2 else outs[0]
    return layer_in, torch.stack(hs), (torch.stack(cs) if kind == "lstm" else None), runs


def recurrent_forward(rec, name: str, module: nn.RNNBase, input, hx=None):
    """What ``module(input, hx)`` returns, computed by traced runs recorded in ``rec``."""
    kind = check_module(name, module)
    nonlinearity = "relu" if module.mode == "RNN_RELU" else "tanh"
    L, D, H = module.num_layers, 2 if module.bidirectional else 1, module.hidden_size
    packed = isinstance(input, PackedSequence)
    unbatched = not packed and input.dim() == 2
    if packed:
        x, lengths = pad_packed_sequence(input, batch_first=True)   # batch order as given
    else:
        x = input.unsqueeze(0) if unbatched else (input if module.batch_first
                                                  else input.transpose(0, 1))
        lengths = None
    if x.shape[-1] != module.input_size:
        raise SequenceError(f"{type(module).__name__} '{name}' expects {module.input_size} "
                            f"input features, got {x.shape[-1]}")
    B, T = x.shape[0], x.shape[1]
    if hx is None:
        h0 = x.new_zeros(L * D, B, H)
        c0 = h0 if kind == "lstm" else None
    else:
        h0, c0 = hx if kind == "lstm" else (hx, None)
        if unbatched:
            h0, c0 = h0.unsqueeze(1), None if c0 is None else c0.unsqueeze(1)
    n = rec.next_call(name)
    ivs = rec.interventions_for(name, kind, T, L, D, H, n)
    call = RecurrentCall(name, n, kind, nonlinearity, L, D, B, T, [])
    lens = None if lengths is None else lengths.tolist()
    if lens is None or min(lens) == T:
        out, hn, cn, runs = _run_group(module, kind, nonlinearity, x, h0, c0, ivs, name,
                                       rec.path)
        call.groups.append((None, T, runs))
    else:
        out = x.new_zeros(B, T, D * H)
        hn = x.new_zeros(L * D, B, H)
        cn = hn.clone() if kind == "lstm" else None
        for Tg in sorted(set(lens), reverse=True):
            rows = torch.tensor([b for b in range(B) if lens[b] == Tg], device=x.device)
            o, hg, cg, runs = _run_group(module, kind, nonlinearity, x[rows, :Tg],
                                         h0[:, rows], None if c0 is None else c0[:, rows],
                                         ivs, name, rec.path)
            out = out.index_put((rows,), torch.nn.functional.pad(o, (0, 0, 0, T - Tg)))
            hn = _put_state(hn, rows, hg)
            if cn is not None:
                cn = _put_state(cn, rows, cg)
            call.groups.append((rows, Tg, runs))
    rec.recurrent.append(call)
    state = (hn, cn) if kind == "lstm" else hn
    if packed:
        order = input.sorted_indices
        o = out if order is None else out[order]
        ls = lengths if order is None else lengths[order.cpu()]
        data = pack_padded_sequence(o, ls, batch_first=True, enforce_sorted=True).data
        return PackedSequence(data, input.batch_sizes, input.sorted_indices,
                              input.unsorted_indices), state
    if unbatched:
        out = out[0]
        state = (hn[:, 0], cn[:, 0]) if kind == "lstm" else hn[:, 0]
    elif not module.batch_first:
        out = out.transpose(0, 1)
    return out, state


def _put_state(full: torch.Tensor, rows: torch.Tensor, part: torch.Tensor) -> torch.Tensor:
    """``full`` (L*D, B, H) with batch ``rows`` replaced by ``part`` (differentiable)."""
    t = full.transpose(0, 1).index_put((rows,), part.transpose(0, 1))
    return t.transpose(0, 1).contiguous()
