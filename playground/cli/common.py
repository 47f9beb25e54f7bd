"""What every command shares: exit codes, argument limits, one-line errors, loading a file."""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import os
import re
import sys
from pathlib import Path

from ..errors import PlaygroundError

EXIT_ERROR, EXIT_USAGE = 1, 2
# flag -> (lowest, highest): steps beyond 10^7 would run for days; seeds as in the files.
# A command module adds its own numeric flags here.
LIMITS = {"steps": (0, 10**7), "warmup": (0, 10**7), "step_every": (1, 10**7),
          "seed": (0, 2**32 - 1), "threads": (1, max(256, os.cpu_count() or 1)),
          "length": (0, 10**4), "beam": (1, 100), "top_k": (1, 10**6), "temperature": (0, 1000)}


class UsageError(Exception):
    """A bad command-line argument."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors, and negative numbers as values: ``--lr -inf`` and
    ``--forget-bias -1e-3`` give the number (argparse alone takes ``-inf`` for a flag)."""

    NEGATIVE = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$",
                          re.IGNORECASE)

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._negative_number_matcher = self.NEGATIVE

    def error(self, message):  # argparse would print usage and exit; we want one line
        raise UsageError(f"{self.prog}: {message}")


def error(message: str) -> None:
    print("error: " + " ".join(str(message).split()), file=sys.stderr)


def run_command(command, name: str) -> int:
    """``command()``'s exit status, any problem as one line on stderr: a usage error (2), a
    PlaygroundError (1), an interrupt (130), running out of memory, or a bug (1, with its
    type; ``PLAYGROUND_DEBUG=1`` raises it). ``name``: the command, for those lines."""
    try:
        return command()
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except (UsageError, PlaygroundError) as e:
        error(str(e))
        return EXIT_USAGE if isinstance(e, UsageError) else EXIT_ERROR
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except Exception as e:  # a bug: still one line, with its type to report it
        if os.environ.get("PLAYGROUND_DEBUG"):
            raise
        oom = isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError"
        error(f"out of memory while running {name}: use a smaller model, batch or sequence"
              if oom else f"internal error ({type(e).__name__}): {e}")
        return EXIT_ERROR


def check_limits(args) -> None:
    """A numeric flag out of range (NaN too) is a UsageError naming the flag."""
    for name, (low, high) in LIMITS.items():
        v = getattr(args, name, None)
        if v is not None and not low <= v <= high:
            bound = f">= {low:,}" if not v > low else f"<= {high:,}"
            raise UsageError(f"--{name.replace('_', '-')} must be {bound}, got {v}")


_WHY = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
        errno.EISDIR: "{f} is a folder", errno.EEXIST: "{f} is not a folder",
        errno.EACCES: "permission denied in the folder {d}", errno.ENOTDIR: "{d} is not a folder",
        errno.EROFS: "the folder {d} is read-only", errno.ENOENT: "the folder {d} does not exist"}


@contextlib.contextmanager
def writing(flag: str, target, fix: str):
    """A failed write of ``target`` as one sentence naming ``flag``, why and what to do."""
    try:
        yield
    except (OSError, RuntimeError) as e:    # torch.save: RuntimeError for a failed write
        if not isinstance(e, OSError) and "inline_container" not in str(e):
            raise
        code, name = getattr(e, "errno", None), getattr(e, "filename", None) or target
        name = Path(getattr(e, "filename2", None) or name)     # os.replace's destination
        why = _WHY.get(code, getattr(e, "strerror", None) or "the write failed (disk full?)")
        fix = "free some space" if code in (errno.ENOSPC, errno.EDQUOT, None) else fix
        raise PlaygroundError(f"{flag}: cannot write {target}: "
                              f"{why.format(f=name, d=name.parent)}; {fix}") from None


def load(name: str, weights: bool = True):
    """The experiment ``name`` names and its path: a file of that name here when there is one
    (what ``train NAME --save`` wrote), else the bundled preset."""
    from ..files import access, experiment, trained

    here = Path(f"{name}.json")
    path = here if Path(name).suffix == "" and len(Path(name).parts) == 1 and here.exists() \
        else experiment.resolve(name)
    outside = access.outside_data_files(path)
    if outside and os.environ.get("PLAYGROUND_READ_OUTSIDE") != "1":   # no one to ask here
        raise PlaygroundError(f"{path} reads its data from {outside[0]}, outside its own folder"
                              "; if you trust it, run again with PLAYGROUND_READ_OUTSIDE=1")
    exp = experiment.load(path, weights=weights)
    if broken := trained.nonfinite_weights(exp.weights):
        print(f"warning: {path}: {broken}", file=sys.stderr)
    return exp, path


def num(v):
    """A number for JSON output: None for a missing or non-finite value."""
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v
