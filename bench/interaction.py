"""Interaction latency: from a user's action to the panels painted with its trace.

Opens the real main window (1600 x 1000, default layout, offscreen) and measures, per
case, from the action to the panels painted with the new trace, beside the bare core call
that computes the same trace, measured in the same process and interleaved with the
window's repetitions (this host's speed drifts):

* **type, hello**: one key typed into the sequence box of the hello preset (the text is
  typed a key at a time, ``hellohello...``, and starts again when it is complete);
* **type, LSTM / GRU H=256 T=1000** (a character model on a 1000-step random text): a key
  typed at the end of the text, then Backspace, alternately (1001 and 1000 steps);
* **what-if, LSTM / GRU**: the What-if dock's *Apply* with a clamp of ``f`` (LSTM) or ``z``
  (GRU) to 0 at step T/2 for one step; *Restore* between repetitions (not timed);
* **open a preset**: File > open of a preset file, two presets alternately.

What is counted: the clock starts just before the key (``QTest.keyClick`` on the line
edit) or the button click (``click()``, or ``FileActions.open_path`` for a preset) and
stops when the event loop, run as ``app.exec`` runs it (waiting for events), has delivered
``traceChanged`` (``opened`` for a preset) and then a paint of the hidden-state panel's
view, and the call that delivered it has returned: Qt paints every changed widget of
the window in that one pass, synchronously offscreen. A trace that runs in the
background is counted until its result is painted.

The bare reference is the call the controller makes, on the same model and input, with
the torch threads it uses (``ui.tracejob.trace_threads``: one below a million parameters):
``trace(model, inputs, targets, mask, interventions=..., base=last trace)`` with ``base``
where the core takes it (the window hands the core its last trace too: a what-if
recomputes only what follows the clamp, an edit what follows the change), and for a preset
loading the file, building the model and the data and tracing the example. The app's
overhead is the latency minus that bare call. Prints the median and p95 in ms of each; the
last line is ``interaction: type overhead ms X, what-if overhead ms Y, hello type ms Z``
(X, Y: the worst median overhead of the H=256, T=1000 cases; Z: the median latency of
typing on hello; goals: each <= 16).

    python -m bench.interaction [--reps N] [--steps T] [--hidden H]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

HELLO = "hellohellohello"        # its vocabulary: h, e, l, o


class Painted:
    """Counts ``traceChanged`` (or ``opened``) and the paints of one view after it."""

    def __init__(self, app, win):
        from PySide6 import QtCore

        self.app, self.win = app, win
        self.traced = self.painted = 0
        self.background = 0
        c = win.controller
        c.traceChanged.connect(self._traced)
        c.opened.connect(self._traced)
        c.traceBusy.connect(lambda on: on and self._busy())
        c.inputError.connect(self._error)
        self.error = ""
        self.view = None

        class Filter(QtCore.QObject):
            def eventFilter(inner, obj, ev):  # noqa: N805
                if ev.type() == QtCore.QEvent.Type.Paint and self.traced:
                    self.painted += 1
                return False

        self.filter = Filter()
        # a timer wakes the waiting loop now and then, whatever happens
        self.tick = QtCore.QTimer()
        self.tick.setInterval(20)
        self.tick.timeout.connect(lambda: None)

    def _error(self, message: str) -> None:
        self.error = message

    def _busy(self) -> None:
        self.background += 1

    def _traced(self) -> None:
        self.traced += 1

    def watch(self) -> None:
        """Watch the hidden-state panel's view (made anew with each window)."""
        view = self.win.panels["h"].layout_widget.viewport()
        if view is not self.view:
            if self.view is not None:
                self.view.removeEventFilter(self.filter)
            view.installEventFilter(self.filter)
            self.view = view

    def measure(self, action) -> float:
        """ms from ``action()`` to its trace painted."""
        from PySide6 import QtCore

        self.watch()
        self.app.sendPostedEvents()
        self.app.processEvents()                # nothing left over from the last one
        self.traced = self.painted = 0
        wait = QtCore.QEventLoop.ProcessEventsFlag.WaitForMoreEvents
        self.tick.start()
        t0 = time.perf_counter()
        action()
        while not (self.traced and self.painted):
            self.app.processEvents(wait)
            if self.error:
                raise RuntimeError(f"the action was refused: {self.error}")
        ms = (time.perf_counter() - t0) * 1000.0
        self.tick.stop()
        return ms


