"""What the :class:`~ui.controller.Controller` does beyond holding the experiment and
its trace: saving and exporting it, generating from its model, training and analysing it,
and walking its lesson. Mixins of the one controller (their methods use its state and
signals); views still reach all of it through that one object."""

from __future__ import annotations

import copy
import dataclasses
import os

from playground.errors import PlaygroundError
from playground.files import experiment as X
from playground.files.export import export_dataset, export_pytorch
from playground.model.build import build
from playground.tracing import RecurrentTrace

HELLO_TEXT = "hello hello hello hello hello hello hello hello "
NEW_DATA = {"source": "text", "text": HELLO_TEXT, "level": "char", "window": 8}


class FilesMixin:
    """Save and export."""

    # -- saving -------------------------------------------------------------------------
    def save(self, path: str) -> str:
        """Write the experiment (graph as on the canvas, weights as trained); ``""`` or the
        problem."""
        if self.training.running:
            return "stop training first, then save"
        if self.model is None:
            return "there is no valid model to save yet: fix the canvas first"
        exp = self.experiment
        try:
            if exp is None:
                exp = X.Experiment(name=self.name, graph=self.model.graph, data=NEW_DATA,
                                   description=self.description, what_to_look_at=self.look_at)
            exp.graph = self.model.graph.copy()
            exp.description, exp.what_to_look_at = self.description, self.look_at
            exp.lesson = self.lesson
            if self.train_config is not None:   # as the Training dock set it
                exp.train = self.train_config
            if exp.name.endswith("(built-in)") or exp.name == "untitled":
                exp.name = os.path.splitext(os.path.basename(path))[0]
            state, record = self.weights.to_save(exp.seed)
            if state is not None:        # the untrained are on view: the file keeps the trained
                exp.weights, exp.trained = state, record
                exp.save(path)
            else:
                exp.save(path, model=self.model, trained=record)
        except PlaygroundError as e:   # the core's file boundary types every failure
            return str(e)
        except Exception as e:  # noqa: BLE001 - last resort: a sentence, never a traceback
            return f"{path}: could not be saved ({type(e).__name__}: {str(e)[:200]})"
        self.experiment, self.path, self.name = exp, str(path), exp.name
        self.set_dirty(False)
        return ""

    def export(self, path: str) -> str:
        """Write the model as a standalone PyTorch script, its weights and the data set it
        trains on (``NAME_data.pt``, the script's ``--train``)."""
        if self.model is None:
            return "there is no valid model to export yet"
        try:
            py, _ = export_pytorch(self.model, path)
            export_dataset(self.model, self.dataset, py, self.train_config)
        except PlaygroundError as e:   # the core's file boundary types every failure
            return str(e)
        except Exception as e:  # noqa: BLE001 - last resort: a sentence, never a traceback
            return f"{path}: could not be exported ({type(e).__name__}: {str(e)[:200]})"
        return ""


class GenerationMixin:
    """Generate from the model (the Generate dock)."""

    # -- generation ---------------------------------------------------------------------
    def generation_setup(self) -> dict:
        """What the Generate dock offers now: ``how`` the model generates
        (:func:`playground.train.generate.how_it_generates`), ``problem`` (``""`` when it
        can), a ``prompt`` and ``length`` suggested from the task's example, ``prompt_is``
        (what the prompt is to the model) and ``classes`` (output classes, 0 for values)."""
        from playground.train import generate as C

        out = {"how": "", "problem": "", "prompt": "", "length": 20, "prompt_is": "",
               "classes": 0}
        if self.model is None or self.dataset is None:
            out["problem"] = "build a valid model on the canvas to generate with it"
            return out
        try:
            how = C.how_it_generates(self.model, self.dataset)
            prompt, length = C.suggest(self.model, self.dataset)
        except PlaygroundError as e:
            out["problem"] = str(e)
            return out
        classes = self.dataset.classes
        out.update(how=how, prompt=prompt, length=length, prompt_is=C.PROMPT_IS[how],
                   classes=0 if classes is None else len(classes))
        return out

    @property
    def trained(self) -> bool:
        """Whether the model has learned anything: trained weights on view (:attr:`weights`),
        or steps trained here."""
        trainer = self.training.trainer
        if trainer is not None and trainer.step > 0:
            return True
        choice = getattr(self, "weights", None)
        if choice is not None and hasattr(choice, "shown"):
            return bool(choice.shown or choice.edited)
        return getattr(self.experiment, "weights", None) is not None

    def generate(self, prompt: str, length: int, *, mode: str = "greedy",
                 temperature: float = 1.0, top_k: int | None = None, beam: int = 3,
                 seed: int | None = 0) -> str:
        """Generate from ``prompt`` (:func:`playground.train.generate.generate`) on a copy
        of the model, in a thread: :attr:`generation` emits ``ready(Generation)`` or
        ``failed(message)``. Returns ``""`` when it started, else why it cannot."""
        from playground.train import generate as C

        if self.model is None or self.dataset is None:
            return "there is no valid model to generate with: fix the canvas first"
        problem = C.generation_problem(self.model, self.dataset)
        if problem:
            return problem
        model, dataset = copy.deepcopy(self.model), self.dataset
        self.generation.start(lambda: C.generate(
            model, dataset, prompt, int(length), mode=mode, temperature=temperature,
            top_k=top_k, beam=beam, seed=seed))
        return ""


