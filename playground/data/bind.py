"""Batches into a model: each input node gets the sequence of its role, as a tensor."""

from __future__ import annotations

import torch

from ..errors import SequenceError
from .dataset import Batch


def bind_inputs(model, batch: Batch) -> dict[str, torch.Tensor]:
    """``{input node id: tensor}`` for ``model`` from the batch's roles, on the model's device.

    One input node takes role ``"x"`` (or the batch's only role); several input nodes take the
    role of the same name (``src``, ``tgt``). Token ids become int64, values the model's
    dtype. A missing role or an input of the wrong kind raises :class:`SequenceError`."""
    ids = model.input_ids
    roles = batch.inputs
    if len(ids) == 1:
        nid = ids[0]
        if "x" in roles:
            chosen = {nid: roles["x"]}
        elif nid in roles:
            chosen = {nid: roles[nid]}
        elif len(roles) == 1:
            chosen = {nid: next(iter(roles.values()))}
        else:
            raise SequenceError(f"the model has one input node '{nid}' but the data has "
                                f"{len(roles)} sequences ({', '.join(roles)}); an "
                                f"encoder-decoder needs input nodes named {' and '.join(roles)}")
    else:
        missing = [n for n in ids if n not in roles]
        if missing:
            names = ", ".join(repr(m) for m in missing)
            have = ", ".join(repr(r) for r in roles)
            raise SequenceError(f"no sequence for input node(s) {names}; the data provides "
                                f"{have}. "
                                "Name the input nodes after them")
        chosen = {n: roles[n] for n in ids}
    device, dtype = model.device, model.dtype
    out = {}
    for nid, x in chosen.items():
        t = torch.as_tensor(x)
        token = model.graph.node(nid).params["encoding"] != "numeric"
        if token:
            if t.dim() != 2 or t.dtype.is_floating_point:
                raise SequenceError(f"input node '{nid}' takes token ids (B, T) but the data "
                                    f"gives values of shape {tuple(t.shape)}; set its encoding "
                                    "to numeric")
            t = t.long()
        else:
            if t.dim() == 2 and not t.dtype.is_floating_point:
                raise SequenceError(f"input node '{nid}' takes numeric values but the data gives "
                                    "token ids; set its encoding to one-hot or embedding")
            t = t.to(dtype)
        out[nid] = t.to(device)
    return out
