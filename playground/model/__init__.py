"""The model: what a graph of layers is, whether it is valid, and the torch module it builds.

Owns the layer-kind registry (:mod:`.registry`) and the built-in kinds (:mod:`.kinds`),
the graph spec and its file form (:mod:`.spec`), validation and shape inference
(:mod:`.validate`), the editable graph with events and carrying weights over an edit
(:mod:`.editing`), the torch modules (:mod:`.layers`) and :func:`~.build.build` with its
one graph walk (:mod:`.build`), input checks (:mod:`.inputs`) and the losses a head implies
(:mod:`.losses`).

May import: :mod:`playground.errors`, :mod:`playground.events`, :mod:`playground.schema`.
Nothing above it (data, trace, train, files). Reading, validating and editing a graph
imports no torch; building does.
"""

from . import kinds  # noqa: F401  (registers the built-in layer kinds)