def summary(xs) -> str:
    a = np.asarray(xs)
    return f"median {np.median(a):6.1f}, p95 {np.percentile(a, 95):6.1f}"


def bare_trace(model, batch, base=None, ivs=(), tbptt=None):
    """The controller's call, with the torch threads it uses, timed: (ms, trace)."""
    import inspect

    import torch

    from playground.data import bind_inputs
    from playground.tracing import trace
    from ui.tracejob import trace_threads

    kw = {"base": base} if base is not None and "base" in \
        inspect.signature(trace).parameters else {}
    has_loss = batch.mask is not None and float(np.sum(batch.mask)) > 0
    before = torch.get_num_threads()
    torch.set_num_threads(trace_threads(model, before))
    try:
        t0 = time.perf_counter()
        inputs = bind_inputs(model, batch)
        tr = trace(model, inputs, batch.targets if has_loss else None,
                   batch.mask if has_loss else None, tbptt=tbptt, interventions=ivs, **kw)
        ms = (time.perf_counter() - t0) * 1000.0
    finally:
        torch.set_num_threads(before)
    return ms, tr


def window():
    from PySide6 import QtCore

    from ui.app import freeze_startup_heap, make_app
    from ui.main_window import MainWindow

    app = make_app()
    freeze_startup_heap()        # as ui.app.run does before it opens the window
    settings = QtCore.QSettings(os.devnull, QtCore.QSettings.Format.IniFormat)
    win = MainWindow(settings)
    win.files.ask_unsaved = lambda: "discard"
    win.resize(1600, 1000)
    win.show()
    app.processEvents()
    return app, win


def type_case(app, win, probe, reps: int, keys) -> dict:
    """Each repetition: the next key of ``keys(i)`` typed; bare trace of the new text."""
    from PySide6.QtTest import QTest

    c = win.controller
    edit = win.seq_input.edit
    edit.setFocus()
    edit.end(False)
    base = bare_trace(c.model, c.batch)[1]
    app_ms, bare_ms = [], []
    for i in range(reps + 3):
        key = keys(i)
        ms = probe.measure(lambda k=key: QTest.keyClick(edit, k))
        b_ms, base = bare_trace(c.model, c.dataset.encode_input(edit.text()), base,
                                tbptt=getattr(c.train_config, "tbptt", None))
        if i >= 3:                                   # three to warm up
            app_ms.append(ms)
            bare_ms.append(b_ms)
    return {"app": app_ms, "bare": bare_ms}


def hello_keys(edit):
    def key(i):
        if len(edit.text()) >= len(HELLO):
            edit.setText("")                          # start again (traced with the key)
        return HELLO[len(edit.text())]
    return key


def end_keys(i):
    from PySide6 import QtCore

    return "a" if i % 2 == 0 else QtCore.Qt.Key.Key_Backspace


def whatif_case(app, win, probe, reps: int, target: str) -> dict:
    c = win.controller
    w = win.whatif
    T = win.timeline.n_steps
    win.timeline.step = T // 2
    w.target.setCurrentIndex(w.target.findData(target))
    w.value.setValue(0.0)
    w.span.setCurrentIndex(w.span.findData(1))
    iv = w.intervention()
    plain = bare_trace(c.model, c.batch)[1]
    app_ms, bare_ms = [], []
    for i in range(reps + 2):
        ms = probe.measure(w.apply_btn.click)
        assert c.interventions, "the what-if was not applied"
        b_ms, _ = bare_trace(c.model, c.batch, plain, [iv],
                             tbptt=getattr(c.train_config, "tbptt", None))
        w.restore_btn.click()
        app.processEvents()
        if i >= 2:
            app_ms.append(ms)
            bare_ms.append(b_ms)
    return {"app": app_ms, "bare": bare_ms}


