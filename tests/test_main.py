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


def test_unknown_file_or_word_fails_without_opening_a_window():
    out = run("frobnicate")
    assert out.returncode == 2
    assert "no file or preset named 'frobnicate'" in out.stderr
    out = run("missing/experiment.json")
    assert out.returncode == 2 and "no such file" in out.stderr
    assert "Traceback" not in out.stderr
