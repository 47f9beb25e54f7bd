"""Stop latency: from the Stop click to the training job not running, for every preset.

Opens each bundled preset in the real main window (offscreen), starts training, lets it run
for ``--run`` seconds, clicks Stop and spins the event loop until the job is no longer
running. The longest gap between two event-loop turns in that time is the window's worst
unresponsiveness (``gui`` column). For a few presets it also closes the window mid-training
and times the close. Prints a table, the median, and the last line
``stop latency worst s: X`` (goal X <= 0.5).

    python -m bench.stop_latency [--run 0.7] [--presets a,b] [--close N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def spin(app, seconds: float, until=None) -> float:
    """Run the event loop for ``seconds`` (or until ``until()``); the longest turn, in s."""
    worst, end = 0.0, time.perf_counter() + seconds
    last = time.perf_counter()
    while time.perf_counter() < end:
        app.processEvents()
        now = time.perf_counter()
        worst, last = max(worst, now - last), now
        if until is not None and until():
            break
        time.sleep(0.002)
    return worst


def one(name: str, run_s: float, close: bool) -> tuple[float, float, int]:
    """(seconds from Stop, or from close, to not running; worst GUI turn; steps trained)."""
    from PySide6 import QtWidgets

    from playground.files.experiment import PRESETS_DIR
    from ui.testing import close_window, make_window

    app = QtWidgets.QApplication.instance()
    with tempfile.TemporaryDirectory() as tmp:
        win = make_window(Path(tmp), str(PRESETS_DIR / f"{name}.json"))
        spin(app, 0.3)
        job = win.controller.training
        if not win.training.start(1_000_000):
            close_window(win)
            raise RuntimeError(f"{name}: training did not start ({win.errors})")
        spin(app, run_s)
        t0 = time.perf_counter()
        if close:
            close_window(win)
            dt = time.perf_counter() - t0
            gui = dt
        else:
            win.training.stop_btn.click()
            gui = spin(app, 30.0, until=lambda: not job.running)
            dt = time.perf_counter() - t0
        steps = job.trainer.step if job.trainer is not None else 0
        if not close:
            close_window(win)
        spin(app, 0.05)
    return dt, gui, steps


def main(argv=None) -> None:
    from playground.files.experiment import preset_names
    from ui.app import make_app

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=float, default=0.7, help="seconds of training before Stop")
    ap.add_argument("--presets", default="", help="comma-separated names (default: all)")
    ap.add_argument("--close", type=int, default=4, help="presets also closed mid-training")
    args = ap.parse_args(argv)
    make_app()
    names = [n for n in args.presets.split(",") if n] or preset_names()
    print(f"{'preset':28s} {'stop s':>7s} {'gui s':>7s} {'steps':>7s}")
    stops, closes = [], []
    for name in names:
        dt, gui, steps = one(name, args.run, close=False)
        stops.append(dt)
        print(f"{name:28s} {dt:7.3f} {gui:7.3f} {steps:7d}", flush=True)
    for name in names[:args.close]:
        dt, _, steps = one(name, args.run, close=True)
        closes.append(dt)
        print(f"{name + ' (close)':28s} {dt:7.3f} {'':7s} {steps:7d}", flush=True)
    print(f"close latency worst s: {max(closes):.3f}" if closes else "close: none")
    print(f"stop latency median s: {statistics.median(stops):.3f}")
    print(f"stop latency worst s: {max(stops + closes):.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
