"""Time :func:`playground.tracing.connectivity.connectivity` on an RNN with H=256, T=1000.

``python -m bench.connectivity [--kind rnn|lstm|gru] [--hidden 256] [--steps 1000]
[--autograd]``; the last line is ``connectivity seconds (H=256,T=1000): X`` (the best of
``--repeat`` runs; the first run is printed too). ``--autograd`` times the general path
(the sequence repeated per output step, one backward) instead of the recurrent chain's
hand-written one.
"""

from __future__ import annotations

import argparse
import time

import torch

from playground.model.build import build
from playground.model.spec import chain
from playground.tracing import connectivity as conn
from playground.tracing.connectivity import connectivity


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", default="rnn", choices=("rnn", "lstm", "gru"))
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--vocab", type=int, default=32)
    ap.add_argument("--output", default="auto")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: as set)")
    ap.add_argument("--autograd", action="store_true", help="time the general autograd path")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    model = build(chain(("x", "input", {"encoding": "onehot", "vocab_size": a.vocab}),
                        ("r", a.kind, {"hidden_size": a.hidden}),
                        ("y", "linear", {"out_features": a.vocab})), seed=0)
    ids = torch.randint(0, a.vocab, (1, a.steps), generator=torch.Generator().manual_seed(0))
    if a.autograd:
        conn.fast_chain = lambda model, node: None
    path = "autograd rows" if conn.fast_chain(model, "x") is None else "recurrent chain"
    times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        connectivity(model, ids, output=a.output)
        times.append(time.perf_counter() - t0)
    best = min(times)
    print(f"kind {a.kind}, path {path}, torch threads {torch.get_num_threads()}, "
          f"first run {times[0]:.2f} s")
    print(f"connectivity seconds (H={a.hidden},T={a.steps}): {best:.2f}")


if __name__ == "__main__":
    main()
