"""The entry point: --version and --help answer without opening a window."""

import subprocess
import sys
from pathlib import Path

from playground import __version__

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"Sequence Playground {__version__}"


def test_help_lists_subcommands():
    out = run("--help")
    assert out.returncode == 0
    for word in ("presets", "train", "trace", "export"):
        assert word in out.stdout
    assert "Traceback" not in out.stderr
