"""The open experiment as the views see it: model, data, the typed input and its trace.

:class:`Session` is the one place the window asks the core for anything (build, encode,
trace). Views only read :meth:`view` (a :class:`~ui.panels.base.TraceView` of numpy data)
and listen to the signals. While training runs the model belongs to the worker thread:
traces then come from the trainer (``request_trace``) instead of being computed here.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from playground.errors import PlaygroundError
from playground.model import registry
from playground.model.build import build
from playground.model.spec import GraphSpec, chain
from playground.tracing import trace

from .panels.base import TraceView

HELLO_TEXT = "hello hello hello hello hello hello hello hello "


class Session(QtCore.QObject):
    """Holds the experiment's parts and the current trace; emits when they change."""

    modelChanged = QtCore.Signal()
    traceChanged = QtCore.Signal()
    selectionChanged = QtCore.Signal()
    inputError = QtCore.Signal(str)       # "" when the input is fine again
    dirtyChanged = QtCore.Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.name = "untitled"
        self.description = ""
        self.look_at = ""
        self.path: str | None = None
        self.dirty = False
        self.experiment = None           # playground.files.experiment.Experiment when there is one
        self.graph: GraphSpec | None = None
        self.model = None
        self.dataset = None
        self.train_config = None
        self.batch = None
        self.input_text = ""
        self.tokens: list[str] = []
        self.trace = None
        self.base_trace = None           # the original while a what-if is shown
        self.interventions: tuple = ()
        self.rec_sel: tuple[str, int, int] | None = None
        self.attn_sel: str | None = None
        self.ngram = None                # (T, C) baseline probabilities for the input
        self.ngram_model = None
        self.ngram_order: int | None = None
        self.training = False
        self.trace_requester = None      # set by the window while training: fn(batch)
        self._rng = np.random.default_rng(0)

    # -- loading ------------------------------------------------------------------------
    def load(self, graph: GraphSpec, model, dataset, *, name="untitled", description="",
             look_at="", path=None, experiment=None, train_config=None) -> None:
        """Take a new experiment; starts on the dataset's example sequence."""
        self.graph, self.model, self.dataset = graph, model, dataset
        self.name, self.description, self.look_at = name, description, look_at
        self.path, self.experiment, self.train_config = path, experiment, train_config
        self.interventions, self.base_trace = (), None
        self._build_ngram()
        self.rec_sel = self.attn_sel = None
        for n in graph.nodes:
            style = _trace_style(n.kind)
            if style == "recurrent" and self.rec_sel is None:
                self.rec_sel = (n.id, 0, 0)
            if style == "attention" and self.attn_sel is None:
                self.attn_sel = n.id
        self.set_dirty(False)
        self.modelChanged.emit()
        self.use_batch(dataset.example())

    def load_default(self) -> None:
        """The hello character RNN, built here from a text dataset when no preset exists."""
        from playground.data import suggest_head, suggest_input
        from playground.data.sources import TextDataset

        ds = TextDataset(HELLO_TEXT, window=8, name="hello")
        g = chain(("x", "input", suggest_input(ds)), ("rnn", "rnn", {"hidden_size": 8}),
                  ("head", "linear", suggest_head(ds)))
        self.load(g, build(g, seed=0), ds, name="hello (built-in)",
                  description="A character RNN learning 'hello'.",
                  look_at="Step through 'hell' and watch the prediction of the next letter.")

    def replace_model(self, graph: GraphSpec, model) -> None:
        """An edited graph and its (rebuilt) model; the data and the input stay."""
        self.graph, self.model = graph, model
        self.interventions, self.base_trace = (), None
        ids = {n.id for n in graph.nodes}
        if self.rec_sel and self.rec_sel[0] not in ids:
            self.rec_sel = next(((n.id, 0, 0) for n in graph.nodes
                                 if _trace_style(n.kind) == "recurrent"), None)
        if self.attn_sel and self.attn_sel not in ids:
            self.attn_sel = None
        self.set_dirty(True)
        self.modelChanged.emit()
        self.retrace()

    def set_model(self, model) -> None:
        """A model with new weights (after training): retrace the current input."""
        self.model = model
        self.retrace()

    def set_dirty(self, dirty: bool = True) -> None:
        if dirty != self.dirty:
            self.dirty = dirty
            self.dirtyChanged.emit(dirty)

    # -- input ----------------------------------------------------------------------------
    def set_input_text(self, text: str) -> bool:
        """Encode a typed sequence; on a problem emit ``inputError`` and keep the old trace."""
        try:
            batch = self.dataset.encode_input(text)
        except (PlaygroundError, ValueError) as e:
            self.inputError.emit(str(e))
            return False
        self.input_text = text
        return self.use_batch(batch)

    def sample(self, which: str = "example") -> bool:
        """A sequence from the task: its fixed example, or a fresh random one."""
        try:
            b = self.dataset.example() if which == "example" else self.dataset.sample(1, self._rng)
        except PlaygroundError as e:
            self.inputError.emit(str(e))
            return False
        return self.use_batch(b)

    def use_batch(self, batch) -> bool:
        old = self.batch
        self.batch = batch
        self.interventions, self.base_trace = (), None
        try:
            self.tokens = self.dataset.step_labels(batch)
        except (PlaygroundError, KeyError):
            self.tokens = []
        if self.dataset.vocab is not None and self.tokens:
            self.input_text = self.dataset.vocab.join(self.tokens)
        if not self.retrace():
            self.batch = old
            return False
        self.inputError.emit("")
        return True

    def input_as_text(self) -> str:
        if self.dataset is not None and self.dataset.vocab is not None:
            return self.input_text
        return "; ".join(self.tokens)

    # -- tracing ----------------------------------------------------------------------------
    def _trace(self, interventions=()):
        from playground.data import bind_inputs

        b = self.batch
        tb = getattr(self.train_config, "tbptt", None)
        has_loss = b.mask is not None and float(np.sum(b.mask)) > 0
        return trace(self.model, bind_inputs(self.model, b), b.targets if has_loss else None,
                     b.mask if has_loss else None, tbptt=tb, interventions=interventions)

    def retrace(self) -> bool:
        """Trace the current input again (with the current what-if); False on a problem."""
        if self.model is None or self.batch is None:
            return False
        if self.training:
            if self.trace_requester is not None:
                self.trace_requester(self.batch)
            return True
        try:
            tr = self._trace(self.interventions)
            base = self._trace(()) if self.interventions else None
        except PlaygroundError as e:
            self.inputError.emit(str(e))
            return False
        self.trace, self.base_trace = tr, base
        self._update_ngram()
        self.traceChanged.emit()
        return True

    def set_training_trace(self, tr) -> None:
        """A trace made by the trainer between steps (live panels while training)."""
        self.trace, self.base_trace, self.interventions = tr, None, ()
        self.traceChanged.emit()

    # -- what-if ------------------------------------------------------------------------
    def apply_interventions(self, ivs) -> bool:
        """Re-run with ``ivs`` (:class:`playground.tracing.Intervention`); the original stays
        as :attr:`base_trace`."""
        if self.training:
            self.inputError.emit("what-if needs the model to itself: stop training first")
            return False
        prev = self.interventions
        self.interventions = tuple(ivs)
        if not self.retrace():
            self.interventions = prev
            return False
        return True

    def clear_whatif(self) -> None:
        if self.interventions:
            self.interventions = ()
            self.retrace()

    # -- selection ----------------------------------------------------------------------
    def select_node(self, node_id: str) -> None:
        """Choose which layer the panels show (a recurrent or attention node)."""
        try:
            style = _trace_style(self.graph.node(node_id).kind)
        except (KeyError, AttributeError):
            return
        if style == "recurrent":
            self.rec_sel = (node_id, 0, 0)
        elif style == "attention":
            self.attn_sel = node_id
        else:
            return
        self.selectionChanged.emit()

    def select_layer(self, node: str, layer: int, direction: int) -> None:
        self.rec_sel = (node, layer, direction)
        self.selectionChanged.emit()

    def layer_choices(self) -> list[tuple[str, int, int, str]]:
        """Every recurrent record of the trace as (node, layer, direction, label)."""
        if self.trace is None:
            return []
        return [(r.node, r.layer, r.direction, r.label) for r in self.trace.layers
                if hasattr(r, "h")]

    def _pick(self, tr, sel):
        if tr is None or sel is None:
            return None
        try:
            return tr.layer(*sel)
        except KeyError:
            return None

    def view(self) -> TraceView | None:
        if self.trace is None:
            return None
        attn = None
        if self.attn_sel is not None:
            attn = next((r for r in self.trace.layers
                         if r.node == self.attn_sel and hasattr(r, "weights")), None)
        classes = getattr(self.dataset, "classes", None)
        vocab = getattr(self.dataset, "vocab", None)
        return TraceView(trace=self.trace, base=self.base_trace,
                         rec=self._pick(self.trace, self.rec_sel),
                         base_rec=self._pick(self.base_trace, self.rec_sel), attn=attn,
                         tokens=list(self.tokens),
                         out_symbols=list(classes.symbols) if classes is not None else None,
                         in_symbols=list(vocab.symbols) if vocab is not None else None,
                         ngram=self.ngram, ngram_order=self.ngram_order)

    # -- n-gram baseline ----------------------------------------------------------------
    def _build_ngram(self) -> None:
        self.ngram_model = self.ngram = None
        if not getattr(self.dataset, "language_model", False):
            return
        try:
            from playground.data import ngram
        except ImportError:
            return
        try:
            self.ngram_model = ngram.NGramModel.from_dataset(self.dataset, order=3, k=0.1)
            self.ngram_order = self.ngram_model.order
        except (PlaygroundError, AttributeError, ValueError, TypeError):
            self.ngram_model = None

    def _update_ngram(self) -> None:
        self.ngram = None
        if self.ngram_model is None or self.batch is None:
            return
        try:
            ids = np.asarray(next(iter(self.batch.inputs.values())))[0]
            self.ngram = np.asarray(self.ngram_model.step_probs(ids))
        except (PlaygroundError, AttributeError, ValueError, TypeError):
            self.ngram = None


def _trace_style(kind: str) -> str | None:
    """How a trace records nodes of ``kind`` (which panels can show them)."""
    decl = registry.get(kind)
    return None if decl is None else decl.trace
