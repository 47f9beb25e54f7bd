"""Traces: everything a user steps through, exact to PyTorch, as numpy arrays.

Owns the entry point :func:`~.tracer.trace` and its records (:mod:`.records`); the three
paths a recurrent layer-direction can take, with one :class:`~.runs.Run` record
(:mod:`.runs`): PyTorch's fused kernel (:mod:`.fused`), the compiled LSTM
backpropagation through time (:mod:`.compiled`) and the step-by-step unroll
(:mod:`.stepwise`); gate and gradient recovery after a fused run (:mod:`.gates`); the
elementwise time scans and the compiled BPTT kernel (:mod:`.scan`); interventions
(:mod:`.interventions`); and the analysis of why gradients vanish (:mod:`.analysis`).

May import: :mod:`playground.errors` and :mod:`playground.model`. Never ``data``,
``train`` or ``files``: a trace takes tensors, not datasets.
"""

from .interventions import Intervention, check_interventions
from .records import AttentionTrace, OutputTrace, RecurrentTrace, Trace
from .tracer import trace

__all__ = ["trace", "Trace", "RecurrentTrace", "AttentionTrace", "OutputTrace",
           "Intervention", "check_interventions"]
