"""Inside inspect, each recurrent module returns what it returns on its own: every mode,
layer count, direction, layout, initial state, packed (sorted or not) and unbatched input;
gradients into the input and the initial state too (float64, against the module itself)."""

import itertools

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

import playground as pg

CONFIGS = list(itertools.product([nn.LSTM, nn.GRU, nn.RNN], [1, 2], [False, True],
                                 [False, True], ["plain", "hx", "packed", "sorted", "unbatched"]))


class Holder(nn.Module):
    def __init__(self, rnn, how):
        super().__init__()
        self.rnn, self.how = rnn, how
        self.got = None

    def forward(self, x, hx, lengths):
        if self.how in ("packed", "sorted"):
            x = pack_padded_sequence(x, lengths, batch_first=self.rnn.batch_first,
                                     enforce_sorted=self.how == "sorted")
        if self.how == "unbatched":
            x = x[0] if self.rnn.batch_first else x[:, 0]
            hx = None if hx is None else (tuple(h[:, 0] for h in hx) if isinstance(hx, tuple)
                                          else hx[:, 0])
        self.got = self.rnn(x, hx if self.how in ("hx", "unbatched") else None)
        return self.got


def flat(out):
    if isinstance(out, PackedSequence):
        return [out.data, out.batch_sizes]
    if isinstance(out, tuple):
        return [t for o in out for t in flat(o)]
    return [out]


@pytest.mark.parametrize("cls, layers, bidir, batch_first, how", CONFIGS)
def test_returns_and_gradients_match_the_module(cls, layers, bidir, batch_first, how):
    torch.manual_seed(len(str((cls, layers, bidir, batch_first, how))))
    rnn = cls(3, 4, num_layers=layers, bidirectional=bidir, batch_first=batch_first).double()
    m = Holder(rnn, how)
    B, T, D = 3, 5, 2 if bidir else 1
    x = torch.randn(B, T, 3, dtype=torch.double)
    x = x if batch_first else x.transpose(0, 1)
    lengths = torch.tensor([5, 4, 2]) if how == "sorted" else torch.tensor([3, 5, 1])
    h = torch.randn(layers * D, B, 4, dtype=torch.double)
    hx = (h, torch.randn_like(h)) if cls is nn.LSTM else h
    x.requires_grad_()
    want = flat(m(x, hx, lengths))
    loss_of = lambda out, _: sum((t.double() ** 2).sum() for t in flat(out)  # noqa: E731
                                 if t.is_floating_point())
    gx, *gw = torch.autograd.grad(loss_of(m(x, hx, lengths), None), [x, *rnn.parameters()])
    tr = pg.inspect(m, (x, hx, lengths), None, loss_of)
    got = flat(m.got)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert len(tr.layers) == layers * D
    for (n, _), g in zip(rnn.named_parameters(), gw):
        torch.testing.assert_close(torch.from_numpy(tr.param_grads[f"rnn.{n}"]), g,
                                   rtol=1e-9, atol=1e-12)
