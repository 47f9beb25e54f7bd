"""Does the window stay responsive while training, and does training keep its speed?

First trains a preset headless (the engine alone, in this thread) and measures steps per
second. Then opens the real main window offscreen on the same preset, starts training in
the worker thread with the panels following live, and runs a 10 ms QTimer in the GUI
thread. Reports the p99 gap between timer ticks (a tick late by more than a frame means
the window stutters) and the ratio of the worker's training speed to the headless one.
The reference is the engine as the command line runs it (one intra-op thread for a small
model, as in the worker thread); torch's default threads are reported beside it. The
last line is ``ui p99 gap ms: X, training ratio: Y`` (goals: X <= 20, Y >= 0.9).

    python -m bench.ui_responsiveness [--preset NAME] [--steps N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402


def headless_rate(preset: str, steps: int, warmup: int, threads: int | None = None) -> float:
    """Steps per second of the engine alone in this thread (``threads``: torch's intra-op
    threads, default as the command line leaves them)."""
    import torch

    from playground.files import experiment
    from playground.train import Trainer

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    exp = experiment.load(experiment.resolve(preset), weights=False)
    trainer = Trainer(exp.build_model(), exp.make_dataset(), exp.train, device="cpu")
    trainer.add_callback("on_step_end", lambda snap: None)  # as the command line uses it
    trainer.run(warmup)
    t0 = time.perf_counter()
    trainer.run(steps)
    rate = steps / (time.perf_counter() - t0)
    torch.set_num_threads(before)
    return rate


def window_run(preset: str, steps: int, warmup: int) -> tuple[np.ndarray, float, float]:
    from PySide6 import QtCore

    from playground.files import experiment
    from ui.app import make_app
    from ui.main_window import MainWindow

    app = make_app()
    settings = QtCore.QSettings(os.devnull, QtCore.QSettings.Format.IniFormat)
    win = MainWindow(settings)
    win.files.ask_unsaved = lambda: "discard"
    win.files.open_path(experiment.resolve(preset), as_copy=True, ask=False)
    win.resize(1600, 1000)
    win.show()
    app.processEvents()
    tp = win.training
    tp.device.setCurrentIndex(tp.device.findData("cpu"))
    loop = QtCore.QEventLoop()
    win.controller.training.finished.connect(loop.quit)
    tp.start(warmup)
    loop.exec()     # the window's own event loop, as app.exec() runs it
    ticks: list[float] = []
    timer = QtCore.QTimer()
    timer.setInterval(10)
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    start_step = win.controller.training.trainer.step
    timer.start()
    t0, cpu0 = time.perf_counter(), time.thread_time()
    tp.start(steps)
    loop.exec()
    elapsed = time.perf_counter() - t0
    gui_cpu = (time.thread_time() - cpu0) / elapsed
    timer.stop()
    done = win.controller.training.trainer.step - start_step
    win.shutdown()
    win.controller.dirty = False
    win.close()
    app.processEvents()
    gaps = np.diff(np.asarray(ticks)) * 1000.0
    return gaps, done / elapsed, gui_cpu


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="lstm_forget_gate")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=20)
    args = ap.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # The reference is the engine alone as the command line runs it (`main.py train`:
    # train.suggested_threads, one intra-op thread for a small model, the setting the
    # worker thread uses too), the mean of a run before and one after the window run (the
    # speed of this shared machine drifts). torch's default threads are shown for
    # information.
    from playground.files import experiment
    from playground.train import suggested_threads

    cli = suggested_threads(experiment.load(experiment.resolve(args.preset),
                                            weights=False).build_model())
    before = [headless_rate(args.preset, args.steps, args.warmup, t) for t in (cli, None)]
    gaps, rate, gui_cpu = window_run(args.preset, args.steps, args.warmup)
    after = [headless_rate(args.preset, args.steps, args.warmup, t) for t in (cli, None)]
    headless = (before[0] + after[0]) / 2
    default = (before[1] + after[1]) / 2
    print(f"headless steps/s as the command line trains ({cli} thread(s)): before "
          f"{before[0]:.1f}, after {after[0]:.1f}; with torch's default threads: before "
          f"{before[1]:.1f}, after {after[1]:.1f} (window / default-thread ratio "
          f"{rate / default:.2f})")
    p99 = float(np.percentile(gaps, 99)) if len(gaps) else float("nan")
    print(f"preset {args.preset}: headless {headless:.1f} steps/s, with the window "
          f"{rate:.1f} steps/s; {len(gaps) + 1} GUI ticks, gap median "
          f"{np.median(gaps):.1f} ms, p99 {p99:.1f} ms, max {gaps.max():.1f} ms; the GUI "
          f"thread busy {gui_cpu:.0%} of the time")
    print(f"ui p99 gap ms: {p99:.1f}, training ratio: {rate / headless:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
