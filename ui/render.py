"""``python main.py render FILE --panel NAME --out fig.png|svg``: a panel, or the whole
window, drawn without showing a window (figures for slides and papers).

The figure is the window's own: the real :class:`~ui.main_window.MainWindow` is built on
Qt's offscreen platform (unless the user chose a platform), with settings in a temporary
file (the default layout; the user's saved layout and recent files are left alone). It
opens FILE through the controller, types ``--input`` as the sequence box would, waits for
the trace (it may run in the background), moves to ``--step`` and raises the panel's dock,
then waits for what the panel computes in the background (:func:`_settle`: the Jacobian
analysis, the connectivity, the validation sequences Trajectory and Neuron search draw;
Neuron search then runs its default query, as its Search button does). No wait is longer
than ``--timeout``. A Gradient horizon with nothing recorded is drawn as the panel shows it
(its "Train the model" message), with a note on stderr.
PNG is drawn at ``--scale`` times the size on screen (not magnified); SVG through Qt's SVG
painter (curves and bars as paths, heatmaps as embedded images), as the panels' own Export
menu writes them.

:data:`PANELS` is the registry: the name on the command line, the window's dock, what it
shows and what the model needs for it. Problems are one ``error: ...`` line and exit status
1 (2 for a bad argument, and for a wait past ``--timeout``), as in :mod:`playground.cli`.

``--compare FILE2 ...`` (or a comparison file as FILE) draws a comparison as
:mod:`ui.compare` shows it in the window: ``window``, ``compare`` (the overlaid
||dL/dh_t|| and loss curves) or a panel of the columns (every member's, side by side). A
comparison that cannot be made (a member not found or unreadable, members that cannot
share one input, a panel compare mode has not) is a bad argument: exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from playground.cli.common import Parser, UsageError, run_command, writing
from playground.errors import PlaygroundError

WAIT_S = 120.0          # the longest a trace or a panel's background job is waited for
                        # (--timeout)


@dataclass(frozen=True)
class RenderPanel:
    """One ``--panel`` choice: ``dock`` (a key of :data:`ui.main_window.DOCKS`, None for
    the whole window), a line for ``--help`` and ``needs``: what the selected layers must
    have (``recurrent``, ``lstm``, ``gated``, ``attention`` or ``""``)."""

    name: str
    dock: str | None
    description: str
    needs: str = ""
    column: str | None = None     # with --compare: a kind of ui.compare.KINDS, or
    single: bool = True           # "overlay" / "window"; single: drawn for one experiment


PANELS = (
    RenderPanel("hidden", "h", "hidden state h: units x time, and h_t at the step",
                "recurrent", "h"),
    RenderPanel("cell", "c", "cell state c of an LSTM: units x time, and c_t", "lstm", "c"),
    RenderPanel("gates", "gates", "every gate of an LSTM (i f g o) or GRU (r z n) over time",
                "gated", "gates"),
    RenderPanel("gradient", "gradient", "||dL/dh_t|| on a log scale and dL/dh (BPTT)",
                "recurrent", "gradient"),
    RenderPanel("jacobian", "jacobian", "||dh_t/dh_(t-1)|| per step, singular values of W_hh",
                "recurrent"),
    RenderPanel("attention", "attention", "attention weights per head (query x key)",
                "attention"),
    RenderPanel("input", "input", "the input x_t over time"),
    RenderPanel("output", "output", "the top predictions at the step (or values over time)",
                column="output"),
    RenderPanel("loss", "loss", "the loss at every step"),
    RenderPanel("equation", "equation", "the update equations of unit 0 with the step's numbers",
                "recurrent"),
    RenderPanel("trajectory", "trajectory", "h_t in its top two principal components, coloured "
                "by t, the step marked", "recurrent"),
    RenderPanel("connectivity", "connectivity", "||dy_t/dx_s|| of each output step t on each input "
                "step s, the step's row"),
    RenderPanel("neurons", "neurons", "the units with h > 0.5 over steps t..t+2 and where "
                "else they are all on", "recurrent"),
    RenderPanel("horizon", "horizon", "||dL/dh_t|| over the training iterations (recorded "
                "in the window)"),
    RenderPanel("window", None, "the whole window", column="window"),
    RenderPanel("compare", None, "with --compare: ||dL/dh_t|| of every model on one log axis "
                "and the loss per step", column="overlay", single=False),
)
BY_NAME = {p.name: p for p in PANELS}
NEEDS = {"recurrent": "a recurrent layer (RNN, LSTM or GRU)", "lstm": "an LSTM layer",
         "gated": "an LSTM or GRU layer (a plain RNN has no gates)",
         "attention": "an attention layer"}


def parser() -> Parser:
    width = max(len(p.name) for p in PANELS) + 2
    names = "\n".join(f"  {p.name:<{width}}{p.description}" for p in PANELS)
    both = ", ".join(p.name for p in PANELS if p.column is not None)
    p = Parser(prog="main.py render", formatter_class=argparse.RawDescriptionHelpFormatter,
               description="Draw a panel of the window, or the whole window, to PNG or SVG "
                           "without showing a window; with --compare, two to four "
                           "experiments side by side on one input.",
               epilog=f"panels (--panel):\n{names}\n\nwith --compare (or a comparison file "
                      f"as FILE):\n  {both}\n  (hidden, cell, gates, gradient and output: "
                      "every model's column, side by side)\n\nexamples:\n  python main.py "
                      "render lstm_forget_gate --panel gates --step 5 --scale 2 --out "
                      "gates.png\n  python main.py render adding_rnn --compare adding_lstm "
                      "--panel compare --out both.png")
    p.add_argument("file", metavar="FILE",
                   help="experiment file or preset name, or a comparison file (or bundled "
                        "comparison)")
    p.add_argument("--compare", nargs="+", metavar="FILE2",
                   help="one to three more experiments: FILE and these side by side")
    p.add_argument("--panel", required=True, choices=[p.name for p in PANELS], metavar="NAME",
                   help="what to draw (the names are listed below)")
    p.add_argument("--input", help="the sequence, typed as in the window's sequence box "
                                   "(default: the task's example); with --compare, every "
                                   "model reads it")
    p.add_argument("--step", type=int, default=0,
                   help="the time step t, numbered as the step controls show it (from 0; "
                        "-1: the last; default 0)")
    p.add_argument("--layer", metavar="NODE",
                   help="the recurrent or attention node the panels show (default: the first;"
                        " not with --compare)")
    p.add_argument("--scale", type=int, default=1, help="PNG pixels per screen pixel (1-8)")
    p.add_argument("--timeout", type=float, default=WAIT_S, metavar="S",
                   help="the longest wait, in seconds, for the trace and for what a panel "
                        "computes in the background (connectivity, the validation "
                        f"sequences, the Jacobian analysis; default {WAIT_S:g})")
    p.add_argument("--out", required=True, help="output .png or .svg file")
    return p


def main(argv: list[str] | None = None) -> int:
    """``render`` from the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)

    def run() -> int:
        args = parser().parse_args(argv)
        out = Path(args.out)
        if out.suffix.lower() not in (".png", ".svg"):
            raise UsageError(f"--out must end in .png or .svg, got {args.out!r}")
        if not 1 <= args.scale <= 8:
            raise UsageError(f"--scale must be 1 to 8, got {args.scale}")
        if not args.timeout > 0:        # (NaN too)
            raise UsageError(f"--timeout must be more than 0 seconds, got {args.timeout:g}")
        if not out.parent.is_dir():     # before minutes of loading, not after
            raise PlaygroundError(f"--out: cannot write {out}: the folder {out.parent} does "
                                  "not exist; choose another --out")
        fmt, panel = out.suffix.lower()[1:], BY_NAME[args.panel]
        from playground.files.comparison import names_comparison

        if args.compare is not None or names_comparison(args.file):
            data = render_compare(args.file, args.compare or [], panel, fmt, args.step,
                                  args.input, args.layer, args.scale)
        else:
            data = render(args.file, panel, fmt, args.step, args.input, args.layer,
                          args.scale, args.timeout)
        with writing("--out", out, "choose another --out"):
            out.write_bytes(data)
        print(f"wrote {out}", file=sys.stderr)
        return 0

    return run_command(run, "render")


