"""The training engine against independent, hand-written PyTorch references.

The datasets here are tiny in-test objects that follow the documented Dataset protocol
(docs/ARCHITECTURE.md), so the engine is checked on its own.
"""

import copy
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from playground.data import Batch, Dataset, Vocab
from playground.errors import FileFormatError, TrainingError
from playground.model.build import build
from playground.model.spec import chain
from playground.tracing import trace
from playground.train import Snapshot, TrainConfig, Trainer, pick_device

pytestmark = pytest.mark.usefixtures("one_thread")


class TextTask(Dataset):
    """Next-character prediction on windows of a repeated text."""

    name, shape, output = "text task", "many_to_many", "classes"

    def __init__(self, text="hello hello ", T=8):
        super().__init__(0)
        self.vocab = Vocab(sorted(set(text)))
        self.ids = self.vocab.encode(text * 8)
        self.T = T
        self.output_size = len(self.vocab)

    def _at(self, starts):
        x = np.stack([self.ids[s:s + self.T] for s in starts])
        y = np.stack([self.ids[s + 1:s + self.T + 1] for s in starts])
        return Batch({"x": x}, y, np.ones(x.shape, np.float32))

    def generate(self, n, rng):
        return self._at(rng.integers(0, len(self.ids) - self.T - 1, n))

    def validation(self):
        return self._at(range(0, 12))

    def example(self):
        return self._at([0])


class Series(Dataset):
    """Predict the next value of a sine (one value per step, MSE)."""

    name, shape, output, input_features, output_size = ("sine", "many_to_many", "values", 1, 1)

    def __init__(self, T=40):
        super().__init__(0)
        self.T = T

    def _make(self, phases):
        t = np.arange(self.T + 1)[None, :] * 0.3 + np.asarray(phases)[:, None]
        s = np.sin(t).astype(np.float32)
        return Batch({"x": s[:, :-1, None]}, s[:, 1:, None], np.ones((len(phases), self.T),
                                                                       np.float32))

    def generate(self, n, rng):
        return self._make(rng.uniform(0, 6.28, n))

    def validation(self):
        return self._make(np.linspace(0, 6, 8))

    def example(self):
        return self._make([0.0])


def char_model(kind="rnn", V=5, H=16, seed=0, **p):
    return build(chain(("x", "input", {"encoding": "onehot", "vocab_size": V}),
                       ("rec", kind, {"hidden_size": H, **p}),
                       ("head", "linear", {"out_features": V})), seed=seed)


def series_model(kind="gru", H=8, seed=0, **p):
    return build(chain(("x", "input", {"encoding": "numeric", "features": 1}),
                       ("rec", kind, {"hidden_size": H, **p}),
                       ("head", "linear", {"out_features": 1, "output": "identity"})), seed=seed)


def test_same_seed_same_losses_bit_for_bit():
    runs = []
    for _ in range(2):
        t = Trainer(char_model("lstm"), TextTask(), TrainConfig(steps=25, seed=7, device="cpu",
                                                                 val_every=10))
        t.run()
        runs.append((t.history["loss"], t.history["val_loss"],
                     [p.detach().clone() for p in t.model.parameters()]))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][2], runs[1][2]))
    other = Trainer(char_model("lstm"), TextTask(), TrainConfig(steps=25, seed=8, device="cpu"))
    other.run()
    assert other.history["loss"] != runs[0][0]


def test_step_matches_hand_written_sgd_with_clipping():
    """Loss, norm before/after clipping and the update against a plain PyTorch step."""
    task, model = TextTask(), char_model("gru")
    ref = copy.deepcopy(model)
    cfg = TrainConfig(optimizer="sgd", lr=0.5, batch_size=4, clip_norm=0.05, seed=3,
                      device="cpu", val_every=0)
    snaps = []
    t = Trainer(model, task, cfg)
    t.add_callback("on_step_end", snaps.append)
    t.run(1)
    batch = task.sample(4, np.random.default_rng(3))  # the engine's first draw
    logits = ref(torch.from_numpy(batch.inputs["x"]))
    loss = F.cross_entropy(logits.reshape(-1, 5), torch.from_numpy(batch.targets).reshape(-1))
    loss.backward()
    norm = torch.sqrt(sum((p.grad ** 2).sum() for p in ref.parameters())).item()
    s = snaps[0]
    assert isinstance(s, Snapshot) and s.step == 1 and s.val_loss is None and s.trace is None
    assert s.loss == pytest.approx(loss.item(), rel=1e-6)
    assert s.grad_norm == pytest.approx(norm, rel=1e-5)
    assert norm > 0.05 and s.grad_norm_clipped == pytest.approx(0.05, rel=1e-4)
    scale = 0.05 / (norm + 1e-6)
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.detach(), q.detach() - 0.5 * scale * q.grad, msg=name)


