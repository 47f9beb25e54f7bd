"""An independent reference for playground.inspect: the user's model copied to float64, each
nn.RNN / nn.LSTM / nn.GRU replaced by an unroll of torch cells (nn.LSTMCell, ...) that share
its weights, one sequence at a time over its own length, every h_t / c_t kept with
retain_grad; attention weights recomputed from the projections. Then loss.backward()."""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

CELL = {"LSTM": nn.LSTMCell, "GRU": nn.GRUCell, "RNN_TANH": nn.RNNCell, "RNN_RELU": nn.RNNCell}


class Unrolled(nn.Module):
    def __init__(self, name, rnn, log, ivs):
        super().__init__()
        self.name, self.rnn, self.log, self.ivs, self.calls = name, rnn, log, ivs, 0

    def _cell(self, layer, d):
        m = self.rnn
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        isz = m.input_size if layer == 0 else m.hidden_size * (2 if m.bidirectional else 1)
        kw = {"nonlinearity": "relu"} if m.mode == "RNN_RELU" else {}
        cell = CELL[m.mode](isz, m.hidden_size, bias=m.bias, **kw).double()
        for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            if hasattr(m, w + sfx):
                setattr(cell, w, getattr(m, w + sfx))   # the same Parameter: grads land there
        return cell

    def _step(self, cell, x, h, c, ivs):
        lstm = self.rnn.mode == "LSTM"
        gi = F.linear(x, cell.weight_ih, cell.bias_ih)
        gh = F.linear(h, cell.weight_hh, cell.bias_hh)
        gates = {}
        if self.rnn.mode == "LSTM":
            gates = dict(zip("ifgo", (gi + gh).chunk(4, -1)))
            gates = {k: torch.tanh(v) if k == "g" else torch.sigmoid(v) for k, v in gates.items()}
        elif self.rnn.mode == "GRU":
            (xr, xz, xn), (hr, hz, hn) = gi.chunk(3, -1), gh.chunk(3, -1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            gates = {"r": r, "z": z, "n": torch.tanh(xn + r * hn)}
        clamp = [iv for iv in ivs if iv.target in gates]
        if not clamp:                                        # the torch cell itself
            if lstm:
                h, c = cell(x, (h, c))
            else:
                h = cell(x, h)
        else:                                                # a clamped gate: by hand
            for iv in clamp:
                gates[iv.target] = _set(gates[iv.target], iv)
            if lstm:
                c = gates["f"] * c + gates["i"] * gates["g"]
            else:
                h = (1 - gates["z"]) * gates["n"] + gates["z"] * h
        c_set = [iv for iv in ivs if iv.target == "c"]
        for iv in c_set:
            c = _set(c, iv)
        if lstm and (clamp or c_set):
            h = gates["o"] * torch.tanh(c)
        for iv in ivs:
            if iv.target == "h":
                h = _set(h, iv)
        return h, c, {k: v.detach() for k, v in gates.items()}

    def forward(self, input, hx=None):
        m, call = self.rnn, self.calls
        self.calls += 1
        lstm = m.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        if packed:
            x, lengths = pad_packed_sequence(input, batch_first=True)
            lengths = lengths.tolist()
        else:
            x = input if m.batch_first else input.transpose(0, 1)
            lengths = [x.shape[1]] * x.shape[0]
        B, T = x.shape[:2]
        L, D, H = m.num_layers, 2 if m.bidirectional else 1, m.hidden_size
        if hx is None:
            h0 = x.new_zeros(L * D, B, H)
            c0 = h0
        else:
            h0, c0 = hx if lstm else (hx, None)
        seqs = [x[b, :lengths[b]] for b in range(B)]
        hn, cn = [], []
        for layer in range(L):
            outs = [[] for _ in range(B)]
            for d in range(D):
                cell = self._cell(layer, d)
                rec = self.log.setdefault((self.name, call, layer, d), {
                    "h": {}, "c": {}, "gates": {}, "x": {}, "B": B, "T": T})
                hb, cb = [], []
                for b in range(B):
                    h = h0[layer * D + d, b:b + 1]
                    c = c0[layer * D + d, b:b + 1] if lstm else None
                    steps = range(lengths[b] - 1, -1, -1) if d else range(lengths[b])
                    hs = {}
                    for t in steps:
                        ivs = [iv for iv in self.ivs if iv.node == self.name and iv.layer == layer
                               and iv.direction == d and iv.covers(t)
                               and iv.call in (None, call)]
                        h, c, g = self._step(cell, seqs[b][t:t + 1], h, c, ivs)
                        h.retain_grad()
                        rec["h"][b, t] = h
                        rec["gates"][b, t] = g
                        rec["x"][b, t] = seqs[b][t].detach()
                        if lstm:
                            c.retain_grad()
                            rec["c"][b, t] = c
                        hs[t] = h
                    outs[b].append(torch.cat([hs[t] for t in range(lengths[b])]))
                    hb.append(h)
                    cb.append(c)
                hn.append(torch.cat(hb))
                cn.append(torch.cat(cb) if lstm else None)
            seqs = [torch.cat(o, -1) for o in outs]
        out = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True)
        state = (torch.stack(hn), torch.stack(cn)) if lstm else torch.stack(hn)
        if packed:
            return pack_padded_sequence(out, torch.tensor(lengths), batch_first=True,
                                        enforce_sorted=False), state
        return (out if m.batch_first else out.transpose(0, 1)), state


