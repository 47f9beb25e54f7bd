"""The training engine: a plain PyTorch loop with callbacks, for the app and the command line.

One step: sample a batch, ``L = mean_loss(step_losses(model(x), y, mask))``, backpropagate,
measure ``||g||_2`` over all parameters, clip (``g <- g * min(1, clip / ||g||)``), take an
optimiser step. After every step the callbacks receive a :class:`Snapshot` of plain Python
and numpy data; the app's worker thread hooks in there.

A NaN / Inf loss or an exploding gradient is caught before the optimiser step, so the
weights that gave the last finite loss are kept (restored when the bad loss came from
the step before), and :meth:`Trainer.run` returns with ``status == "diverged"``.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from ..data.bind import bind_inputs
from ..data.fit import check_model
from ..errors import PlaygroundError, TrainingError
from ..model.budget import check_training
from ..model.build import SequenceModel
from ..model.inputs import check_inputs
from ..model.losses import mean_loss, step_losses
from ..tracing.runs import chunks
from ..tracing.tracer import trace
from .config import DEVICES, TrainConfig
from .evaluate import _evaluate
from .schedule import lr_factor

EVENTS = ("on_step_end", "on_train_end")


class _Stopped(Exception):  # Stop between two windows of a step: the step is not taken
    pass


def detach_state(states: dict) -> dict:
    """The same states cut from the graph (tuples for LSTM ``(h, c)``)."""
    return {k: tuple(s.detach() for s in v) if isinstance(v, tuple) else v.detach()
            for k, v in states.items()}

@dataclass(frozen=True)
class Snapshot:
    """What a callback sees after a step: plain numbers, and a trace when one was due.

    ``grad_norm`` is ``||g||_2`` before clipping, ``grad_norm_clipped`` after.
    ``status``: ``running``, ``done``, ``stopped`` or ``diverged`` (then ``error`` says why)."""

    step: int
    loss: float
    val_loss: float | None
    grad_norm: float
    grad_norm_clipped: float
    lr: float
    steps_per_second: float
    elapsed: float
    trace: Any = None
    status: str = "running"
    error: str | None = None


def pick_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA, then MPS, then CPU. A device that is not there is a TrainingError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("device 'cuda' was asked for but no CUDA GPU is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None)
                              and torch.backends.mps.is_available()):
        raise TrainingError("device 'mps' was asked for but Apple MPS is not available")
    if name not in DEVICES:
        raise TrainingError(f"unknown device {name!r}; expected one of {', '.join(DEVICES)}")
    return torch.device(name)


def suggested_threads(model: SequenceModel, default: int | None = None) -> int:
    """CPU threads to train ``model`` with: 1 for small models (under a million parameters),
    whose operations are too small to split and which stall badly on a busy CPU; otherwise
    ``default`` (PyTorch's current setting)."""
    default = torch.get_num_threads() if default is None else default
    return 1 if model.parameter_count() < 1_000_000 else default


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD (with momentum), Adam, RMSprop (with momentum) or Adagrad at ``config.lr``."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, momentum=config.momentum)
    return torch.optim.Adagrad(params, lr=config.lr)


def check_fit(model: SequenceModel, dataset, config: TrainConfig | None = None) -> None:
    """TrainingError: the model does not fit the data; GraphError: its training would not
    fit in the machine's free memory (with ``config``; on the CPU only)."""
    problems = check_model(dataset, model)
    if problems:
        raise TrainingError("the model does not fit the data: " + "; ".join(problems))
    if config is not None:
        check_training(model.graph, dataset.example(), config.batch_size, config.tbptt)


class Trainer:
    """Trains ``model`` on ``dataset`` with ``config``; see the module doc for one step.

    ``run(steps)`` blocks in the calling thread; ``pause``, ``resume``, ``stop`` and
    ``request_trace`` may be called from any other thread and take effect within one step
    (``stop`` within one truncated-BPTT window: the step it cuts is not taken)."""

    def __init__(self, model: SequenceModel, dataset, config: TrainConfig | None = None,
                 device: str | None = None):
        self.config = config or TrainConfig()
        self.device = pick_device(device or self.config.device)
        check_fit(model, dataset, self.config if self.device.type == "cpu" else None)
        if self.config.tbptt is not None:
            why = model.window_problem()
            if why:
                raise TrainingError(f"truncated BPTT cannot cut this graph into windows: {why}. "
                                    "Use full BPTT (tbptt: null) for it.")
        self.model = model.to(self.device)
        self.dataset = dataset
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(self.params, self.config)
        self.base_lr = float(self.config.lr)   # the rate the schedule scales (set_lr moves it)
        self.rng = np.random.default_rng(self.config.seed)
        torch.manual_seed(self.config.seed)  # dropout masks
        self.step: int = 0
        self.history: dict[str, list] = {"step": [], "loss": [], "grad_norm": [], "lr": [],
                                         "val_step": [], "val_loss": []}
        self.error: TrainingError | None = None
        self.last_val_loss: float | None = None
        self._callbacks: dict[str, list[Callable]] = {e: [] for e in EVENTS}
        self._resume, self._stop, self._lock = threading.Event(), threading.Event(), \
            threading.Lock()
        self._resume.set()
        self._trace_wanted, self._trace_batch, self._val, self._checked = False, None, None, False
        self._good = [p.detach().clone() for p in self.params]   # last weights, finite loss
        self._times: collections.deque = collections.deque(maxlen=20)  # of step end times
        self._elapsed, self._t0 = 0.0, time.perf_counter()

    # -- control, from any thread -----------------------------------------------------------
    def add_callback(self, event: str, fn: Callable[[Snapshot], None]) -> None:
        if event not in self._callbacks:
            raise ValueError(f"unknown event {event!r}; expected one of {', '.join(EVENTS)}")
        self._callbacks[event].append(fn)

    def remove_callback(self, event: str, fn: Callable[[Snapshot], None]) -> None:
        """Undo :meth:`add_callback` (a worker that ends removes its own)."""
        if fn in self._callbacks.get(event, ()):
            self._callbacks[event].remove(fn)

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def stop(self) -> None:
        self._stop.set()
        self._resume.set()  # wake a paused loop so it can see the stop

    def clear_stop(self) -> None:
        """Forget an earlier :meth:`stop` (before a ``run(keep_stop=True)``)."""
        self._stop.clear()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def request_trace(self, batch=None) -> None:
        """Ask for a fresh trace in the next snapshot, of ``batch`` (default: the last one
        chosen, else ``dataset.example()``). ``batch`` is a :class:`playground.data.Batch`."""
        with self._lock:
            if batch is not None:
                self._trace_batch = batch
            self._trace_wanted = True

    def set_lr(self, lr: float) -> None:
        """Set the base learning rate (the schedule, if any, scales it from the next step)."""
        self.base_lr = float(lr)
        self._apply_lr()

    RATE_FIELDS = ("lr", "schedule", "warmup", "step_every", "step_factor")

    def set_schedule(self, config) -> None:
        """Take the learning rate and its schedule (``RATE_FIELDS``) from ``config`` and go on
        from the current step with them; every other setting stays as the trainer began."""
        self.config = replace(self.config, **{k: getattr(config, k) for k in self.RATE_FIELDS})
        self.set_lr(config.lr)

    def lr_now(self) -> float:
        """The rate the next optimiser step takes: the base rate times the schedule's factor."""
        return self.base_lr * lr_factor(self.config, self.step)

    def _apply_lr(self) -> None:
        lr = self.lr_now()
        for g in self.optimizer.param_groups:
            g["lr"] = lr

    # -- running ----------------------------------------------------------------------------
    def _tensors(self, batch) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        dev = self.device
        inputs = bind_inputs(self.model, batch)  # tensors on the device
        if not self._checked:  # clear SequenceErrors for the first batch, then trust the source
            check_inputs(self.model, inputs)
            self._checked = True
        targets = torch.as_tensor(batch.targets).to(dev, non_blocking=True)
        mask = torch.as_tensor(batch.mask, dtype=torch.float32).to(dev, non_blocking=True)
        return inputs, targets, mask

    def _loss_and_backward(self, inputs, targets, mask) -> torch.Tensor:
        head = self.model.head_output
        tb = self.config.tbptt
        T = targets.shape[1]
        if tb is None or tb >= T:
            loss = mean_loss(step_losses(self.model(inputs), targets, mask, head), mask)
            loss.backward()
            return loss.detach()
        # Windows of ``tb`` steps, state carried across detached: the gradient of the full
        # mean loss with the recurrent path cut at each window start (as trace(tbptt=) shows).
        total = mask.sum().clamp_min(1.0)
        states: dict = {}
        loss = torch.zeros((), device=self.device)
        for s, e in chunks(T, tb):
            if s and self._stop.is_set():   # a long step (many windows) ends at a window
                raise _Stopped
            out, states = self.model.run({k: v[:, s:e] for k, v in inputs.items()},
                                         states)
            part = step_losses(out, targets[:, s:e], mask[:, s:e], head).sum() / total
            part.backward()
            loss = loss + part.detach()
            states = detach_state(states)
        return loss

    def validate(self) -> float:
        """Mean loss on the dataset's held-out batch (dropout off)."""
        return self.evaluate()["val_loss"]

    def evaluate(self) -> dict[str, float | None]:
        """:func:`evaluate` on the held-out batch (its tensors are made once)."""
        if self._val is None:
            self._val = self._tensors(self.dataset.validation())
        return _evaluate(self.model, *self._val)

    def make_trace(self, batch=None):
        """A fresh :func:`playground.tracing.trace` of ``batch`` (default: the chosen sequence)."""
        batch = batch or self._trace_batch or self.dataset.example()
        return trace(self.model, bind_inputs(self.model, batch), batch.targets, batch.mask,
                     tbptt=self.config.tbptt)

    def _diverged(self, message: str, loss: float, norm: float, lr: float,
                  restore: bool) -> Snapshot:
        # The last good weights: those before the update that led here (the last loss and
        # gradient norm were finite and in bounds).
        with torch.no_grad():
            if restore:
                torch._foreach_copy_(self.params, self._good)
        # Momentum and Adam moments saw the bad gradients: start them afresh on resume.
        self.optimizer = make_optimizer(self.params, self.config)
        self._apply_lr()
        self.error = TrainingError(message)
        return Snapshot(self.step, loss, None, norm, norm, lr, self._rate(), self._elapsed,
                        None, "diverged", message)

    def _rate(self) -> float:
        if len(self._times) < 2:
            return 0.0
        dt = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / dt if dt > 0 else 0.0

    def train_step(self) -> Snapshot:
        """One optimiser step (see the module doc); returns its snapshot."""
        cfg = self.config
        inputs, targets, mask = self._tensors(self.dataset.sample(cfg.batch_size, self.rng))
        if not self.model.training:
            self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._loss_and_backward(inputs, targets, mask)
        grads = [p.grad for p in self.params if p.grad is not None]
        norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())
        loss_v, norm_v = torch.stack([loss.float(), norm.float().to(loss.device)]).tolist()
        self._apply_lr()
        lr = self.optimizer.param_groups[0]["lr"]
        if not math.isfinite(loss_v):
            return self._diverged(
                f"training stopped at step {self.step + 1}: the loss became {loss_v} "
                f"(learning rate {lr:g}). The last good weights were restored; lower the "
                "learning rate or clip the gradient norm.", loss_v, norm_v, lr, restore=True)
        if not math.isfinite(norm_v) or (cfg.clip_norm is None and cfg.explode_threshold
                                         and norm_v > cfg.explode_threshold):
            limit = (f" (limit {cfg.explode_threshold:g})" if math.isfinite(norm_v)
                     and cfg.explode_threshold else "")
            return self._diverged(
                f"training stopped at step {self.step + 1}: the gradient norm exploded to "
                f"{norm_v:.3g}{limit}. The last good weights were "
                "restored; clip the gradient norm or lower the learning rate.", loss_v, norm_v,
                lr, restore=True)
        clipped = norm_v
        if cfg.clip_norm is not None:
            torch.nn.utils.clip_grads_with_norm_(self.params, cfg.clip_norm, norm)
            clipped = norm_v * min(1.0, cfg.clip_norm / (norm_v + 1e-6))
        with torch.no_grad():
            torch._foreach_copy_(self._good, self.params)
        self.optimizer.step()
        self.step += 1
        h = self.history
        h["step"].append(self.step)
        h["loss"].append(loss_v)
        h["grad_norm"].append(norm_v)
        h["lr"].append(lr)
        val = None
        if cfg.val_every and self.step % cfg.val_every == 0:
            val = self.last_val_loss = self.validate()
            h["val_step"].append(self.step)
            h["val_loss"].append(val)
        tr = problem = None
        with self._lock:
            want = self._trace_wanted or (cfg.trace_every and self.step % cfg.trace_every == 0)
            self._trace_wanted = False
        if want:
            try:
                tr = self.make_trace()
            except PlaygroundError as e:  # a bad chosen sequence must not stop training
                problem = f"no trace: {e}"
        self._times.append(time.perf_counter())
        return Snapshot(self.step, loss_v, val, norm_v, clipped, lr, self._rate(),
                        self._elapsed + time.perf_counter() - self._t0, tr, error=problem)

    def run(self, steps: int | None = None, *, keep_stop: bool = False) -> Snapshot:
        """Train ``steps`` more steps (default ``config.steps``) unless stopped or diverged;
        returns the last snapshot (``status`` done, stopped or diverged), which the
        ``on_train_end`` callbacks also get. Out of memory raises TrainingError.
        ``keep_stop``: a :meth:`stop` since :meth:`clear_stop` still counts (a worker's)."""
        end = self.step + (self.config.steps if steps is None else steps)
        if not keep_stop:
            self._stop.clear()
        self.error = last = None
        self._times.clear()
        self._t0 = time.perf_counter()
        try:
            while self.step < end:
                if not self._resume.is_set():
                    self._elapsed += time.perf_counter() - self._t0
                    self._resume.wait()
                    self._t0 = time.perf_counter()
                    self._times.clear()
                if self._stop.is_set():
                    break
                try:
                    snap = self.train_step()
                except _Stopped:
                    self.optimizer.zero_grad(set_to_none=True)
                    break
                except torch.OutOfMemoryError:
                    self.optimizer.zero_grad(set_to_none=True)
                    raise TrainingError(f"out of memory on {self.device} at step {self.step + 1}"
                                        ": use a smaller batch, model or window") from None
                last = snap
                if snap.status == "diverged":
                    break
                for fn in self._callbacks["on_step_end"]:
                    fn(snap)
        finally:
            self._elapsed += time.perf_counter() - self._t0
            self._t0 = time.perf_counter()
        if last is None:  # stopped before a step: still tell the listeners
            h = self.history
            last = Snapshot(self.step, h["loss"][-1] if h["loss"] else math.nan,
                            self.last_val_loss, h["grad_norm"][-1] if h["grad_norm"] else 0.0,
                            0.0, self.optimizer.param_groups[0]["lr"], 0.0, self._elapsed)
        status = last.status if last.status == "diverged" else (
            "stopped" if self._stop.is_set() and self.step < end else "done")
        last = Snapshot(**{**last.__dict__, "status": status, "elapsed": self._elapsed})
        if status == "diverged":
            for fn in self._callbacks["on_step_end"]:
                fn(last)
        for fn in self._callbacks["on_train_end"]:
            fn(last)
        return last

    @property
    def elapsed(self) -> float:
        """Seconds spent training (pauses excluded)."""
        return self._elapsed
