"""Checking the sequences fed to a model, with messages that name what is wrong and where."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import SequenceError


def check_inputs(model, inputs) -> dict[str, torch.Tensor]:
    """Normalise ``inputs`` to ``{input node: tensor}`` on the model's device, or raise
    :class:`SequenceError` for an empty sequence, a symbol outside the vocabulary, NaN in
    numeric input, or a feature width that does not fit.

    Token inputs: ``(T,)`` or ``(B, T)`` integer ids. Numeric inputs: ``(T,)`` (one
    feature), ``(T, F)`` or ``(B, T, F)``.
    """
    inputs = model.as_inputs(inputs)
    out: dict[str, torch.Tensor] = {}
    for nid in model.input_ids:
        p = model.graph.node(nid).params
        x = inputs[nid]
        if isinstance(x, np.ndarray) or isinstance(x, (list, tuple)):
            x = torch.as_tensor(np.asarray(x))
        if not isinstance(x, torch.Tensor):
            raise SequenceError(f"input '{nid}': expected an array, got {type(x).__name__}")
        if p["encoding"] in ("onehot", "embedding"):
            if x.dtype.is_floating_point:
                if not bool(torch.isfinite(x).all()) or bool((x != x.round()).any()):
                    raise SequenceError(f"input '{nid}': token ids must be whole numbers")
                x = x.long()
            if x.dim() == 1:
                x = x.unsqueeze(0)
            if x.dim() != 2:
                raise SequenceError(f"input '{nid}': token ids must be (steps,) or "
                                    f"(batch, steps), got shape {tuple(x.shape)}")
            if x.shape[1] == 0 or x.shape[0] == 0:
                raise SequenceError(f"input '{nid}': the sequence is empty")
            V = p["vocab_size"]
            lo, hi = torch.aminmax(x)  # one reduction; .item() is the cheapest test on CPU
            if lo.item() < 0 or hi.item() >= V:
                bad = (x < 0) | (x >= V)
                b, t = (int(i) for i in bad.nonzero()[0])
                raise SequenceError(f"input '{nid}': symbol id {int(x[b, t])} at step {t} is "
                                    f"outside the vocabulary of {V}")
            x = x.long()
        else:
            F_ = p["features"]
            x = x.to(torch.float64) if not x.dtype.is_floating_point else x
            if x.dim() == 1:
                x = x.unsqueeze(-1)
            if x.dim() == 2:
                x = x.unsqueeze(0)
            if x.dim() != 3:
                raise SequenceError(f"input '{nid}': numeric input must be (steps, features) or "
                                    f"(batch, steps, features), got shape {tuple(x.shape)}")
            if x.shape[1] == 0 or x.shape[0] == 0:
                raise SequenceError(f"input '{nid}': the sequence is empty")
            if x.shape[2] != F_:
                raise SequenceError(f"input '{nid}': expects {F_} feature(s) per step, got "
                                    f"{x.shape[2]}")
            finite = torch.isfinite(x)
            if not bool(finite.all()):
                b, t, f = (int(i) for i in (~finite).nonzero()[0])
                raise SequenceError(f"input '{nid}': value at step {t}, feature {f} is "
                                    f"{float(x[b, t, f])}; numeric input must be finite")
            x = x.to(model.dtype)
        out[nid] = x.to(model.device)
    sizes = {nid: int(x.shape[0]) for nid, x in out.items()}
    if len(set(sizes.values())) > 1:
        raise SequenceError("the inputs hold different numbers of sequences: " +
                            ", ".join(f"'{k}' {v}" for k, v in sizes.items()))
    return out
