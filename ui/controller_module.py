"""The controller's mode for a user's own ``torch.nn.Module`` (``playground.show``).

:meth:`ModuleMixin.open_module` traces the model with the core's :func:`playground.inspect`
and makes that trace the controller's current one, so every panel draws it and the
timeline steps through it; the layer choice lists its records. A what-if re-runs
``inspect`` with the interventions (:meth:`ModuleMixin.module_whatif`), keeping the first
run as :attr:`base_trace`. There is no graph and no experiment in this mode:
``controller.model`` and ``controller.dataset`` are ``None`` (so training, saving,
exporting and generating have nothing to act on) and the user's model is
:attr:`ModuleSession.model` of :attr:`inspected`, never changed (``inspect`` leaves its
weights, ``.grad`` fields and mode as they were).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from playground.errors import PlaygroundError
from playground.files.trained import WeightsChoice
from playground.probe.display import per_step
from playground.probe.patching import check_interventions
from playground.tracing import AttentionTrace, RecurrentTrace
from playground.tracing.records import record_key

from .jobs import LatestCall

NOT_HERE = "inspecting your own model: {what} works on a playground experiment, not here"
AT_ONCE_S = 0.05   # a what-if whose model ran faster than this runs at once, others in a thread


def _what_went_wrong(e: Exception) -> str:
    """One sentence for an error of the user's forward or loss (or of the core)."""
    if isinstance(e, PlaygroundError):
        return str(e)
    return f"the what-if could not be traced ({type(e).__name__}: {str(e)[:300]})"


class InspectJob(LatestCall):
    """A what-if of the inspected model in a thread (``ready``: its trace). The controller
    starts one only when none runs: two runs at once would patch the same modules."""

    NAME = "inspect"

    def start(self, fn) -> None:
        self._start(fn, describe=_what_went_wrong)


@dataclass
class ModuleSession:
    """What ``playground.show`` was given (kept to re-run a what-if)."""

    model: object
    inputs: object
    targets: object = None
    loss_fn: object = None
    name: str = "model"
    seconds: float = 0.0      # how long the model's first run took
    output: str = "auto"      # inspect's: "logits", "values" or "auto"

    def named_modules(self) -> list[tuple[str, object]]:
        return list(self.model.named_modules())


def run_inspect(model, inputs, targets=None, loss_fn=None, interventions=(), output="auto"):
    """``playground.inspect`` with the random numbers of a fixed seed (the user's random
    state is restored after): a model with dropout in training mode then drops the same
    units in the run and in each what-if, so what they show differs by the what-if
    alone."""
    import torch

    from playground.probe.inspector import inspect

    devices = sorted({p.device.index or 0 for p in model.parameters() if p.is_cuda})
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        return per_step(inspect(model, inputs, targets, loss_fn, interventions,
                                output=output))


def _step_labels(trace) -> list[str]:
    """The input's token ids at each step when the input is (B, T) ids; [] otherwise."""
    x = next(iter(trace.inputs.values()), None) if trace.inputs else None
    if x is None:
        return []
    x = np.asarray(x)
    if x.ndim == 2 and x.dtype.kind in "iu" and x.shape[1] == trace.steps:
        return [str(int(i)) for i in x[0]]
    return []