@pytest.mark.parametrize("opt", ["sgd", "adam", "rmsprop", "adagrad"])
def test_every_optimizer_learns_the_series(opt):
    lr = {"sgd": 0.3, "adam": 0.03, "rmsprop": 0.01, "adagrad": 0.1}[opt]
    t = Trainer(series_model(), Series(), TrainConfig(optimizer=opt, lr=lr, momentum=0.5 if opt
                                                      == "sgd" else 0.0, steps=60, batch_size=8,
                                                      device="cpu", val_every=20))
    first = t.validate()
    last = t.run()
    assert last.status == "done" and last.step == 60
    assert t.history["val_step"] == [20, 40, 60]
    assert last.val_loss == t.history["val_loss"][-1] < 0.5 * first


def test_validation_loss_is_the_held_out_mean_loss():
    task, model = TextTask(), char_model("lstm")
    t = Trainer(model, task, TrainConfig(device="cpu"))
    v = task.validation()
    with torch.no_grad():
        logits = model(torch.from_numpy(v.inputs["x"]))
    expect = F.cross_entropy(logits.reshape(-1, 5), torch.from_numpy(v.targets).reshape(-1))
    assert t.validate() == pytest.approx(expect.item(), rel=1e-6)


def test_stop_and_pause_are_honoured_within_one_step():
    t = Trainer(char_model(), TextTask(), TrainConfig(steps=1000, device="cpu", val_every=0))
    seen, paused_at = [], threading.Event()

    def on_step(s):
        seen.append(s.step)
        if s.step == 3:
            t.pause()
            paused_at.set()
        if s.step == 7:
            t.stop()

    t.add_callback("on_step_end", on_step)
    th = threading.Thread(target=t.run)
    th.start()
    assert paused_at.wait(30)
    th.join(0.3)  # paused: the loop waits instead of stepping
    assert th.is_alive() and t.paused and t.step == 3
    t.resume()
    th.join(30)
    assert not th.is_alive() and seen == list(range(1, 8)) and t.step == 7
    ends = []
    t.add_callback("on_train_end", ends.append)
    t.stop()  # a stop before run() is forgotten: run() starts afresh
    last = t.run(2)
    assert last.status == "done" and last.step == 9 and ends == [last]


def test_a_stop_while_a_worker_starts_is_kept():
    """A worker clears the stop when it is made and runs with keep_stop: a Stop pressed
    between the two (its thread starting) ends the run before a step."""
    t = Trainer(char_model(), TextTask(), TrainConfig(steps=100, device="cpu", val_every=0))
    t.stop()
    t.clear_stop()                 # the worker is made: earlier stops are forgotten
    assert t.run(2, keep_stop=True).step == 2
    t.clear_stop()
    t.stop()                       # pressed while its thread was starting
    last = t.run(50, keep_stop=True)
    assert last.status == "stopped" and t.step == 2


def test_stop_from_another_thread_while_paused():
    t = Trainer(char_model(), TextTask(), TrainConfig(steps=100, device="cpu", val_every=0))
    ends = []
    t.add_callback("on_train_end", ends.append)
    t.pause()
    th = threading.Thread(target=t.run)
    th.start()
    t.stop()
    th.join(30)
    assert not th.is_alive() and t.step == 0
    assert [(e.status, e.step) for e in ends] == [("stopped", 0)]


def test_a_bad_trace_request_does_not_stop_training():
    task = TextTask()
    t = Trainer(char_model(), task, TrainConfig(device="cpu", val_every=0))
    snaps = []
    t.add_callback("on_step_end", snaps.append)
    bad = task.example()
    bad = type(bad)({"x": bad.inputs["x"] + 10}, bad.targets, bad.mask)  # ids outside the vocab
    t.request_trace(bad)
    last = t.run(3)
    assert last.status == "done" and t.step == 3
    assert snaps[0].trace is None and snaps[0].error.startswith("no trace: input 'x'")
    assert snaps[1].error is None


def relu_explosion(clip, steps=60):
    model = build(chain(("x", "input", {"encoding": "onehot", "vocab_size": 5}),
                        ("rec", "rnn", {"hidden_size": 32, "nonlinearity": "relu"}),
                        ("head", "linear", {"out_features": 5})), seed=0, init="identity",
                  init_scale=1.2)
    cfg = TrainConfig(optimizer="sgd", lr=1.0, steps=steps, clip_norm=clip, device="cpu",
                      val_every=0, explode_threshold=None)
    t = Trainer(model, TextTask(T=30), cfg)
    return t, t.run()


