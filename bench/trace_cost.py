"""Cost of a full trace against a plain ``torch.nn`` forward + backward.

    python -m bench.trace_cost [--repeats N] [--quick]

For LSTM, GRU and RNN at (H=256, T=1000) and (H=64, T=100), batch 1, on CPU (and CUDA
when present): a full trace (states, gates, outputs, per-step losses, per-step dL/dh_t
and dL/dc_t, weight gradients) vs the same model as plain ``nn.LSTM``/``nn.GRU``/
``nn.RNN`` + ``nn.Linear`` run forward and backward on the same sequence. Runs are
interleaved in one process and the median of each is compared. The last line is
``trace/nn worst ratio: X`` (goal: X <= 1.5).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground.model.build import build  # noqa: E402
from playground.model.spec import chain  # noqa: E402
from playground.tracing import trace  # noqa: E402

VOCAB = 32
CONFIGS = [(kind, H, T) for H, T in ((256, 1000), (64, 100)) for kind in ("lstm", "gru", "rnn")]


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(kind: str, H: int, T: int, device: torch.device, repeats: int):
    g = chain(("x", "input", {"encoding": "onehot", "vocab_size": VOCAB}),
              ("rec", kind, {"hidden_size": H}),
              ("head", "linear", {"out_features": VOCAB}))
    model = build(g, seed=0).to(device)
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, VOCAB, (1, T), generator=gen).to(device)
    y = torch.randint(0, VOCAB, (1, T), generator=gen).to(device)

    # The plain reference: torch.nn modules holding the same weights.
    ref = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind](VOCAB, H, batch_first=True)
    ref.load_state_dict(model.layers["rec"].rnn.state_dict())
    head = nn.Linear(H, VOCAB)
    head.load_state_dict(model.layers["head"].state_dict())
    ref, head = ref.to(device), head.to(device)

    def plain():
        out, _ = ref(F.one_hot(x, VOCAB).float())
        loss = F.cross_entropy(head(out).transpose(1, 2), y)
        loss.backward()
        ref.zero_grad(set_to_none=True)
        head.zero_grad(set_to_none=True)

    def full():
        trace(model, x, y)

    for f in (plain, full):  # warm up kernels and allocators
        f()
    times = {"nn": [], "trace": []}
    for _ in range(repeats):
        for name, f in (("nn", plain), ("trace", full)):
            _sync(device)
            t0 = time.perf_counter()
            f()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    nn_ms = statistics.median(times["nn"]) * 1e3
    tr_ms = statistics.median(times["trace"]) * 1e3
    return nn_ms, tr_ms


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="3 repeats (smoke run)")
    args = ap.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, repeats {repeats}")
    print(f"{'device':<7}{'cell':<6}{'H':>6}{'T':>7}{'nn ms':>10}{'trace ms':>10}{'ratio':>8}")
    worst = 0.0
    for device in devices:
        for kind, H, T in CONFIGS:
            nn_ms, tr_ms = measure(kind, H, T, device, repeats)
            ratio = tr_ms / nn_ms
            worst = max(worst, ratio)
            print(f"{device.type:<7}{kind:<6}{H:>6}{T:>7}{nn_ms:>10.2f}{tr_ms:>10.2f}{ratio:>8.2f}")
    print(f"trace/nn worst ratio: {worst:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
