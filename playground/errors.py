"""Typed errors of the core.

Every problem a user can cause names *where* it is (a node id and kind, or a
field path in a file) and *what* is wrong, so the UI and the command line can
show it as one clear line. Validation collects problems into a list instead of
stopping at the first, so a user sees all of them at once.
"""

from __future__ import annotations

import contextlib
import errno
from dataclasses import dataclass


class PlaygroundError(Exception):
    """Base class of every error the core raises on purpose (never a bug)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a model graph.

    ``node`` and ``kind`` locate it (``None`` for graph-wide problems such as a
    missing output head), ``port`` names the port when the problem is an edge.
    """

    code: str
    message: str
    node: str | None = None
    kind: str | None = None
    port: str | None = None
    edge: tuple[str, str, str] | None = None  # (src, dst, port) of a bad edge

    def __str__(self) -> str:
        where = ""
        if self.node is not None:
            where = f"node '{self.node}'"
            if self.kind:
                where += f" ({self.kind})"
            if self.port:
                where += f", port '{self.port}'"
            where += ": "
        return where + self.message


# The codes a Problem may carry; kept as constants so tests and the UI can match on them.
UNKNOWN_KIND = "unknown-kind"
MISSING_INPUT = "missing-input"
EXTRA_INPUT = "extra-input"
CYCLE = "cycle"
SHAPE_MISMATCH = "shape-mismatch"
HEADS_NOT_DIVIDING = "heads-not-dividing"
BAD_PARAMETER = "bad-parameter"
BAD_EDGE = "bad-edge"
NO_OUTPUT = "no-output"
DUPLICATE_ID = "duplicate-id"


class UnknownKind(Problem):
    """A node of a kind this program does not know."""


class MissingInput(Problem):
    """A required input port has no edge (or the model has no input node)."""


class ExtraInput(Problem):
    """An edge into a port that does not exist or is already taken."""


class CycleProblem(Problem):
    """The node is on a cycle; sequences must flow one way."""


class ShapeMismatch(Problem):
    """Sizes that do not fit (a state edge between layers of different size, ...)."""


class HeadsNotDividing(Problem):
    """Attention heads that do not divide the width of the input."""


class BadParameter(Problem):
    """A parameter value out of range or of the wrong type."""


class BadEdge(Problem):
    """An edge to an unknown node, or out of the output head."""


class NoOutput(Problem):
    """No (or more than one) linear output head."""


class DuplicateId(Problem):
    """Two nodes share an id."""


class Disconnected(Problem):
    """A node that does not reach the output head."""


DISCONNECTED = "disconnected"
_TYPES = {UNKNOWN_KIND: UnknownKind, MISSING_INPUT: MissingInput, EXTRA_INPUT: ExtraInput,
          CYCLE: CycleProblem, SHAPE_MISMATCH: ShapeMismatch, HEADS_NOT_DIVIDING: HeadsNotDividing,
          BAD_PARAMETER: BadParameter, BAD_EDGE: BadEdge, NO_OUTPUT: NoOutput,
          DUPLICATE_ID: DuplicateId, DISCONNECTED: Disconnected}


def problem(code: str, message: str, node: str | None = None, kind: str | None = None,
            port: str | None = None, edge: tuple[str, str, str] | None = None) -> Problem:
    """A typed :class:`Problem` for ``code`` (e.g. :class:`HeadsNotDividing`)."""
    return _TYPES.get(code, Problem)(code, message, node, kind, port, edge)


class GraphError(PlaygroundError):
    """A model graph has one or more problems; ``problems`` lists them all (the message
    names the first :data:`SHOWN`)."""

    SHOWN = 12

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = [str(p) for p in self.problems]
        head = f"{len(lines)} problem(s) in the model graph" if len(lines) > 1 else "model graph"
        joined = "; ".join(lines[:self.SHOWN]) if len(lines) > 1 else lines[0]
        if len(lines) > self.SHOWN:
            joined += f"; and {len(lines) - self.SHOWN} more"
        super().__init__(f"{head}: {joined}")


class SequenceError(PlaygroundError):
    """An input sequence cannot be used: empty, unknown symbol, NaN, wrong width..."""


class FileFormatError(PlaygroundError):
    """A file cannot be read; ``path`` is the field path in it (``graph.nodes[2].hidden_size``)."""

    def __init__(self, message: str, path: str = "", file: str | None = None):
        self.path = path
        self.file = file
        self.detail = message
        where = f"{file}: " if file else ""
        super().__init__(f"{where}{path}: {message}" if path else f"{where}{message}")


class TrainingError(PlaygroundError):
    """Training had to stop (NaN loss, exploding gradient, out of memory)."""


class FileAccessError(PlaygroundError, OSError):
    """A file could not be read or written for a reason outside its content: the disk is
    full, permission denied, not enough memory. ``file`` names it; ``errno`` is the
    system's code where there is one. It is an OSError too, so code that handled the
    system's error handles it unchanged."""

    def __init__(self, message: str, file: str | None = None, code: int | None = None):
        super().__init__(f"{file}: {message}" if file else message)
        self.file, self.detail, self.errno = file, message, code

    def __str__(self) -> str:
        return self.args[0]


_WHY = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
        errno.EACCES: "permission denied", errno.EPERM: "permission denied",
        errno.EROFS: "the folder is read-only", errno.ENOENT: "the file or its folder does "
        "not exist", errno.EISDIR: "it is a folder", errno.ENOTDIR: "a folder on its path "
        "is not a folder", errno.ENAMETOOLONG: "the name is too long"}


@contextlib.contextmanager
def file_boundary(file, doing: str, write: bool = True):
    """Turn what the system raises while ``doing`` something with ``file`` ("write it") into
    a :class:`FileAccessError` with one plain sentence: OSError by its errno, torch's
    failed write (a RuntimeError: the disk filled up mid-file; ``write`` false: reading),
    MemoryError. Typed errors
    (PlaygroundError) pass through as they are."""
    try:
        yield
    except PlaygroundError:
        raise
    except MemoryError:
        raise FileAccessError(f"cannot {doing}: not enough memory", str(file)) from None
    except OSError as e:
        why = _WHY.get(e.errno or 0, e.strerror or str(e) or type(e).__name__)
        err = FileAccessError(f"cannot {doing}: {why}", str(file), e.errno)
        err.strerror, err.filename, err.filename2 = e.strerror, e.filename, e.filename2
        raise err from None
    except (RuntimeError, OverflowError) as e:
        why = " ".join(str(e).split())[:160] or type(e).__name__
        full = "; the disk may be full" if write else ""
        raise FileAccessError(f"cannot {doing} ({why}){full}", str(file)) from None
