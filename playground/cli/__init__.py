"""The command line: ``python main.py presets | train | trace | generate | export``.

For scripting, preparing a class and CI. ``train`` shows a progress line on stderr and
prints the final metrics as one JSON object on the last line of stdout. Any problem with a
file or an argument is one line on stderr and a non-zero exit status, never a traceback.
``FILE`` is an experiment file or the name of a bundled preset (``hello_rnn``).

Each command lives in a module of this package with ``add_arguments(subparsers)`` and a
``cmd_<name>(args) -> int`` per command; :data:`MODULES` lists them. A new command is a new
module and one entry there.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys

from ..errors import PlaygroundError
from .common import EXIT_ERROR, EXIT_USAGE, LIMITS, Parser, UsageError, check_limits, error
from .running import flatten_trace

# command -> the module of this package that defines it
MODULES = {"presets": "training", "train": "training", "trace": "running",
           "generate": "running", "export": "running", "inspect": "inspecting"}

__all__ = ["main", "flatten_trace", "UsageError", "EXIT_ERROR", "EXIT_USAGE", "LIMITS"]


def _parser() -> Parser:
    p = Parser(prog="main.py", description="Sequence Playground without the window.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in dict.fromkeys(MODULES.values()):       # each module once, in order
        importlib.import_module(f"{__name__}.{module}").add_arguments(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    commands = tuple(MODULES)
    if argv and not argv[0].startswith("-") and argv[0] not in commands:
        close = difflib.get_close_matches(argv[0], commands, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        error(f"unknown command {argv[0]!r}{hint} (commands: {', '.join(commands)})")
        return EXIT_USAGE
    try:
        args = _parser().parse_args(argv)
        check_limits(args)
        module = importlib.import_module(f"{__name__}.{MODULES[args.command]}")
        return getattr(module, f"cmd_{args.command}")(args)
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
        error(f"out of memory while running {argv[0]}: use a smaller model, batch or "
              "sequence" if oom else f"internal error ({type(e).__name__}): {e}")
        return EXIT_ERROR