def resolve_file(name: str) -> Path:
    """The experiment ``name`` names, as the command line reads it (a file of that name
    here, else a preset); a data file outside its folder only with
    ``PLAYGROUND_READ_OUTSIDE=1`` (no one to ask)."""
    from playground.files import access, experiment

    here = Path(f"{name}.json")
    path = here if Path(name).suffix == "" and len(Path(name).parts) == 1 and here.exists() \
        else experiment.resolve(name)
    if not path.exists():
        raise PlaygroundError(f"no such file: {name}")
    outside = access.outside_data_files(path)
    if outside and os.environ.get("PLAYGROUND_READ_OUTSIDE") != "1":
        raise PlaygroundError(f"{path} reads its data from {outside[0]}, outside its own folder"
                              "; if you trust it, run again with PLAYGROUND_READ_OUTSIDE=1")
    return path


def render(name: str, panel: RenderPanel, fmt: str = "png", step: int = 0,
           text: str | None = None, layer: str | None = None, scale: int = 1,
           timeout: float = WAIT_S) -> bytes:
    """The bytes of a PNG or SVG of ``panel`` for the experiment ``name`` at time step
    ``step`` (negative: from the end), after typing ``text``; see the module docstring.
    ``timeout``: the longest wait for the trace and for each background job the panel
    needs (a UsageError naming ``--timeout`` after it)."""
    if not panel.single:
        raise UsageError(f"--panel {panel.name} draws a comparison: add --compare FILE2 "
                         "(or give a comparison file as FILE)")
    path = resolve_file(name)

    def draw(app, win):
        _open(app, win, path, text, layer, timeout)
        widget = _show(app, win, panel, name, step, timeout)
        return _encode(widget, fmt, scale, panel)

    return _offscreen(draw)


