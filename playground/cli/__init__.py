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
import sys

from .common import (
    EXIT_ERROR,
    EXIT_USAGE,
    LIMITS,
    Parser,
    UsageError,
    check_limits,
    error,
    run_command,
)
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

    def run() -> int:
        args = _parser().parse_args(argv)
        check_limits(args)
        module = importlib.import_module(f"{__name__}.{MODULES[args.command]}")
        return getattr(module, f"cmd_{args.command}")(args)

    return run_command(run, argv[0] if argv else "main.py")