def _set(v, iv):
    units = list(range(v.shape[-1])) if iv.units is None else list(iv.units)
    mask = torch.zeros(v.shape[-1], dtype=torch.bool)
    mask[units] = True
    return torch.where(mask, torch.full_like(v, iv.value), v)


class Attn(nn.Module):
    """Runs the MultiheadAttention as it is; keeps its output (retain_grad) and per-head
    weights recomputed from its projections."""

    def __init__(self, name, mha, log):
        super().__init__()
        self.name, self.mha, self.log, self.calls = name, mha, log, 0

    def __getattr__(self, name):        # what nn.TransformerEncoderLayer reads of it
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["mha"], name)

    def forward(self, query, key, value, **kw):
        out, w = self.mha(query, key, value, **kw)
        out.retain_grad()
        m = self.mha
        q, k = (t if m.batch_first else t.transpose(0, 1) for t in (query, key))
        Wq, Wk, _ = m.in_proj_weight.chunk(3)
        bq, bk, _ = m.in_proj_bias.chunk(3)
        n = m.num_heads

        def heads(t):
            B, T, E = t.shape
            return t.reshape(B, T, n, E // n).transpose(1, 2)
        qh, kh = heads(F.linear(q, Wq, bq)), heads(F.linear(k, Wk, bk))
        scores = qh @ kh.transpose(-1, -2) / (qh.shape[-1] ** 0.5)
        mask = kw.get("attn_mask")
        if mask is not None:
            scores = scores + (mask.double() if mask.is_floating_point() else
                               torch.zeros_like(mask, dtype=torch.double).masked_fill(
                                   mask, float("-inf")))
        self.log[(self.name, self.calls)] = {"out": out, "weights": torch.softmax(scores, -1)
                                             .detach(), "batch_first": m.batch_first}
        self.calls += 1
        return out, w


def reference(model, inputs, targets, loss_fn, ivs=()):
    """(output, loss, log, params) of the float64 unroll of ``model``."""
    ref = copy.deepcopy(model).double()
    log: dict = {}
    params = dict(ref.named_parameters())      # their names before the wrapping
    for name, m in list(ref.named_modules()):
        if isinstance(m, (nn.RNN, nn.LSTM, nn.GRU, nn.MultiheadAttention)):
            parent, _, leaf = name.rpartition(".")
            holder = ref.get_submodule(parent) if parent else ref
            wrap = Attn(name, m, log) if isinstance(m, nn.MultiheadAttention) else \
                Unrolled(name, m, log, ivs)
            holder._modules[leaf] = wrap
    args = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    args = tuple(a.double() if a.is_floating_point() else a for a in args)
    if targets is not None and targets.is_floating_point():
        targets = targets.double()
    out = ref(*args)
    value = loss_fn(out, targets)
    loss = value if value.dim() == 0 else value.mean()
    loss.backward()
    return out, loss, log, params


def stacked(rec, key, grad=False):
    """A reference quantity as a (B, T, H) array, zeros after a sequence's end."""
    items = rec[key]
    first = next(iter(items.values()))
    H = first.shape[-1]
    a = np.zeros((rec["B"], rec["T"], H))
    for (b, t), v in items.items():
        v = v.grad if grad else v
        if v is not None:
            a[b, t] = v.detach().reshape(-1).numpy()
    return a


def gates(rec, letter):
    a = np.zeros((rec["B"], rec["T"], next(iter(rec["h"].values())).shape[-1]))
    for (b, t), g in rec["gates"].items():
        a[b, t] = g[letter].reshape(-1).numpy()
    return a


def rel(a, b) -> float:
    """max |a - b| / max |b| (b the reference)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
