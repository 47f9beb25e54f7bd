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

import dataclasses
from dataclasses import dataclass

import numpy as np

from playground.errors import PlaygroundError
from playground.files.trained import WeightsChoice
from playground.tracing import AttentionTrace, RecurrentTrace
from playground.tracing.records import record_key

NOT_HERE = "inspecting your own model: {what} works on a playground experiment, not here"


@dataclass
class ModuleSession:
    """What ``playground.show`` was given (kept to re-run a what-if)."""

    model: object
    inputs: object
    targets: object = None
    loss_fn: object = None
    name: str = "model"

    def named_modules(self) -> list[tuple[str, object]]:
        return list(self.model.named_modules())


def _steps_of(trace) -> tuple[int, int] | None:
    """(B, T) of the trace's first record: the steps the panels and the timeline show."""
    for r in trace.layers:
        if isinstance(r, RecurrentTrace):
            return r.h.shape[0], r.h.shape[1]
        if isinstance(r, AttentionTrace):
            return r.weights.shape[0], r.weights.shape[2]
    return None


def for_display(trace):
    """``trace`` with its output as (B, T, ...) over the records' steps, which the panels
    and the timeline read it as: a time-major output (T, B, ...) is put batch first, and an
    output that is not per step (a classifier's (B, C)) is shown at the last step, the other
    steps empty (its targets then are not drawn). The records are the same objects."""
    bt = _steps_of(trace)
    out = np.asarray(trace.outputs)
    if bt is None or (out.ndim >= 2 and out.shape[:2] == bt):
        return trace
    B, T = bt

    def swap(a):
        return None if a is None else np.swapaxes(np.asarray(a), 0, 1)

    if out.ndim >= 2 and out.shape[:2] == (T, B):
        tg, sl = trace.targets, trace.step_loss
        return dataclasses.replace(
            trace, outputs=swap(out),
            targets=swap(tg) if tg is not None and np.ndim(tg) >= 2 and
            np.shape(tg)[:2] == (T, B) else None,
            step_loss=swap(sl) if sl is not None and np.shape(sl) == (T, B) else None)
    flat = out.reshape(B, -1) if out.ndim >= 1 and out.shape[0] == B else None
    shown = np.full((B, T, 1 if flat is None else flat.shape[1]), np.nan,
                    dtype=np.float64)
    if flat is not None:
        shown[:, -1] = flat
    return dataclasses.replace(trace, outputs=shown, targets=None, step_loss=None)


def run_inspect(model, inputs, targets=None, loss_fn=None, interventions=()):
    """``playground.inspect`` with the random numbers of a fixed seed (the user's random
    state is restored after): a model with dropout in training mode then drops the same
    units in the run and in each what-if, so what they show differs by the what-if
    alone."""
    import torch

    from playground.probe.inspector import inspect

    devices = sorted({p.device.index or 0 for p in model.parameters() if p.is_cuda})
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        return for_display(inspect(model, inputs, targets, loss_fn, interventions))


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

    def open_module(self, model, inputs, targets=None, loss_fn=None, *,
                    name: str | None = None) -> str:
        """Show ``playground.inspect(model, inputs, targets, loss_fn)``; ``""`` or the
        problem (then nothing changes)."""
        if self.training.running:
            return "stop training first, then inspect a model"
        try:
            tr = run_inspect(model, inputs, targets, loss_fn)
        except PlaygroundError as e:
            return str(e)
        except Exception as e:  # noqa: BLE001 - the user's forward or loss raised
            return f"the model could not be traced ({type(e).__name__}: {str(e)[:300]})"
        self.analysis.cancel()
        self.generation.cancel()
        self.tracer.cancel()
        self.training.forget()
        name = name or type(model).__name__
        self.inspected = ModuleSession(model, inputs, targets, loss_fn, name)
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
        without them stays as :attr:`base_trace`. False (and ``inputError``) on a problem."""
        s = self.inspected
        ivs = tuple(ivs)
        base = self.base_trace if self.base_trace is not None else self.trace
        if not ivs:
            if base is not None:
                self.trace, self.base_trace, self.interventions = base, None, ()
                self.traceChanged.emit()
            return True
        try:
            tr = run_inspect(s.model, s.inputs, s.targets, s.loss_fn, ivs)
        except PlaygroundError as e:
            self.inputError.emit(str(e))
            return False
        except Exception as e:  # noqa: BLE001 - the user's forward or loss raised
            self.inputError.emit(f"the what-if could not be traced ({type(e).__name__}: "
                                 f"{str(e)[:300]})")
            return False
        self.trace, self.base_trace, self.interventions = tr, base, ivs
        self.traceChanged.emit()
        return True

    def module_records(self, name: str) -> list:
        """The records of module ``name`` in the current trace."""
        return [] if self.trace is None else self.trace.layers_of(name)

    def select_module(self, name: str) -> bool:
        """Show module ``name`` in the panels (the first layer of its first call, or its
        attention); False when it has no record."""
        recs = self.module_records(name)
        rec = min((r for r in recs if isinstance(r, RecurrentTrace)), default=None,
                  key=lambda r: (r.call, r.layer, r.direction))
        att = next((r for r in recs if isinstance(r, AttentionTrace)), None)
        if rec is None and att is None:
            return False
        if rec is not None:
            self.rec_sel = record_key(rec)
        if att is not None:
            self.attn_sel = att.node
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
