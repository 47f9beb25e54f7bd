"""CUDA paths: the same trace on the GPU as on the CPU. Skipped cleanly without a GPU."""

import numpy as np
import pytest
import torch

from playground.model.build import build
from playground.model.spec import chain
from playground.tracing import trace

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cuda_trace_matches_cpu(kind):
    g = chain(("x", "input", {"encoding": "embedding", "vocab_size": 7, "embed_dim": 5}),
              ("rec", kind, {"hidden_size": 16, "num_layers": 2}),
              ("att", "self_attention", {"num_heads": 2}),
              ("head", "linear", {"out_features": 7}))
    cpu = build(g, seed=0).double()
    gpu = build(g, seed=0).double().cuda()
    x = torch.randint(0, 7, (3, 20))
    y = torch.randint(0, 7, (3, 20))
    a, b = trace(cpu, x, y, tbptt=6), trace(gpu, x.cuda(), y.cuda(), tbptt=6)
    for ra, rb in zip(a.layers, b.layers):
        for name in ("h", "dh", "c", "dc", "weights", "dout"):
            va, vb = getattr(ra, name, None), getattr(rb, name, None)
            if va is not None:
                np.testing.assert_allclose(vb, va, rtol=1e-9, atol=1e-12, err_msg=name)
    for n, g_ in a.param_grads.items():
        np.testing.assert_allclose(b.param_grads[n], g_, rtol=1e-8, atol=1e-12, err_msg=n)
