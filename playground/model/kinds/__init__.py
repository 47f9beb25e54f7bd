"""The built-in layer kinds, each declared once (see :mod:`playground.model.registry`).

Importing this package registers them, in palette order: sequence input, RNN, LSTM, GRU,
self-attention, cross-attention, transformer block, linear head. The declarations import
no torch; each kind's ``build`` loads its module from :mod:`playground.model.layers` when
a model is built.
"""

from . import input, recurrent, attention, linear  # noqa: F401,I001  (registration order)
