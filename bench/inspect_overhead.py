"""What ``playground.inspect`` costs over the user's own forward + backward of the same model.

    python -m bench.inspect_overhead [--repeats N]

Two models written the way people write them, batch 1, one torch thread, on the CPU (and
CUDA when present):

* **LSTM language model**: ``nn.Embedding(64, 64) -> nn.LSTM(64, 256) -> nn.Linear(256, 64)``
  on a 1000-step sequence, the per-step cross-entropy;
* **GRU encoder-decoder**: source and target embeddings, ``nn.GRU`` encoder and decoder
  (H=256, 200 steps each, the decoder started from the encoder's last state),
  ``nn.MultiheadAttention`` (4 heads) of the decoder over the encoder outputs, a linear head
  on both, the cross-entropy.

*plain* is the user's own run: ``loss_fn(model(*inputs), targets).backward()`` (then the
``.grad`` fields cleared). *inspect* is ``playground.inspect(model, inputs, targets,
loss_fn)``: every recurrent module's states, gates, per-step dL/dh_t (and dL/dc_t), every
attention's per-head weights, the weight gradients. The compiled kernels are warmed up first;
the two are interleaved in one process and their medians compared (this host's speed
drifts). The last line is ``inspect/plain worst ratio: X`` (goal: X <= 1.5).
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

import playground as pg  # noqa: E402
from playground.tracing import compiled  # noqa: E402

V = 64


class LanguageModel(nn.Module):
    def __init__(self, vocab=V, emb=64, hidden=256):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, vocab)

    def forward(self, x):
        out, _ = self.lstm(self.emb(x))
        return self.fc(out)


class EncoderDecoder(nn.Module):
    def __init__(self, vocab=V, d=256, heads=4):
        super().__init__()
        self.src_emb = nn.Embedding(vocab, d)
        self.tgt_emb = nn.Embedding(vocab, d)
        self.encoder = nn.GRU(d, d, batch_first=True)
        self.decoder = nn.GRU(d, d, batch_first=True)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.out = nn.Linear(2 * d, vocab)

    def forward(self, src, tgt):
        enc, h = self.encoder(self.src_emb(src))
        dec, _ = self.decoder(self.tgt_emb(tgt), h)
        ctx, _ = self.attn(dec, enc, enc)
        return self.out(torch.cat([dec, ctx], -1))


def per_step_ce(logits, y):
    return F.cross_entropy(logits.transpose(1, 2), y, reduction="none")    # (B, T)


def cases(device):
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    x = torch.randint(0, V, (1, 1000), generator=gen)
    yield "LSTM LM H=256 T=1000", LanguageModel().to(device), (x.to(device),), \
        x.roll(-1, 1).to(device), per_step_ce
    src, tgt = (torch.randint(0, V, (1, 200), generator=gen) for _ in range(2))
    yield "GRU enc-dec H=256 T=200+200", EncoderDecoder().to(device), \
        (src.to(device), tgt.to(device)), tgt.roll(-1, 1).to(device), per_step_ce


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(model, inputs, targets, loss_fn, device, repeats: int) -> tuple[float, float]:
    def plain():
        loss_fn(model(*inputs), targets).mean().backward()
        model.zero_grad(set_to_none=True)

    def inspect():
        pg.inspect(model, inputs, targets, loss_fn)

    for f in (plain, inspect):      # kernels, allocators
        f()
    times = {"plain": [], "inspect": []}
    for _ in range(repeats):
        for name, f in (("plain", plain), ("inspect", inspect)):
            _sync(device)
            t0 = time.perf_counter()
            f()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    return (statistics.median(times["plain"]) * 1e3, statistics.median(times["inspect"]) * 1e3)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    compiled.warm_up(block=True)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available()
                                       else [])
    worst = 0.0
    for device in devices:
        for name, model, inputs, targets, loss_fn in cases(device):
            plain_ms, inspect_ms = measure(model, inputs, targets, loss_fn, device, a.repeats)
            ratio = inspect_ms / plain_ms
            worst = max(worst, ratio)
            print(f"{device.type:4s} {name:28s} plain {plain_ms:8.1f} ms   inspect "
                  f"{inspect_ms:8.1f} ms   ratio {ratio:.2f}", flush=True)
    print(f"inspect/plain worst ratio: {worst:.2f}")


if __name__ == "__main__":
    main()