def _offscreen(draw) -> bytes:
    """``draw(app, win)`` with a window of its own on the offscreen platform (settings in a
    temporary file, the torch path only); the window is shut down after."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # before the QApplication
    from .app import make_app, skip_device_backend_scan

    skip_device_backend_scan()
    from playground.tracing import compiled

    autostart = compiled.AUTOSTART
    compiled.AUTOSTART = False    # one figure: the torch path, no kernels compiled for later
    handler = _quiet_offscreen()
    app = make_app()
    with tempfile.TemporaryDirectory() as tmp:
        win = _window(app, tmp)
        try:
            return draw(app, win)
        finally:
            win.shutdown()            # (and a comparison's members)
            win.deleteLater()
            app.processEvents()
            compiled.AUTOSTART = autostart
            from PySide6 import QtCore

            QtCore.qInstallMessageHandler(handler)


def comparison_of(name: str, others: list[str], text: str | None):
    """The comparison to draw: the comparison file ``name`` (no ``others``), or the
    experiments ``name`` and ``others``; ``text``: the input every member reads. Every
    problem with it (a member that cannot be found or read, members that cannot share one
    input) is a UsageError naming it."""
    from dataclasses import replace

    from playground.files import comparison as C

    from .compare import prepare

    try:
        if C.names_comparison(name):
            if others:
                raise UsageError(f"{name} is a comparison already: name its members in it, "
                                 "or give an experiment as FILE with --compare")
            comp = C.load(C.resolve(name))
        else:
            paths = []
            for arg, n in (("FILE", name), *(("--compare", o) for o in others)):
                try:
                    paths.append(str(resolve_file(n)))
                except PlaygroundError as e:
                    raise UsageError(f"{arg}: {e}") from None
            comp = C.from_names(paths)
        if text is not None:
            comp = replace(comp, input=text)
        return prepare(comp)
    except PlaygroundError as e:
        if text is not None and getattr(e, "path", "") == "input":
            raise UsageError(f"--input: {e.detail}") from None
        raise UsageError(f"--compare: {e}") from None


def render_compare(name: str, others: list[str], panel: RenderPanel, fmt: str = "png",
                   step: int = 0, text: str | None = None, layer: str | None = None,
                   scale: int = 1) -> bytes:
    """The bytes of a PNG or SVG of ``panel`` of the comparison of ``name`` (a comparison
    file, or an experiment compared with ``others``) at ``step``; ``text``: the input every
    member reads. ``window``: the whole window; ``compare``: the overlaid curves; a panel of
    the columns: every member's, side by side."""
    if panel.column is None:
        names = ", ".join(p.name for p in PANELS if p.column is not None)
        raise UsageError(f"--panel {panel.name} does not exist in compare mode; choose one "
                         f"of {names}")
    if layer is not None:
        raise UsageError("--layer does not apply with --compare: each column shows its "
                         "model's first recurrent layer")
    prepared = comparison_of(name, others, text)

    def draw(app, win):
        from .compare import open_in

        problem = open_in(win, prepared[0])
        if problem:
            raise PlaygroundError(problem)
        win.show()
        app.processEvents()
        return _encode_compare(app, win, panel, step, fmt, scale)

    return _offscreen(draw)


