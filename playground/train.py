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
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch

from .build import INIT_SCHEMES, SequenceModel
from .cells import chunks
from .data import bind_inputs, check_model
from .errors import FileFormatError, PlaygroundError, TrainingError
from .generate import _evaluate, detach_state, evaluate, forward_window, window_problem
from .losses import mean_loss, step_losses
from .sequences import check_inputs

__all__ = ["TrainConfig", "Snapshot", "Trainer", "evaluate", "pick_device", "make_optimizer",
           "suggested_threads", "check_fit", "OPTIMIZERS", "DEVICES", "EVENTS"]

OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad")
DEVICES = ("auto", "cpu", "cuda", "mps")
EVENTS = ("on_step_end", "on_train_end")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(float(v)))


# field -> (check, what it must be). ``None`` is allowed where the default is None.
_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "optimizer": (lambda v: v in OPTIMIZERS, f"must be one of {', '.join(OPTIMIZERS)}"),
    "lr": (lambda v: _is_num(v) and v > 0, "must be a positive number"),
    "momentum": (lambda v: _is_num(v) and 0 <= v < 1, "must be a number in [0, 1)"),
    "batch_size": (lambda v: _is_int(v) and v >= 1, "must be a positive integer"),
    "steps": (lambda v: _is_int(v) and v >= 0, "must be an integer >= 0"),
    "clip_norm": (lambda v: v is None or (_is_num(v) and v > 0),
                  "must be a positive number or null (no clipping)"),
    "tbptt": (lambda v: v is None or (_is_int(v) and v >= 1),
              "must be a positive integer or null (full BPTT)"),
    "init": (lambda v: v in INIT_SCHEMES, f"must be one of {', '.join(INIT_SCHEMES)}"),
    "init_scale": (lambda v: _is_num(v) and v > 0, "must be a positive number"),
    "seed": (lambda v: _is_int(v) and v >= 0, "must be an integer >= 0"),
    "device": (lambda v: v in DEVICES, f"must be one of {', '.join(DEVICES)}"),
    "val_every": (lambda v: _is_int(v) and v >= 0, "must be an integer >= 0 (0: never)"),
    "trace_every": (lambda v: _is_int(v) and v >= 0, "must be an integer >= 0 (0: never)"),
    "explode_threshold": (lambda v: v is None or (_is_num(v) and v > 0),
                          "must be a positive number or null (off)"),
}


@dataclass(frozen=True)
class TrainConfig:
    """Training settings. ``init`` / ``init_scale`` pick the weight initialisation applied when
    the model is built (:func:`playground.build.initialize`); ``explode_threshold`` stops
    training when ``||g||`` exceeds it (only without clipping: clipping is the cure);
    ``val_every`` / ``trace_every`` are in steps (0: never)."""

    optimizer: str = "adam"
    lr: float = 0.01
    momentum: float = 0.0
    batch_size: int = 32
    steps: int = 500
    clip_norm: float | None = None
    tbptt: int | None = None
    init: str = "default"
    init_scale: float = 1.0
    seed: int = 0
    device: str = "auto"
    val_every: int = 50
    trace_every: int = 0
    explode_threshold: float | None = 1e6

    def __post_init__(self) -> None:
        for name, (ok, what) in _CHECKS.items():
            value = getattr(self, name)
            if not ok(value):
                raise ValueError(f"{name}: {what}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, path: str = "train") -> TrainConfig:
        """Parse plain data; a bad field raises FileFormatError naming ``path.field``."""
        if not isinstance(data, dict):
            raise FileFormatError(f"must be an object, got {type(data).__name__}", path)
        names = [f.name for f in fields(cls)]
        for key in data:
            if key not in names:
                raise FileFormatError(f"unknown setting; expected one of {', '.join(names)}",
                                      f"{path}.{key}")
        for key, value in data.items():
            ok, what = _CHECKS[key]
            if not ok(value):
                raise FileFormatError(f"{what}, got {value!r}", f"{path}.{key}")
        return cls(**data)


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


def check_fit(model: SequenceModel, dataset) -> None:
    """Raise TrainingError naming every way the model does not fit the dataset."""
    problems = check_model(dataset, model)
    if problems:
        raise TrainingError("the model does not fit the data: " + "; ".join(problems))


class Trainer:
    """Trains ``model`` on ``dataset`` with ``config``; see the module doc for one step.

    ``run(steps)`` blocks in the calling thread; ``pause``, ``resume``, ``stop`` and
    ``request_trace`` may be called from any other thread and take effect within one step.
    """

    def __init__(self, model: SequenceModel, dataset, config: TrainConfig | None = None,
                 device: str | None = None):
        self.config = config or TrainConfig()
        self.device = pick_device(device or self.config.device)
        check_fit(model, dataset)
        if self.config.tbptt is not None:
            why = window_problem(model)
            if why:
                raise TrainingError(f"truncated BPTT cannot cut this graph into windows: {why}. "
                                    "Use full BPTT (tbptt: null) for it.")
        self.model = model.to(self.device)
        self.dataset = dataset
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(self.params, self.config)
        self.rng = np.random.default_rng(self.config.seed)
        torch.manual_seed(self.config.seed)  # dropout masks
        self.step = 0
        self.history: dict[str, list] = {"step": [], "loss": [], "grad_norm": [],
                                         "val_step": [], "val_loss": []}
        self.error: TrainingError | None = None
        self.last_val_loss: float | None = None
        self._callbacks: dict[str, list[Callable]] = {e: [] for e in EVENTS}
        self._resume = threading.Event()
        self._resume.set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._trace_wanted = False
        self._trace_batch = None
        self._val = None
        self._checked = False
        with torch.no_grad():
            self._good = [p.detach().clone() for p in self.params]  # last weights with finite loss
        self._times: collections.deque = collections.deque(maxlen=20)
        self._elapsed, self._t0 = 0.0, time.perf_counter()

    # -- control, from any thread -----------------------------------------------------------
    def add_callback(self, event: str, fn: Callable[[Snapshot], None]) -> None:
        if event not in self._callbacks:
            raise ValueError(f"unknown event {event!r}; expected one of {', '.join(EVENTS)}")
        self._callbacks[event].append(fn)

    def remove_callback(self, event: str, fn: Callable[[Snapshot], None]) -> None:
        """Undo :meth:`add_callback` (a worker that ends removes its own)."""
        try:
            self._callbacks[event].remove(fn)
        except (KeyError, ValueError):
            pass

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def stop(self) -> None:
        self._stop.set()
        self._resume.set()  # wake a paused loop so it can see the stop

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
        for g in self.optimizer.param_groups:
            g["lr"] = float(lr)

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
            out, states = forward_window(self.model, {k: v[:, s:e] for k, v in inputs.items()},
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
        """A fresh :func:`playground.trace.trace` of ``batch`` (default: the chosen sequence)."""
        from .trace import trace

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
        self.set_lr(lr)
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

    def run(self, steps: int | None = None) -> Snapshot:
        """Train ``steps`` more steps (default ``config.steps``) unless stopped or diverged;
        returns the last snapshot (``status`` done, stopped or diverged), which the
        ``on_train_end`` callbacks also get. Out of memory raises TrainingError."""
        n = self.config.steps if steps is None else steps
        end = self.step + n
        self._stop.clear()
        self.error = None
        last = None
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
