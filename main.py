"""Sequence Playground: build sequence models on a canvas and watch them think.

    python main.py                 open the app on the default preset
    python main.py FILE            open an experiment file
    python main.py --help          everything else
"""

from __future__ import annotations

import sys

from playground import __version__


def main(argv: list[str] | None = None) -> int:
    import argparse

    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="sequence-playground",
        description="Build RNN, LSTM, GRU and attention models and step through them.")
    parser.add_argument("--version", action="version", version=f"Sequence Playground {__version__}")
    parser.add_argument("file", nargs="?", help="experiment file to open")
    parser.parse_args(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
