"""Sequence Playground: build sequence models on a canvas and watch them think.

    python main.py                 open the app on the default preset
    python main.py FILE            open an experiment file
    python main.py compare A B ... open two to four experiments side by side
    python main.py presets         list the bundled presets
    python main.py train FILE      train headless (see --help)
    python main.py trace FILE      write a trace to .npz
    python main.py generate FILE   continue a prompt (see --help)
    python main.py render FILE     draw a panel to PNG or SVG, no window (see --help)
    python main.py inspect F.py:FN --input X.pt   your own model in the window (--out: .npz)

PLAYGROUND_STARTUP_TIMES=1 prints when the window first painted and when it was
interactive (ui.app); PLAYGROUND_STARTUP_QUIT=1 quits then (bench.cold_start).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()   # the startup clock's fallback where /proc is not there

import difflib  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from playground import __version__  # noqa: E402  (imports no torch)

SUBCOMMANDS = ("presets", "train", "trace", "export", "generate", "inspect")
WINDOW_COMMANDS = ("compare",)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    first = argv[0] if argv else ""
    if first == "render":   # the window's panels, drawn offscreen (ui: not the Qt-free CLI)
        from ui.render import main as render_main

        return render_main(argv[1:])
    known = SUBCOMMANDS + WINDOW_COMMANDS
    mistyped = first and not first.startswith("-") and first not in known and (
        len(argv) > 1 or (difflib.get_close_matches(first, SUBCOMMANDS, n=1, cutoff=0.75)
                          and not os.path.exists(first)))
    if first == "compare":   # side by side: a window, so ui (playground.cli is Qt-free)
        from ui.compare import run as run_compare

        return run_compare(argv[1:], started=STARTED)
    if first == "inspect" and len(argv) > 1 and not any(
            a in ("-h", "--help", "--out", "--to-experiment")
            or a.startswith(("--out=", "--to-experiment=")) for a in argv[1:]):
        from ui.show import main_inspect  # the window on the model (playground.cli has none)

        return main_inspect(argv[1:])
    if first in SUBCOMMANDS or mistyped:   # (the command line names a mistyped command)
        from playground.cli import main as cli_main

        return cli_main(argv)
    import argparse

    parser = argparse.ArgumentParser(
        prog="sequence-playground",
        description="Build RNN, LSTM, GRU and attention models and step through them. "
                    f"Subcommands: {', '.join(SUBCOMMANDS)}, render, compare (each has --help).")
    parser.add_argument("--version", action="version", version=f"Sequence Playground {__version__}")
    parser.add_argument("file", nargs="?",
                        help="experiment file or preset name (default: the hello preset)")
    args = parser.parse_args(argv)
    path = None
    if args.file and os.path.isfile(args.file):   # as resolve() says, without its torch
        path = args.file
    elif args.file:
        from playground.errors import PlaygroundError
        from playground.files.experiment import resolve

        try:
            path = resolve(args.file)
            if not path.exists():
                raise FileNotFoundError(f"no such file: {args.file}")
        except (PlaygroundError, OSError) as exc:  # say it on the command line, open nothing
            print(f"sequence-playground: {exc}", file=sys.stderr)
            return 2
    from ui.app import run

    return run(str(path) if path else None, started=STARTED)


if __name__ == "__main__":
    sys.exit(main())
