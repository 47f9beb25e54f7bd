"""Connectivity of a chain of recurrent layers by a hand-written, batched reverse mode.

For ``input -> RNN/LSTM/GRU nodes (any layers, either direction) -> linear head`` the
Jacobian of the head's output ``y_t`` by the input ``x_s`` is a product of closed-form
per-step Jacobians: ``d y_t / d x_s = W_head (d h_t / d h_{t-1}) ... (d h_s / d x_s)``,
each factor a diagonal of the cell's forward values (h, c, gates) times a weight block. So
no autograd graph is needed: a backward sweep through time carries one cotangent row per
(output step t, output unit) for every t at once, and each step is one batched GEMM of the
live rows by ``[W_hh | W_ih]``. In a causal chain the row of output step t comes alive at
step t (its cotangent ``W_head[unit]`` is put in then), so step s works on the rows
``t >= s`` only: the triangle, not the square. Every layer of a causal chain steps back
together (the cotangent a layer hands down at step s is what the layer below needs at step
s), so nothing of size ``T x T`` is ever held. A chain with a bidirectional layer goes
layer by layer instead, keeping the cotangent of each layer's output sequence for a chunk
of rows.

Forward values are recomputed here in float64 (one pass over the sequence per layer); the
sweep runs in the model's dtype, with float64 norms. ``output="all"`` reduces the head to
its triangular factor ``R`` (``W = QR``, so ``||W J||_F = ||R J||_F``) when it has more
outputs than inputs. The formulas are PyTorch's (``nn.RNN``, ``nn.LSTM``, ``nn.GRU``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..model.layers import RecurrentLayer

CELLS = 1 << 25     # float elements of sweep buffers per chunk of rows: bounds memory
STOP_EVERY = 64     # steps of a sweep between ``should_stop`` calls
# One-layer modules that skip the random init (which would draw from the global generator,
# maybe in another thread's middle); their weights are copied in.
_UNINIT = {cls: type(f"Uninit{cls.__name__}", (cls,), {"reset_parameters": lambda self: None})
           for cls in (nn.RNN, nn.LSTM, nn.GRU)}


def fast_chain(model, node: str):
    """``(recurrent modules bottom to top, head nn.Linear)`` when the model is the chain
    ``node -> recurrent nodes -> linear head`` that this module computes, else None."""
    plan = model.plan
    if (len(model.input_ids) != 1 or not plan or plan[0][0] != node
            or plan[-1][0] != model.info.output):
        return None
    if model.dtype not in (torch.float32, torch.float64):
        return None
    prev, rnns = node, []
    for i, (nid, _decl, ports) in enumerate(plan[1:], 1):
        layer = model.layers[nid]
        if not ports or ports[0][0] != prev or any(s is not None for s, _ in ports[1:]):
            return None
        if i == len(plan) - 1:
            return (rnns, layer) if type(layer) is nn.Linear and rnns else None
        rnn = getattr(layer, "rnn", None)
        if (not isinstance(layer, RecurrentLayer) or type(rnn) not in (nn.RNN, nn.LSTM, nn.GRU)
                or getattr(rnn, "proj_size", 0) or not rnn.batch_first):
            return None
        rnns.append(rnn)
        prev = nid
    return None


# -- cells: one direction of one layer, its forward values and its backward step -------------
class _Cell:
    """One direction of one layer. ``start(rows)`` makes the sweep's buffers; ``step(k, lo,
    hi, inj)`` takes rows ``lo:hi`` back through step k (their cotangent on ``h_k`` is the
    carry plus ``inj``) and returns their cotangent on the layer's input ``x_k``.

    A step is one GEMM ``[extra | g_h] @ M_k -> [g_h' | g_x]``: ``M_k`` folds the step's
    diagonal factors into the weights (``(g * d) W = g (diag(d) W)``, which costs a weight
    matrix's worth of multiplies instead of a row block's). Two buffers take turns, as the
    GEMM reads one and writes the other; a row is written only from the step its output
    step comes alive, so what it holds before is zero."""

    G = 1      # gate blocks of the weights
    OFF = 0    # columns before the carry (the LSTM's cotangent on c_k)

    def __init__(self, rnn: nn.RNNBase, layer: int, reverse: bool, X: torch.Tensor):
        sfx = f"_l{layer}" + ("_reverse" if reverse else "")
        self.reverse = reverse
        H = self.H = rnn.hidden_size
        self.I = X.shape[1]
        T = X.shape[0]
        names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if rnn.bias else ())
        p = [getattr(rnn, n + sfx).detach().to(torch.float64) for n in names]
        # h_k from PyTorch's own kernel: a one-layer copy in float64
        kw = {"nonlinearity": rnn.nonlinearity} if type(rnn) is nn.RNN else {}
        one = _UNINIT[type(rnn)](self.I, H, bias=rnn.bias, batch_first=True,
                                 device=X.device, dtype=torch.float64, **kw)
        for n, v in zip(names, p):
            getattr(one, n + "_l0").data.copy_(v)
        h = one(X.flip(0)[None] if reverse else X[None])[0][0]
        hp = torch.cat([h.new_zeros(1, H), h[:-1]])                      # h_{k-1}
        self.out, hp = (h.flip(0), hp.flip(0)) if reverse else (h, hp)  # (T, H)
        self.order = range(T - 1, -1, -1) if reverse else range(T)
        zero = h.new_zeros(self.G * H)
        W_ih, W_hh, b_ih, b_hh = (*p, zero, zero)[:4]
        self.dtype = rnn.weight_ih_l0.dtype
        # pre-activations of every step at once: from x_k, and from h_{k-1}
        self.forward(torch.addmm(b_ih, X, W_ih.t()), torch.addmm(b_hh, hp, W_hh.t()), hp)
        # [W_hh | W_ih] gate blocks, (G, H, H + I), in the sweep's dtype
        self.Wc = self.cast(torch.cat([W_hh, W_ih], 1).view(self.G, H, -1))
        self.M = self.Wc.new_empty((2 if self.OFF else 1) * H, H + self.I)

    def cast(self, t: torch.Tensor) -> torch.Tensor:
        return t.to(self.dtype).contiguous()

    def start(self, rows: int) -> None:
        w = self.OFF + self.H + self.I
        self.B = [self.Wc.new_zeros(rows, w), self.Wc.new_zeros(rows, w)]
        self.cur = 0

    @property
    def carry(self) -> torch.Tensor:
        """The rows' cotangent on h_k (before ``step(k)``)."""
        return self.B[self.cur][:, self.OFF:self.OFF + self.H]

    def step(self, k, lo, hi, inj):
        src, dst = self.B[self.cur], self.B[1 - self.cur]
        H, off = self.H, self.OFF
        if inj is not None:
            src[lo:hi, off:off + H].add_(inj)
        self.prepare(k, src[lo:hi], lo, hi)
        torch.mm(src[lo:hi, :off + H], self.matrix(k), out=dst[lo:hi, off:])
        self.cur = 1 - self.cur
        return dst[lo:hi, off + H:]

    def prepare(self, k, rows, lo, hi) -> None:
        pass


class _RNN(_Cell):
    def __init__(self, rnn, layer, reverse, X):
        self.relu = rnn.nonlinearity == "relu"
        super().__init__(rnn, layer, reverse, X)

    def forward(self, xw, hw, hp):
        D = (self.out > 0).to(self.out.dtype) if self.relu else 1 - self.out.square()
        self.D = self.cast(D[:, :, None])                                # (T, H, 1)

    def matrix(self, k):
        return torch.mul(self.Wc[0], self.D[k], out=self.M)       # diag(1 - h_k^2) [W_hh|W_ih]


class _LSTM(_Cell):
    G, OFF = 4, None   # OFF: H, set below

    def __init__(self, rnn, layer, reverse, X):
        self.OFF = rnn.hidden_size
        super().__init__(rnn, layer, reverse, X)

    def forward(self, xw, hw, hp):
        T, H = self.out.shape
        gates = (xw + hw).view(T, 4, H)
        gates[:, (0, 1, 3)] = gates[:, (0, 1, 3)].sigmoid()
        gates[:, 2].tanh_()
        ig = gates[:, 0] * gates[:, 2]
        c_prev, c = torch.empty_like(ig), ig.new_zeros(H)
        for k in self.order:      # c_k = f_k c_{k-1} + i_k g_k
            c_prev[k] = c
            c = torch.addcmul(ig[k], gates[k, 1], c)
        c = torch.addcmul(ig, gates[:, 1], c_prev)
        tc = c.tanh()
        i, f, g, o = gates.unbind(1)
        # d(pre-activation) / d(c_k) for i, f, g; d(pre_o) / d(h_k); then d c_k / d h_k
        self.F = self.cast(torch.stack([g * i * (1 - i), c_prev * f * (1 - f),
                                        i * (1 - g * g), tc * o * (1 - o)], 1)[..., None])
        self.Fc = self.cast(o * (1 - tc * tc))
        self.f = self.cast(f)

    def start(self, rows):
        super().start(rows)
        self.C = self.Wc.new_zeros(rows, self.H)                        # carry on c_k

    def prepare(self, k, rows, lo, hi):
        gct = torch.addcmul(self.C[lo:hi], rows[:, self.H:2 * self.H], self.Fc[k],
                            out=rows[:, :self.H])      # the cotangent on c_k, all paths
        torch.mul(gct, self.f[k], out=self.C[lo:hi])  # on c_{k-1}

    def matrix(self, k):
        # [g_c | g_h] @ [sum_{i,f,g} diag(F) W ; diag(F_o) W_o]
        M, F, W, H = self.M, self.F[k], self.Wc, self.H
        torch.mul(W[0], F[0], out=M[:H])
        M[:H].addcmul_(W[1], F[1]).addcmul_(W[2], F[2])
        torch.mul(W[3], F[3], out=M[H:])
        return M


class _GRU(_Cell):
    G = 3

    def forward(self, xw, hw, hp):
        H = self.H
        r, z = torch.add(xw[:, :2 * H], hw[:, :2 * H]).sigmoid().chunk(2, 1)
        hn = hw[:, 2 * H:]
        n = torch.addcmul(xw[:, 2 * H:], r, hn).tanh()
        Fn = (1 - z) * (1 - n * n)
        # factors of the r and z pre-activations, of W_hn h + b_hn and of W_in x + b_in
        self.F = self.cast(torch.stack([Fn * hn * r * (1 - r), (hp - n) * z * (1 - z),
                                        Fn * r, Fn], 1)[..., None])     # (T, 4, H, 1)
        self.z = self.cast(z)

    def matrix(self, k):
        M, F, W, H = self.M, self.F[k], self.Wc, self.H
        torch.mul(W[0], F[0], out=M)
        M.addcmul_(W[1], F[1])
        M[:, :H].addcmul_(W[2, :, :H], F[2])
        M[:, H:].addcmul_(W[2, :, H:], F[3])
        M[:, :H].diagonal().add_(self.z[k])            # the direct path h_{k-1} -> h_k
        return M


_KINDS = {nn.RNN: _RNN, nn.LSTM: _LSTM, nn.GRU: _GRU}


def _layers(rnns, x: torch.Tensor) -> list[list[_Cell]]:
    """Every layer's cells (a direction each), bottom to top, with their forward values."""
    layers, X = [], x.detach().to(torch.float64)
    for rnn in rnns:
        cls = _KINDS[type(rnn)]
        for layer in range(rnn.num_layers):
            cells = [cls(rnn, layer, False, X)]
            if rnn.bidirectional:
                cells.append(cls(rnn, layer, True, X))
            layers.append(cells)
            X = torch.cat([c.out for c in cells], 1)
    return layers


# -- the sweeps ---------------------------------------------------------------------------------
def chain_connectivity(rnns, head: nn.Linear, x: torch.Tensor, units: torch.Tensor | None,
                       should_stop: Callable[[], bool] | None = None,
                       row_steps: int = 1 << 16) -> np.ndarray | None:
    """``(T, T)`` float64 ``||d y_t / d x_s||`` of the chain :func:`fast_chain` found, for one
    sequence ``x`` (T, E) of the input node's vectors. ``units`` (T,): the output unit of
    each step, or None for all of them (the Frobenius norm). At most ``row_steps`` rows (an
    output step and unit each) go back together; ``should_stop`` is called before each chunk
    of rows and every few steps; it returning true gives None."""
    T = x.shape[0]
    if T == 0:
        return np.zeros((0, 0), np.float64)
    with torch.no_grad():
        layers = _layers(rnns, x)
        dtype = layers[0][0].dtype
        Wh = head.weight.detach().to(torch.float64)                   # (C, W)
        if units is None:
            if Wh.shape[0] > Wh.shape[1]:
                Wh = torch.linalg.qr(Wh, mode="r")[1]                    # ||W J|| = ||R J||
            U, per = Wh.to(dtype), Wh.shape[0]
            if per == 1:        # one output unit: the same row at every step, as a row a step
                U = U.expand(T, -1)
        else:
            U, per = Wh[units.to(Wh.device)].to(dtype), 1
        causal = all(not c.reverse for cells in layers for c in cells)
        # float elements per row: each cell's two buffers (and an LSTM's carry on c) ...
        size = sum(2 * (c.OFF + c.H + c.I) + c.OFF for cells in layers for c in cells)
        if not causal:   # ... and a layer's cotangents on its input and output sequences
            size += T * max(cells[0].I + (cells[0].H * len(cells) if i else 0)
                            for i, cells in enumerate(reversed(layers)))
        n_steps = max(1, min(row_steps, CELLS // size) // per)
        sweep = _causal if causal else _layered
        result = np.zeros((T, T), np.float64)
        for t0 in range(0, T, n_steps):
            if should_stop is not None and should_stop():
                return None
            t1 = min(T, t0 + n_steps)
            got = sweep(layers, U, per, t0, t1, T, should_stop)
            if got is None:
                return None
            result[t0:t1] = got.cpu().numpy()
        return result


def _causal(layers, U, per, t0, t1, T, should_stop):
    """Rows of output steps t0..t1-1, every layer stepping back together from step t1-1."""
    cells = [cells[0] for cells in reversed(layers)]          # top to bottom
    n = t1 - t0
    rows = n * per
    for c in cells:
        c.start(rows)
    top = cells[0]
    res = torch.zeros(n, T, dtype=torch.float64, device=U.device)
    E = cells[-1].I
    for i, k in enumerate(range(t1 - 1, -1, -1)):
        if should_stop is not None and i % STOP_EVERY == STOP_EVERY - 1 and should_stop():
            return None
        j = max(k - t0, 0)                                    # rows t >= k are alive
        lo = j * per
        if k >= t0:
            top.carry[lo:lo + per] = U if per > 1 else U[k:k + 1]
        inj = None
        for c in cells:
            inj = c.step(k, lo, rows, inj)
        res[j:, k] = torch.linalg.vector_norm(inj.reshape(n - j, per, E), dim=(1, 2),
                                              dtype=torch.float64)
    return res


def _layered(layers, U, per, t0, t1, T, should_stop):
    """Rows of output steps t0..t1-1, a layer at a time from the top, each taking the
    cotangent of its output sequence (rows, T, width) from the layer above."""
    n = t1 - t0
    rows = n * per
    G = None
    calls = 0
    for cells in reversed(layers):
        Gin = U.new_zeros(rows, T, cells[0].I)
        for d, c in enumerate(cells):
            c.start(rows)
            hs = slice(d * c.H, (d + 1) * c.H)
            Ud = U[:, hs]
            ks = (range(t0, T) if c.reverse else range(t1 - 1, -1, -1)) if G is None \
                else (range(T) if c.reverse else range(T - 1, -1, -1))
            for k in ks:
                calls += 1
                if should_stop is not None and calls % STOP_EVERY == 0 and should_stop():
                    return None
                if G is None:            # the top layer: row t comes alive at step t
                    j = k - t0
                    lo, hi = (0, min(j + 1, n) * per) if c.reverse else (max(j, 0) * per, rows)
                    if 0 <= j < n:
                        c.carry[j * per:(j + 1) * per] += Ud if per > 1 else Ud[k:k + 1]
                    dx = c.step(k, lo, hi, None)
                else:
                    lo, hi = 0, rows
                    dx = c.step(k, 0, rows, G[:, k, hs])
                Gin[lo:hi, k] += dx
        G = Gin
    return torch.linalg.vector_norm(G.view(n, per, T, -1), dim=(1, 3), dtype=torch.float64)