def open_case(app, win, probe, reps: int, presets) -> dict:
    from playground.files import experiment as X

    app_ms, bare_ms = [], []
    for i in range(reps + 2):
        path = X.resolve(presets[i % len(presets)])
        ms = probe.measure(lambda p=path: win.files.open_path(p, as_copy=True, ask=False))
        t0 = time.perf_counter()
        exp = X.load(path)
        model, ds = exp.build_model(), exp.make_dataset()
        bare_trace(model, ds.example(), tbptt=getattr(exp.train, "tbptt", None))
        b_ms = (time.perf_counter() - t0) * 1000.0
        if i >= 2:
            app_ms.append(ms)
            bare_ms.append(b_ms)
    return {"app": app_ms, "bare": bare_ms}


def load_big(win, kind: str, H: int, T: int) -> None:
    from playground.data import suggest_head, suggest_input
    from playground.data.sources import TextDataset
    from playground.model.build import build
    from playground.model.spec import chain

    rng = np.random.default_rng(0)
    text = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz "), size=int(T * 1.2) + 10))
    ds = TextDataset(text, window=T, validation=0.0, name="random text")
    graph = chain(("x", "input", suggest_input(ds)), (kind, kind, {"hidden_size": H}),
                  ("head", "linear", suggest_head(ds)))
    win.controller.load(graph, build(graph, seed=0), ds, name=f"bench {kind} H={H} T={T}")
    win.timeline.step = 0


def report(name: str, r: dict, probe_bg: int) -> float:
    over = np.asarray(r["app"]) - np.asarray(r["bare"])
    print(f"{name:<28} app {summary(r['app'])} | bare core {summary(r['bare'])} | "
          f"overhead {summary(over)} ms" + (f"  ({probe_bg} in the background)"
                                            if probe_bg else ""))
    return float(np.median(over))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--hidden", type=int, default=256)
    args = ap.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import torch

    from playground.files import experiment as X
    from playground.tracing import compiled

    app, win = window()
    compiled.warm_up(block=True)        # steady state: the kernels compiled (or loaded)
    probe = Painted(app, win)
    H, T, n = args.hidden, args.steps, args.reps
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cores; {n} repetitions per case; window "
          f"{win.width()} x {win.height()}, panels on screen: "
          + ", ".join(k for k, p in win.panels.items() if p.isVisible()
                      and p.mapTo(win, p.rect().topLeft()).x() >= 0))

    assert win.files.open_path(X.resolve("hello_rnn"), as_copy=True, ask=False)
    win.seq_input.edit.setText("")
    probe.background = 0
    hello = type_case(app, win, probe, n, hello_keys(win.seq_input.edit))
    report("type, hello", hello, probe.background)
    typed, whatif = [], []
    for kind, target in (("lstm", "f"), ("gru", "z")):
        load_big(win, kind, H, T)
        label = f"{kind.upper()} H={H} T={T}"
        probe.background = 0
        typed.append(report(f"type, {label}", type_case(app, win, probe, n, end_keys),
                            probe.background))
        probe.background = 0
        whatif.append(report(f"what-if {target}=0 at T/2, {label}",
                             whatif_case(app, win, probe, n, target), probe.background))
    probe.background = 0
    report("open a preset", open_case(app, win, probe, max(n // 2, 4),
                                      ("lstm_forget_gate", "gru_sine")), probe.background)
    win.shutdown()
    win.controller.dirty = False
    win.close()
    app.processEvents()
    print(f"interaction: type overhead ms {max(typed):.1f}, what-if overhead ms "
          f"{max(whatif):.1f}, hello type ms {float(np.median(hello['app'])):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
