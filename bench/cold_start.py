"""Cold start: how soon ``python main.py`` paints its window, and when it has drawn its first
trace, against ``python -c "import torch"``.

Starts ``python main.py`` (offscreen, ``PLAYGROUND_STARTUP_TIMES=1`` and
``PLAYGROUND_STARTUP_QUIT=1``, settings in a fresh folder) and ``python -c "import torch"``
in fresh processes, one after the other, ``--runs`` of each (default 5): this host's speed
drifts from minute to minute, so the two are interleaved and the medians compared. The app
reports its own times, since its process started (``ui.app``); the reference is the wall time
of the torch process, start to exit. Prints each run, then the medians in seconds; the last
line is ``cold start: first paint / import torch X, interactive / import torch Y`` (goals:
X <= 0.35, Y <= 1.5).

    python -m bench.cold_start [--runs N] [FILE]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^startup: (first paint|core loaded|interactive) ([0-9.]+) s$", re.M)


def import_torch() -> float:
    """Wall seconds of ``python -c "import torch"``."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True, timeout=120)
    return time.perf_counter() - t0


def app_start(file: str | None, config: str) -> dict[str, float]:
    """The times ``python main.py [FILE]`` reports (first paint, core loaded, interactive),
    and ``exit``: the wall seconds until its process ended."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PLAYGROUND_STARTUP_TIMES="1",
               PLAYGROUND_STARTUP_QUIT="1", XDG_CONFIG_HOME=config)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "main.py",
                             *([file] if file else [])], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:   # stuck: every thread's stack, then give up
        proc.send_signal(signal.SIGABRT)
        _, err = proc.communicate()
        raise RuntimeError(f"main.py did not quit within 120 s:\n{err[-6000:]}") from None
    wall = time.perf_counter() - t0
    times = {k: float(v) for k, v in LINE.findall(err)}
    if proc.returncode != 0 or "interactive" not in times:
        raise RuntimeError(f"main.py exited {proc.returncode} without 'interactive':\n"
                           f"{err[-3000:]}")
    times["exit"] = wall
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("file", nargs="?", help="experiment file to open (default: the default "
                                            "preset)")
    args = ap.parse_args(argv)
    torch_s, apps = [], []
    with tempfile.TemporaryDirectory() as config:
        import_torch()                      # both read from the page cache from here on
        app_start(args.file, config)
        for i in range(args.runs):
            torch_s.append(import_torch())
            apps.append(app_start(args.file, config))
            a = apps[-1]
            print(f"run {i + 1}: import torch {torch_s[-1]:.2f} s; app: first paint "
                  f"{a['first paint']:.2f} s, core loaded {a['core loaded']:.2f} s, "
                  f"interactive {a['interactive']:.2f} s, exit {a['exit']:.2f} s")
    med = {k: statistics.median(a[k] for a in apps) for k in apps[0]}
    t = statistics.median(torch_s)
    print(f"median import torch: {t:.2f} s")
    for k in ("first paint", "core loaded", "interactive", "exit"):
        print(f"median {k}: {med[k]:.2f} s")
    print(f"cold start: first paint / import torch {med['first paint'] / t:.2f}, "
          f"interactive / import torch {med['interactive'] / t:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
