"""Stop is honoured inside a long step: between the windows of truncated BPTT.

A step of many windows (a long text, a short window) can take far longer than the window
itself; Stop must not wait for the whole step. The step it cuts is dropped: no optimiser
update from a partial gradient, the step count unchanged, the run reported as stopped.
"""

import numpy as np
import pytest
import torch

from playground.data import Batch, Dataset, Vocab
from playground.model.build import build
from playground.model.spec import chain
from playground.train import TrainConfig, Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


class LongText(Dataset):
    """Next-character prediction on windows of ``T`` steps of a repeated text."""

    name, shape, output = "long text", "many_to_many", "classes"

    def __init__(self, T=40):
        super().__init__(0)
        self.vocab = Vocab(list("ab "))
        self.ids = self.vocab.encode("ab ab  " * 40)
        self.T, self.output_size = T, len(self.vocab)

    def sample(self, batch_size, rng):
        s = rng.integers(0, len(self.ids) - self.T - 1, batch_size)
        x = np.stack([self.ids[i:i + self.T] for i in s])
        y = np.stack([self.ids[i + 1:i + self.T + 1] for i in s])
        return Batch({"x": x}, y, np.ones(x.shape, np.float32))

    def validation(self):
        return self.sample(2, np.random.default_rng(9))

    def example(self):
        return self.sample(1, np.random.default_rng(8))


def trainer(tbptt):
    model = build(chain(("x", "input", {"encoding": "onehot", "vocab_size": 3}),
                        ("rec", "lstm", {"hidden_size": 8}),
                        ("head", "linear", {"out_features": 3})), seed=0)
    return Trainer(model, LongText(), TrainConfig(optimizer="sgd", lr=0.5, batch_size=2,
                                                  tbptt=tbptt, device="cpu", val_every=0))


def windows_run(t, stop_after):
    """Count the windows the model runs; ask for Stop (as the GUI thread would) after
    ``stop_after`` of them."""
    calls = []
    run = t.model.run

    def counted(*a, **kw):
        calls.append(1)
        if len(calls) == stop_after:
            t.stop()
        return run(*a, **kw)

    t.model.run = counted
    return calls


def test_stop_between_tbptt_windows_ends_the_step_untaken():
    t = trainer(tbptt=5)                       # 40 steps: 8 windows a step
    before = [p.detach().clone() for p in t.params]
    calls = windows_run(t, stop_after=2)
    last = t.run(10)
    assert len(calls) == 2                     # not the 8 windows of the step
    assert last.status == "stopped" and t.step == 0
    assert all(torch.equal(a, b) for a, b in zip(before, t.params))
    assert all(p.grad is None for p in t.params)   # no partial gradient left behind


def test_a_stopped_trainer_trains_whole_steps_again():
    t = trainer(tbptt=5)
    calls = windows_run(t, stop_after=3)
    t.run(10)
    del t.model.run                            # the model's own run again
    last = t.run(2)
    assert last.status == "done" and t.step == 2 and len(calls) == 3
    assert len(t.history["loss"]) == 2 and all(np.isfinite(t.history["loss"]))


def test_stop_before_the_first_window_of_a_step_takes_no_step():
    t = trainer(tbptt=5)
    calls = windows_run(t, stop_after=1)
    last = t.run(3)
    assert len(calls) == 1 and last.status == "stopped" and t.step == 0


def test_training_whose_batches_would_not_fit_in_memory_is_refused_before_it_starts(
        monkeypatch):
    """Parameters alone fit; a batch's activations (batch x T x LSTM gates, h, c) do not:
    the sentence names the batch size, the length and the hidden size."""
    from playground.errors import GraphError
    from playground.model import budget

    model = build(chain(("x", "input", {"encoding": "onehot", "vocab_size": 3}),
                        ("rec", "lstm", {"hidden_size": 8}),
                        ("head", "linear", {"out_features": 3})), seed=0)
    params = budget.parameter_count(model.graph) * budget.BYTES_PER_PARAM
    # 1 MB for the batch; 1000 x 40 steps keep 1000 * 40 * (6 * 8 + ...) floats twice: ~16 MB
    monkeypatch.setattr(budget, "free_bytes", lambda: params + 2 ** 20)
    with pytest.raises(GraphError) as e:
        Trainer(model, LongText(), TrainConfig(batch_size=1000, device="cpu"))
    text = str(e.value)
    assert "batch size 1,000" in text and "40 steps" in text and "hidden size 8" in text
    Trainer(model, LongText(), TrainConfig(batch_size=4, device="cpu"))   # a small one fits
    # truncated BPTT keeps one window's activations: 1000 x 5 steps, ~2 MB, still too much
    with pytest.raises(GraphError, match="5 steps"):
        Trainer(model, LongText(), TrainConfig(batch_size=1000, tbptt=5, device="cpu"))
    Trainer(model, LongText(), TrainConfig(batch_size=100, tbptt=5, device="cpu"))
