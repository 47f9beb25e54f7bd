"""The one registry of layer kinds.

A :class:`LayerKind` declares everything about one kind of node, once: its parameters (with
ranges), its input ports and outputs, how wide its output is (shape inference), any extra
checks, how it builds into a ``torch.nn.Module``, how a trace records it, how it is written
out as plain PyTorch, and how the canvas labels it. Validation, building, tracing,
generation, export and the canvas's palette and property editor all read this registry;
none of them compares a kind's name against a string.

The built-in kinds are declared in :mod:`playground.model.kinds`. A new kind is one
:func:`register` call (docs/ARCHITECTURE.md walks through an example).

Every built module follows one calling convention, so one graph walk
(:meth:`playground.model.build.SequenceModel.run`) serves all of them: it is called with the
values of its input ports in the order :attr:`LayerKind.inputs` lists them (``None`` for an
optional port with no edge), and returns its output sequence ``(B, T, width)``, or
``(sequence, final state)`` when the kind has a ``state`` output. An ``input`` kind is
called with the token ids or values of its role instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..schema import Param

ROLES = ("input", "layer", "head")
# How a trace records a node (see playground.tracing.tracer):
#   recurrent: every gate, state and per-step gradient (the module has ``.rnn``);
#   attention: per-head Q, K, V and weights (the module has ``with_weights(*inputs)``);
#   output:    its output sequence and the gradient the loss sends to it;
#   none:      nothing of its own (input encodings, the output head: the trace has those).
TRACE_STYLES = ("recurrent", "attention", "output", "none")
OUTPUTS = ("seq", "state")


@dataclass(frozen=True)
class Port:
    """An input port: whether it needs an edge, and which output of the source feeds it
    (``takes``: ``seq``, the source's output sequence, or ``state``, its final state)."""

    name: str
    required: bool = True
    takes: str = "seq"
    what: str = ""     # how a message names what it carries ("the initial state")
    source: str = ""   # what must feed it, for messages ("a recurrent layer")


@dataclass(frozen=True)
class ExportCode:
    """How a kind is written out as plain PyTorch (:mod:`playground.files.export`).

    ``constructor(params, widths)`` is the expression that builds the module, given the
    widths of the input ports; ``library`` the helper sources it needs, as
    ``(name, source)`` pairs (a name shared by several kinds is written once), or a function
    of the parameters that returns them. The exported module follows the same calling
    convention as the built one."""

    constructor: Callable[[dict[str, Any], dict[str, int]], str]
    library: (tuple[tuple[str, str], ...]
              | Callable[[dict[str, Any]], tuple[tuple[str, str], ...]]) = ()

    def helpers(self, params: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        return self.library(params) if callable(self.library) else self.library


@dataclass(frozen=True, eq=False)
class LayerKind:
    """One kind of node. See the module docstring for the calling convention of ``build``.
    Nothing here imports torch: ``build`` imports its module when a model is built, so the
    canvas can read every kind before torch is loaded.

    * ``width(params, seq_width)``: the width of the output sequence (``seq_width`` is
      ``None`` for an input kind).
    * ``check(node, widths, sources)``: extra problems as ``(code, message, port)``, given
      the widths and source nodes by port (each port's source kind in ``sources``).
    * ``param_count(params, widths)``: trainable parameters, or None when unknown.
    * ``window(node, ports)``: why the kind cannot run a window of steps at a time with
      its state carried over, or None; ``None`` for the field means it never can (it
      looks at the whole sequence at once).
    """

    name: str
    label: str
    description: str
    params: tuple[Param, ...]
    build: Callable[[Any, dict[str, int]], Any]   # (node spec, widths) -> torch.nn.Module
    width: Callable[[dict[str, Any], int | None], int | None]
    export: ExportCode
    inputs: tuple[Port, ...] = (Port("seq"),)
    outputs: tuple[str, ...] = ("seq",)
    role: str = "layer"
    trace: str = "output"
    id_prefix: str = ""
    color: str = "#6b6b6b"
    check: Callable[..., list[tuple[str, str, str | None]]] | None = None
    param_count: Callable[[dict[str, Any], dict[str, int]], int | None] | None = None
    summary: Callable[[dict[str, Any]], str] | None = None
    window: Callable[[Any, dict[str, str]], str | None] | None = None
    state_shape: Callable[[dict[str, Any]], str] | None = None
    cell: str = ""                    # recurrent kinds: the cell's equations ("lstm", ...)
    gates: tuple[str, ...] = ()       # recurrent kinds: gate letters, in weight order
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"kind {self.name!r}: role must be one of {ROLES}")
        if self.trace not in TRACE_STYLES:
            raise ValueError(f"kind {self.name!r}: trace must be one of {TRACE_STYLES}")
        if any(o not in OUTPUTS for o in self.outputs):
            raise ValueError(f"kind {self.name!r}: outputs must be among {OUTPUTS}")
        if self.role == "input" and self.inputs:
            raise ValueError(f"kind {self.name!r}: an input kind takes no input ports")

    # -- reading the declaration -----------------------------------------------------------
    def port(self, name: str) -> Port | None:
        return next((p for p in self.inputs if p.name == name), None)

    @property
    def port_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.inputs)

    @property
    def prefix(self) -> str:
        return self.id_prefix or self.name

    def defaults(self) -> dict[str, Any]:
        """Every parameter at its default value."""
        return {p.name: p.default for p in self.params}

    def schema(self) -> dict[str, Param]:
        return {p.name: p for p in self.params}

    def __repr__(self) -> str:
        return f"<LayerKind {self.name}>"


_KINDS: dict[str, LayerKind] = {}


def register(kind: LayerKind, replace: bool = False) -> LayerKind:
    """Add ``kind`` to the registry (a second kind of the same name needs ``replace``)."""
    if kind.name in _KINDS and not replace:
        raise ValueError(f"a layer kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (tests that register toy kinds clean up with this)."""
    _KINDS.pop(name, None)


def get(name: str) -> LayerKind | None:
    """The kind called ``name``, or None when no kind has that name."""
    return _KINDS.get(name)


def kind_of(name: str) -> LayerKind:
    """The kind called ``name``; ``KeyError`` naming the known kinds otherwise."""
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(f"unknown layer kind {name!r}; expected one of "
                       f"{', '.join(_KINDS)}") from None


def names() -> tuple[str, ...]:
    """Every registered kind's name, in registration order (the palette's order)."""
    return tuple(_KINDS)


def kinds() -> tuple[LayerKind, ...]:
    return tuple(_KINDS.values())


def label(name: str) -> str:
    """The canvas label of a kind, or the name itself for an unknown kind."""
    k = _KINDS.get(name)
    return k.label if k is not None else name