def _encode_compare(app, win, panel: RenderPanel, step: int, fmt: str, scale: int) -> bytes:
    from PySide6 import QtWidgets

    from .compare import KIND_KEYS
    from .panels.base import widget_image

    view = win.compare_view
    views = view.views()
    empty = [col.label for col, v in zip(view.columns, views) if v is None]
    if empty:
        raise PlaygroundError(f"nothing to draw: {', '.join(empty)} has no trace")
    if panel.column in KIND_KEYS and not any(_applies(panel, v) for v in views):
        raise PlaygroundError(f"--panel {panel.name}: no member has anything to show there: "
                              f"it needs {NEEDS[panel.needs]}")
    n = win.timeline.n_steps
    t = step + n if step < 0 else step
    if not 0 <= t < n:
        raise UsageError(f"--step must be 0 to {n - 1} (or -1 for the last) for this "
                         f"input, got {step}")
    win.timeline.step = t
    widget, hidden = win, []
    if panel.column in KIND_KEYS:
        view.set_kinds((panel.column,))
        widget = view.columns_widget
    elif panel.column == "overlay":
        widget = view.overlay_box
    if widget is not win:       # no buttons and hover lines on paper
        hidden = [b for b in widget.findChildren(QtWidgets.QAbstractButton)
                  if b.objectName() == "compareTrain" or b.text() == "Export"]
        hidden += [w for p in widget.findChildren(QtWidgets.QWidget)
                   for w in (getattr(p, "hover_label", None),) if w is not None]
        hidden = [w for w in dict.fromkeys(hidden) if w.isVisible()]
        for w in hidden:
            w.hide()
    app.processEvents()
    try:
        return widget_image(widget, fmt, scale, view.comparison.name)
    finally:
        for w in hidden:
            w.show()


def _quiet_offscreen():
    """Leave out the offscreen platform's notes that it cannot size windows to their hints
    (nothing is on a screen); every other Qt message still goes to stderr. Returns the
    handler it replaced."""
    from PySide6 import QtCore

    def handler(kind, context, text):
        if "propagateSizeHints" not in text:
            print(text, file=sys.stderr)

    return QtCore.qInstallMessageHandler(handler)


def _window(app, tmp: str):
    from PySide6 import QtCore

    from .main_window import MainWindow

    settings = QtCore.QSettings(str(Path(tmp) / "settings.ini"),
                                QtCore.QSettings.Format.IniFormat)
    win = MainWindow(settings)
    win.said = []                 # what the window would have said in a dialog
    win.files.show_error = lambda title, msg: win.said.append((title, msg))
    win.files.ask_unsaved = lambda: "discard"
    win.files.ask_read_outside = lambda files: True    # resolve_file has asked
    return win


def _wait(app, busy, what: str, timeout: float = WAIT_S) -> None:
    """Process events while ``busy()``; past ``timeout`` seconds a UsageError (exit status
    2: the cure is a longer ``--timeout``)."""
    end = time.monotonic() + timeout
    while busy():
        if time.monotonic() > end:
            raise UsageError(f"--timeout: {what} took longer than {timeout:g} s; give a "
                             "longer --timeout")
        app.processEvents()
        time.sleep(0.005)
    app.processEvents()


def _open(app, win, path: Path, text: str | None, layer: str | None,
          timeout: float = WAIT_S) -> None:
    c = win.controller
    if not win.files.open_path(str(path), ask=False):
        raise PlaygroundError(win.files.last_error or f"{path}: cannot be opened")
    for _title, msg in win.said:   # opened, with something to say (broken weights)
        print(f"warning: {msg}", file=sys.stderr)
    win.show()
    app.processEvents()
    if text is not None:
        problems: list[str] = []
        c.inputError.connect(lambda m: m and problems.append(m))
        ok = c.set_input_text(text)
        _wait(app, lambda: c.tracer.latest() is not None, "the trace", timeout)
        if problems or not ok:
            raise PlaygroundError(f"--input: {problems[-1] if problems else 'not read'}")
    if layer is not None:
        nodes = [n.id for n in c.graph.nodes] if c.graph is not None else []
        if layer not in nodes:
            raise PlaygroundError(f"--layer: no node {layer!r} (nodes: {', '.join(nodes)})")
        before = (c.rec_sel, c.attn_sel)
        c.select_node(layer)
        if (c.rec_sel, c.attn_sel) == before and (c.rec_sel or (None,))[0] != layer \
                and c.attn_sel != layer:
            raise PlaygroundError(f"--layer: {layer} is neither a recurrent nor an attention "
                                  "node")
    if c.view() is None:
        raise PlaygroundError(f"{path}: nothing to draw (the model has no trace: "
                              f"{c.stale or 'no model'})")