class ModuleMixin:
    """``open_module`` / ``module_whatif`` / ``select_module`` of the one controller."""

    inspected: ModuleSession | None = None
    _module_wanted = None     # (interventions, base) of a what-if waiting for its run
    _module_running = None    # those of the run in the thread

    @property
    def _module_job(self) -> InspectJob:
        job = self.__dict__.get("_inspect_job")
        if job is None:
            job = self.__dict__["_inspect_job"] = InspectJob(self)
            job.ready.connect(self._module_done)
            job.failed.connect(self._module_failed)
        return job

    def open_module(self, model, inputs, targets=None, loss_fn=None, *,
                    name: str | None = None, output: str = "auto") -> str:
        """Show ``playground.inspect(model, inputs, targets, loss_fn)``; ``""`` or the
        problem (then nothing changes)."""
        if self.training.running:
            return "stop training first, then inspect a model"
        t0 = time.perf_counter()
        try:
            tr = run_inspect(model, inputs, targets, loss_fn, output=output)
        except PlaygroundError as e:
            return str(e)
        except Exception as e:  # noqa: BLE001 - the user's forward or loss raised
            return f"the model could not be traced ({type(e).__name__}: {str(e)[:300]})"
        self.analysis.cancel()
        self.generation.cancel()
        self.tracer.cancel()
        self._module_job.cancel(wait=True)
        self._module_wanted = None
        self.training.forget()
        name = name or type(model).__name__
        self.inspected = ModuleSession(model, inputs, targets, loss_fn, name,
                                       time.perf_counter() - t0, output)
        self.model, self.dataset, self.experiment, self.train_config = None, None, None, None
        self.weights = WeightsChoice()
        self.name, self.path = name, None
        self.description = (f"Your own {type(model).__name__}, traced by playground.inspect: "
                            f"{len(tr.layers)} record(s) of its recurrent and attention "
                            "modules. Click a module in the Model dock to show it.")
        self.look_at = "Step through the sequence; try a what-if on a gate."
        self.lesson = ()
        self.walk.reset(())
        self.ngram_model = self.ngram = self.ngram_order = None
        self.batch, self.input_text = None, ""
        self.trace, self.base_trace, self.interventions = tr, None, ()
        self.tokens = _step_labels(tr)
        self.rec_sel = self.attn_sel = None
        for r in tr.layers:
            if isinstance(r, RecurrentTrace) and self.rec_sel is None:
                self.rec_sel = record_key(r)
            if isinstance(r, AttentionTrace) and self.attn_sel is None:
                self.attn_sel = r.node
        self.dirty = False
        self._set_stale("")
        self.opened.emit()
        self.weightsChanged.emit()
        self.dirtyChanged.emit(False)
        return ""

    def module_whatif(self, ivs) -> bool:
        """Re-run the inspected model with ``ivs`` (``node`` = a module name); the run
        without them stays as :attr:`base_trace`. A run that took longer than
        :data:`AT_ONCE_S` goes to a thread of its own (``traceBusy`` meanwhile; the panels
        keep the last trace; a newer what-if replaces one that has not started). False (and
        ``inputError``) on a problem found before it runs."""
        s = self.inspected
        ivs = tuple(ivs)
        base = self.base_trace if self.base_trace is not None else self.trace
        if not ivs:
            self._module_wanted = None
            if base is not None:
                self.trace, self.base_trace, self.interventions = base, None, ()
                self.traceChanged.emit()
            return True
        try:
            check_interventions(s.model, ivs)
        except PlaygroundError as e:
            self.inputError.emit(str(e))
            return False
        if s.seconds > AT_ONCE_S or self._module_job.running:
            self._module_wanted = (ivs, base)
            if not self._module_job.running:
                self._run_module_whatif()
            return True
        try:
            tr = run_inspect(s.model, s.inputs, s.targets, s.loss_fn, ivs, s.output)
        except Exception as e:  # noqa: BLE001 - the user's forward or loss raised
            self.inputError.emit(_what_went_wrong(e))
            return False
        self._show_whatif(tr, ivs, base)
        return True

    def _run_module_whatif(self) -> None:
        s, (ivs, base) = self.inspected, self._module_wanted
        self._module_wanted = None
        self._module_running = (ivs, base)
        self.traceBusy.emit(True)
        self._module_job.start(
            lambda: run_inspect(s.model, s.inputs, s.targets, s.loss_fn, ivs, s.output))

    def _module_done(self, tr) -> None:
        ivs, base = self._module_running
        if self._module_wanted is not None:        # a newer what-if waits: run it instead
            self._run_module_whatif()
            return
        self.traceBusy.emit(False)
        self._show_whatif(tr, ivs, base)

    def _module_failed(self, msg: str) -> None:
        if self._module_wanted is not None:
            self._run_module_whatif()
            return
        self.traceBusy.emit(False)
        self.inputError.emit(msg)

    def _show_whatif(self, tr, ivs, base) -> None:
        self.trace, self.base_trace, self.interventions = tr, base, ivs
        self.traceChanged.emit()

    def module_records(self, name: str) -> list:
        """The records of module ``name`` in the current trace."""
        return [] if self.trace is None else self.trace.layers_of(name)

    def module_calls(self, name: str) -> int:
        """How many times module ``name`` was called in the traced forward."""
        return 1 + max((getattr(r, "call", 0) for r in self.module_records(name)), default=-1)

    def select_module(self, name: str, call: int = 0) -> bool:
        """Show module ``name``'s ``call``-th call in the panels (its first layer, or its
        attention); False when it has no record."""
        recs = [r for r in self.module_records(name) if getattr(r, "call", 0) == call]
        rec = min((r for r in recs if isinstance(r, RecurrentTrace)), default=None,
                  key=lambda r: (r.layer, r.direction))
        att = next((r for r in recs if isinstance(r, AttentionTrace)), None)
        if rec is None and att is None:
            return False
        if rec is not None:
            self.rec_sel = record_key(rec)
        if att is not None:
            self.attn_sel = (att.node, att.call) if att.call else att.node
        self.selectionChanged.emit()
        return True

    # -- what this mode leaves out (the mixins' versions, for a playground model) --------
    def analyse(self) -> bool:
        if self.inspected is not None:
            return False
        return super().analyse()

    def start_training(self, *args, **kwargs) -> str:
        if self.inspected is not None:
            return NOT_HERE.format(what="training")
        return super().start_training(*args, **kwargs)

    def save(self, path: str) -> str:
        if self.inspected is not None:
            return NOT_HERE.format(what="saving")
        return super().save(path)

    def export(self, path: str) -> str:
        if self.inspected is not None:
            return NOT_HERE.format(what="export")
        return super().export(path)