def test_nan_loss_is_caught_and_last_good_weights_kept():
    t, last = relu_explosion(clip=None)
    assert last.status == "diverged" and t.step < 60
    assert "loss became" in last.error or "gradient norm" in last.error
    assert isinstance(t.error, TrainingError) and str(t.error) == last.error
    assert all(bool(torch.isfinite(p).all()) for p in t.model.parameters())
    # The kept weights give a finite loss on the validation batch.
    assert np.isfinite(t.validate())
    t2, last2 = relu_explosion(clip=1.0)
    assert last2.status == "done" and np.isfinite(t2.history["loss"]).all()
    assert max(t2.history["grad_norm"]) > 1.0  # clipping was needed


def test_exploding_norm_stops_before_the_step():
    model = char_model("rnn", nonlinearity="relu")
    before = [p.detach().clone() for p in model.parameters()]
    t = Trainer(model, TextTask(), TrainConfig(device="cpu", explode_threshold=1e-3))
    last = t.run(5)
    assert last.status == "diverged" and t.step == 0 and "exploded" in last.error
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_tbptt_gradient_is_the_cut_graph_gradient_of_trace():
    task = TextTask(T=12)
    model = char_model("lstm", num_layers=2)
    ref = copy.deepcopy(model)
    t = Trainer(model, task, TrainConfig(optimizer="sgd", lr=0.1, batch_size=3, tbptt=5,
                                         seed=1, device="cpu", val_every=0))
    snaps = []
    t.add_callback("on_step_end", snaps.append)
    t.run(1)
    b = task.sample(3, np.random.default_rng(1))
    tr = trace(ref, b.inputs, b.targets, b.mask, tbptt=5)
    full = trace(ref, b.inputs, b.targets, b.mask)
    assert snaps[0].loss == pytest.approx(tr.loss, rel=1e-6)
    for name, p in model.named_parameters():
        q = dict(ref.named_parameters())[name]
        torch.testing.assert_close(p.detach(), q.detach() - 0.1 * torch.from_numpy(
            tr.param_grads[name]), msg=name)
    # and the cut really changed the gradient
    w = "layers.rec.rnn.weight_hh_l0"
    assert not np.allclose(tr.param_grads[w], full.param_grads[w])


def test_tbptt_refuses_graphs_it_cannot_cut():
    g = chain(("x", "input", {"encoding": "onehot", "vocab_size": 5}),
              ("att", "self_attention", {}), ("head", "linear", {"out_features": 5}))
    with pytest.raises(TrainingError, match="att.*whole sequence"):
        Trainer(build(g), TextTask(), TrainConfig(tbptt=4, device="cpu"))
    with pytest.raises(TrainingError, match="bidirectional"):
        Trainer(char_model(bidirectional=True), TextTask(), TrainConfig(tbptt=4, device="cpu"))


def test_traces_every_n_steps_and_on_request():
    task = TextTask()
    t = Trainer(char_model("gru"), task, TrainConfig(device="cpu", trace_every=4, val_every=0))
    snaps = []
    t.add_callback("on_step_end", snaps.append)
    t.run(5)
    assert [s.step for s in snaps if s.trace is not None] == [4]
    t.request_trace(task.validation())
    t.run(1)
    tr = snaps[-1].trace
    assert tr is not None and tr.outputs.shape[0] == 12
    assert tr.loss == pytest.approx(t.validate(), rel=1e-5)


def test_model_must_fit_the_task():
    with pytest.raises(TrainingError, match="head 'head' has 6 outputs but text task needs 5"):
        Trainer(build(chain(("x", "input", {"encoding": "onehot", "vocab_size": 5}),
                            ("r", "rnn", {}), ("head", "linear", {"out_features": 6}))),
                TextTask(), TrainConfig(device="cpu"))
    with pytest.raises(TrainingError, match="use identity"):
        Trainer(char_model(), Series(), TrainConfig(device="cpu"))


def test_devices_and_config_checks():
    assert pick_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert pick_device("auto").type in ("cpu", "mps")
        with pytest.raises(TrainingError, match="no CUDA"):
            pick_device("cuda")
    with pytest.raises(ValueError, match="lr: must be a positive number"):
        TrainConfig(lr=-1)
    with pytest.raises(FileFormatError) as e:
        TrainConfig.from_dict({"lr": 0.1, "batch_size": 0})
    assert str(e.value) == "train.batch_size: must be an integer from 1 to 4096, got 0"
    with pytest.raises(FileFormatError, match=r"train\.optimiser: unknown setting"):
        TrainConfig.from_dict({"optimiser": "adam"})
    cfg = TrainConfig(clip_norm=1.0, tbptt=10)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