def _applies(panel: RenderPanel, view) -> bool:
    rec = view.rec
    return {"": True, "recurrent": rec is not None,
            "lstm": rec is not None and rec.c is not None,
            "gated": rec is not None and bool(rec.gates),
            "attention": view.attn is not None}[panel.needs]


def _show(app, win, panel: RenderPanel, name: str, step: int, timeout: float = WAIT_S):
    """Move to ``step``, raise the panel's dock, wait for what it computes in the background
    and return the widget to draw."""
    c = win.controller
    view = c.view()
    if not _applies(panel, view):
        what = f"; the selected layer is {view.rec.label} ({view.rec.kind.upper()})" \
            if view.rec is not None and panel.needs != "attention" else ""
        raise PlaygroundError(f"--panel {panel.name}: {name} has nothing to show there: it "
                              f"needs {NEEDS[panel.needs]}{what}")
    n = view.steps
    t = step + n if step < 0 else step
    if not 0 <= t < n:
        raise UsageError(f"--step must be 0 to {n - 1} (or -1 for the last) for this "
                         f"input, got {step}")
    win.timeline.step = t
    app.processEvents()
    if panel.dock is None:
        for key in win.panels:
            win.refresher.shown(key)
        app.processEvents()
        for key, widget in list(win.panels.items()):   # the docks on view in the window
            if key in JOBS and widget.isVisible():
                _settle(app, win, key, widget, timeout)
        return win
    widget = win.dock_widget(panel.dock, show=True)
    app.processEvents()
    _settle(app, win, panel.dock, widget, timeout)
    message = getattr(widget, "message", None)
    if message is not None and message.isVisibleTo(widget):   # it shows words, not plots
        first = message.text().splitlines()[0]
        if panel.dock == "horizon":     # drawn as it is: the panel says how to get one
            print(f"note: {name} has no gradient horizon recorded: it is recorded while the "
                  "model trains in the window, and saved with the experiment", file=sys.stderr)
        else:
            raise PlaygroundError(f"--panel {panel.name}: {first}")
    return widget


JOBS = ("jacobian", "connectivity", "trajectory", "neurons")   # docks with background work


def _settle(app, win, key: str, widget, timeout: float = WAIT_S) -> None:
    """Wait for the background work dock ``key`` draws: the Jacobian analysis, the
    connectivity (started as its Compute button would, when it was not), the validation
    sequences of the trajectory and the neuron search; the neuron search then runs its
    query (the span from the step, h > 0.5) as its Search button would."""
    c = win.controller
    if key == "jacobian":
        _wait(app, lambda: c.analysis.running or widget.busy, "the Jacobian analysis",
              timeout)
    elif key == "connectivity":
        failed: list[str] = []
        widget.job.failed.connect(failed.append)
        if widget.matrix is None and not widget.busy:
            widget.compute()    # (a long sequence waits for Compute in the window)
        _wait(app, lambda: widget.busy, "computing the connectivity", timeout)
        if widget.matrix is None:
            why = failed[-1] if failed else widget.caption.text()
            raise PlaygroundError(f"--panel connectivity: {why or 'nothing was computed'}")
    elif key in ("trajectory", "neurons"):
        job = c.validation
        if job.available:
            job.request()
            _wait(app, lambda: job.available and job.current() is None and not job.error,
                  "tracing the validation sequences", timeout)
            if job.error:       # the figure without them (the panel's caption says why)
                print(f"warning: {job.error}", file=sys.stderr)
        if key == "neurons" and widget.search_btn.isEnabled():
            widget.search_btn.click()
            app.processEvents()


def _encode(widget, fmt: str, scale: int, panel: RenderPanel) -> bytes:
    """The widget drawn as PNG or SVG; a panel without its Export (and Compute) button and
    hover line (they mean nothing on paper)."""
    from PySide6 import QtWidgets

    from .panels.base import widget_image

    hidden = []
    if panel.dock is not None:
        hidden = [b for b in widget.findChildren(QtWidgets.QToolButton) if b.text() == "Export"]
        hidden += [w for w in (getattr(widget, "hover_label", None),
                               getattr(widget, "compute_btn", None)) if w is not None]
        hidden = [w for w in hidden if w.isVisible()]
        for w in hidden:
            w.hide()
        QtWidgets.QApplication.processEvents()
    try:
        return widget_image(widget, fmt, scale, str(getattr(widget, "title", "")))
    finally:
        for w in hidden:
            w.show()
