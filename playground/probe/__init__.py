"""Traces of a user's own ``torch.nn.Module``: :func:`~.inspector.inspect`.

Every ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` inside the model runs, for one forward pass,
through this project's exact recurrent function (:mod:`playground.tracing.recurrent`), and
cells and attention are recorded as they run (:mod:`.patching`, :mod:`.recurrent`,
:mod:`.cells`); the records are the classes of :mod:`playground.tracing.records`
(:mod:`.assemble`), so every panel can show them. The package is ``probe`` because
``playground.inspect`` is the public function.

May import: the base, :mod:`playground.model` and :mod:`playground.tracing`.
"""

from .inspector import inspect

__all__ = ["inspect"]
