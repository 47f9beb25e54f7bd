"""Cost of a full trace against a plain ``torch.nn`` forward + backward, and its memory.

    python -m bench.trace_cost [--repeats N] [--quick]

For LSTM, GRU and RNN at (H=256, T=1000), (H=64, T=100) and (H=256, T=10,000), batch 1,
one torch thread, on CPU (and CUDA when present): a full trace (states, gates, outputs,
per-step losses, per-step dL/dh_t and dL/dc_t, weight gradients) vs the same model as
plain ``nn.LSTM``/``nn.GRU``/``nn.RNN`` + ``nn.Linear`` run forward and backward on the
same sequence. The compiled kernels are warmed up first (a trace in the app takes the torch
path for the second or so they take to load). Runs are interleaved in one process and the
median of each is compared.

Memory: in a fresh process per cell, the peak resident memory a T=10,000, H=256 trace
adds, against the bytes of the arrays the trace keeps (goal: about 2x at most).

The last line is ``trace/nn worst ratio by cell: lstm X, gru Y, rnn Z`` (goals: X <= 1.25,
Y <= 0.5, Z <= 0.5).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground.model.build import build  # noqa: E402
from playground.model.spec import chain  # noqa: E402
from playground.tracing import compiled, trace  # noqa: E402

VOCAB = 32
KINDS = ("lstm", "gru", "rnn")
CONFIGS = [(kind, H, T) for H, T in ((256, 1000), (64, 100), (256, 10_000)) for kind in KINDS]
LONG = 10_000   # cases this long run fewer repeats (an nn.GRU backward takes seconds)


def _model(kind: str, H: int):
    g = chain(("x", "input", {"encoding": "onehot", "vocab_size": VOCAB}),
              ("rec", kind, {"hidden_size": H}),
              ("head", "linear", {"out_features": VOCAB}))
    return build(g, seed=0)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(kind: str, H: int, T: int, device: torch.device, repeats: int):
    model = _model(kind, H).to(device)
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


def _kept_bytes(tr) -> int:
    """Bytes of the distinct memory the trace's arrays cover (views counted once)."""
    arrays = []

    def walk(o):
        if isinstance(o, np.ndarray):
            arrays.append(o)
        elif isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v)
        elif hasattr(o, "__dataclass_fields__"):
            for f in o.__dataclass_fields__:
                walk(getattr(o, f))

    walk(tr)
    spans = sorted(np.lib.array_utils.byte_bounds(a) for a in arrays if a.size)
    total, cur = 0, None
    for lo, hi in spans:
        if cur is None or lo > cur[1]:
            total += 0 if cur is None else cur[1] - cur[0]
            cur = [lo, hi]
        else:
            cur[1] = max(cur[1], hi)
    return total + (0 if cur is None else cur[1] - cur[0])


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(kind: str) -> None:
    """(In a fresh process.) Peak memory a T=10k, H=256 trace adds / bytes it keeps."""
    torch.set_num_threads(1)
    compiled.warm_up(block=True)
    model = _model(kind, 256)
    gen = torch.Generator().manual_seed(1)
    x, y = (torch.randint(0, VOCAB, (1, LONG), generator=gen) for _ in range(2))
    trace(model, x[:, :50], y[:, :50])   # allocators and kernels warm
    before = _status("VmRSS:")
    with open("/proc/self/clear_refs", "w") as f:   # restart the peak (VmHWM) from here
        f.write("5")
    tr = trace(model, x, y)
    peak = _status("VmHWM:") - before
    print(f"{peak} {_kept_bytes(tr)}")


def measure_memory(kind: str) -> tuple[float, float] | None:
    """(peak MB, kept MB) of a T=10k trace, or None where /proc cannot tell."""
    if not Path("/proc/self/clear_refs").exists():
        return None
    out = subprocess.run([sys.executable, "-m", "bench.trace_cost", "--memory-child", kind],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    if out.returncode:
        print(out.stderr, file=sys.stderr)
        return None
    peak, kept = (int(v) for v in out.stdout.split())
    return peak / 1e6, kept / 1e6


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="3 repeats (smoke run)")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    torch.set_num_threads(1)
    compiled.warm_up(block=True)
    repeats = 3 if args.quick else args.repeats
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, repeats {repeats}")
    print(f"{'device':<7}{'cell':<6}{'H':>6}{'T':>7}{'nn ms':>10}{'trace ms':>10}{'ratio':>8}")
    worst = dict.fromkeys(KINDS, 0.0)
    for device in devices:
        for kind, H, T in CONFIGS:
            if args.quick and T >= LONG:
                continue
            reps = max(3, repeats // 3) if T >= LONG else repeats
            nn_ms, tr_ms = measure(kind, H, T, device, reps)
            ratio = tr_ms / nn_ms
            worst[kind] = max(worst[kind], ratio)
            print(f"{device.type:<7}{kind:<6}{H:>6}{T:>7}{nn_ms:>10.2f}{tr_ms:>10.2f}{ratio:>8.2f}",
                  flush=True)
    for kind in KINDS:
        got = measure_memory(kind)
        if got:
            print(f"memory {kind} T={LONG} H=256: peak {got[0]:.1f} MB for {got[1]:.1f} MB kept, "
                  f"{got[0] / got[1]:.2f}x", flush=True)
    print("trace/nn worst ratio by cell: " + ", ".join(f"{k} {worst[k]:.2f}" for k in KINDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