class TrainingMixin:
    """Train, switch trained/untrained weights, analyse; walk the lesson."""

    # -- training and analysis ----------------------------------------------------------
    def start_training(self, steps: int, device: str = "cpu") -> str:
        """Train for ``steps`` more steps in the worker thread; ``""`` or the problem."""
        if self.model is None or self.dataset is None:
            return "there is no valid model to train: fix the canvas first"
        self.clear_whatif()
        self.analysis.cancel()
        pending = self.tracer.cancel()        # an input still being traced: the trainer
        if pending is not None and pending.model is self.model:   # traces it instead
            self.batch, self.tokens, self.input_text = pending.batch, pending.tokens, \
                pending.text
        return self.training.start(self.model, self.dataset, self.train_config, steps,
                                   device, self.batch)

    def _training_trace(self, tr) -> None:
        self.trace, self.base_trace, self.interventions = tr, None, ()
        self.traceChanged.emit()

    def _training_finished(self, last) -> None:
        self.set_dirty(True)
        trainer = self.training.trainer
        if last is not None and trainer is not None and trainer.model is self.model \
                and trainer.step:
            from .tracejob import threads_for

            with threads_for(self.model):      # its held-out metrics, as a trace is run
                self.weights = self.weights.after_training(trainer, last)
            self.weightsChanged.emit()
        if self.model is not None:
            self.retrace()
        if self.stale.startswith("the model changed during training"):
            self._graph_edited()

    def use_trained(self, on: bool) -> str:
        """Show the trained weights (``on``) or the seed's untrained initialisation
        (:meth:`Experiment.build_model` with ``weights=False``), retracing the input; ``""``
        or the problem. What a save writes stays the trained weights."""
        if bool(on) == self.weights.shown:
            return ""
        if self.training.running:
            return "stop training first, then switch the weights"
        if on and not self.weights.can_switch:
            return "there are no trained weights to show: train the model first"
        try:
            model = self._initial_model()
            if on:
                model.load_state_dict(self.weights.state)
        except (PlaygroundError, RuntimeError) as e:
            return f"cannot switch the weights: {e}"
        self._show_model(model, self.weights.switched(on))
        self.message.emit(f"showing {self.weights.label()}" if on else
                          "showing the untrained weights (the seed's initialisation)")
        return ""

    def _initial_model(self):
        """The model's untrained initialisation: the seed's, with the training settings'
        initialisation (the LSTM forget-gate bias) as they are now."""
        exp, graph = self.experiment, self.model.graph
        model = (build(graph, seed=0, forget_bias=getattr(self.train_config, "forget_bias", None))
                 if exp is None else dataclasses.replace(
            exp, graph=graph, train=self.train_config or exp.train).build_model(weights=False))
        model.graph = graph
        return model

    def _show_model(self, model, weights) -> None:
        self.analysis.cancel()
        self.tracer.cancel()
        self.model, self.weights = model, weights
        self.interventions, self.base_trace = (), None
        self.training.forget()
        self.weightsChanged.emit()
        self.modelChanged.emit()
        self.retrace()

    def reinitialise(self) -> str:
        """After a change of the initialisation settings: the untrained model on view is
        made again with them (trained weights on view are left as they are); ``""`` or the
        problem."""
        if self.weights.shown or self.weights.edited or self.model is None:
            return ""
        if self.training.running:
            return "stop training first"
        try:
            self._show_model(self._initial_model(), self.weights)
        except (PlaygroundError, RuntimeError) as e:
            return f"cannot make the untrained model: {e}"
        return ""

    def analyse(self) -> bool:
        """Jacobian norms and singular values of the selected layer, off the GUI thread
        (``analysis.ready`` / ``analysis.busy`` follow); False when there is nothing."""
        v = self.view()
        if v is None or v.rec is None or self.training.running:
            return False
        self.analysis.start(copy.deepcopy(self.model).cpu(), v.rec)
        return True

    def lesson_stop(self, i: int):
        """Go to step ``i`` of the lesson (:attr:`walk`): select its layer and return
        ``(step, t, span)``: the :class:`~playground.files.lessons.LessonStep`, the time step to
        show and the steps to mark, counted in the sequence its layer reads; None without a
        lesson."""
        step = self.walk.go(i)
        if step is None:
            return None
        node = step.layer
        if node is not None and node not in (self.attn_sel, (self.rec_sel or ("",))[0]):
            self.select_node(node)
        n = self.trace.steps if self.trace is not None else 1
        if node is not None and self.trace is not None:
            try:
                rec = self.trace.layer(node)
                n = (rec.h if isinstance(rec, RecurrentTrace) else rec.weights[0, 0]).shape[-2]
            except (KeyError, AttributeError, IndexError):
                pass
        t, span = step.steps_in(n)
        return step, t, span
