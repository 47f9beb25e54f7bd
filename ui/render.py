"""``python main.py render FILE --panel NAME --out fig.png|svg``: a panel, or the whole
window, drawn without showing a window (figures for slides and papers).

The figure is the window's own: the real :class:`~ui.main_window.MainWindow` is built on
Qt's offscreen platform (unless the user chose a platform), with settings in a temporary
file (the default layout; the user's saved layout and recent files are left alone). It
opens FILE through the controller, types ``--input`` as the sequence box would, waits for
the trace (it may run in the background), moves to ``--step`` and raises the panel's dock.
PNG is drawn at ``--scale`` times the size on screen (not magnified); SVG through Qt's SVG
painter (curves and bars as paths, heatmaps as embedded images), as the panels' own Export
menu writes them.

:data:`PANELS` is the registry: the name on the command line, the window's dock, what it
shows and what the model needs for it. Problems are one ``error: ...`` line and exit status
1 (2 for a bad argument), as in :mod:`playground.cli`.
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

WAIT_S = 120.0          # the longest a trace or an analysis is waited for


@dataclass(frozen=True)
class RenderPanel:
    """One ``--panel`` choice: ``dock`` (a key of :data:`ui.main_window.DOCKS`, None for
    the whole window), a line for ``--help`` and ``needs``: what the selected layers must
    have (``recurrent``, ``lstm``, ``gated``, ``attention`` or ``""``)."""

    name: str
    dock: str | None
    description: str
    needs: str = ""


PANELS = (
    RenderPanel("hidden", "h", "hidden state h: units x time, and h_t at the step",
                "recurrent"),
    RenderPanel("cell", "c", "cell state c of an LSTM: units x time, and c_t", "lstm"),
    RenderPanel("gates", "gates", "every gate of an LSTM (i f g o) or GRU (r z n) over time",
                "gated"),
    RenderPanel("gradient", "gradient", "||dL/dh_t|| on a log scale and dL/dh (BPTT)",
                "recurrent"),
    RenderPanel("jacobian", "jacobian", "||dh_t/dh_(t-1)|| per step, singular values of W_hh",
                "recurrent"),
    RenderPanel("attention", "attention", "attention weights per head (query x key)",
                "attention"),
    RenderPanel("input", "input", "the input x_t over time"),
    RenderPanel("output", "output", "the top predictions at the step (or values over time)"),
    RenderPanel("loss", "loss", "the loss at every step"),
    RenderPanel("equation", "equation", "the update equations of unit 0 with the step's numbers",
                "recurrent"),
    RenderPanel("trajectory", "trajectory", "h_t in its top two principal components, coloured "
                "by t, the step marked", "recurrent"),
    RenderPanel("window", None, "the whole window"),
)
BY_NAME = {p.name: p for p in PANELS}
NEEDS = {"recurrent": "a recurrent layer (RNN, LSTM or GRU)", "lstm": "an LSTM layer",
         "gated": "an LSTM or GRU layer (a plain RNN has no gates)",
         "attention": "an attention layer"}


def parser() -> Parser:
    width = max(len(p.name) for p in PANELS) + 2
    names = "\n".join(f"  {p.name:<{width}}{p.description}" for p in PANELS)
    p = Parser(prog="main.py render", formatter_class=argparse.RawDescriptionHelpFormatter,
               description="Draw a panel of the window, or the whole window, to PNG or SVG "
                           "without showing a window.",
               epilog=f"panels (--panel):\n{names}\n\nexample:\n  python main.py render "
                      "lstm_forget_gate --panel gates --step 5 --scale 2 --out gates.png")
    p.add_argument("file", help="experiment file or preset name")
    p.add_argument("--panel", required=True, choices=[p.name for p in PANELS], metavar="NAME",
                   help="what to draw (the names are listed below)")
    p.add_argument("--input", help="the sequence, typed as in the window's sequence box "
                                   "(default: the task's example)")
    p.add_argument("--step", type=int, default=0,
                   help="the time step t, numbered as the step controls show it (from 0; "
                        "-1: the last; default 0)")
    p.add_argument("--layer", metavar="NODE",
                   help="the recurrent or attention node the panels show (default: the first)")
    p.add_argument("--scale", type=int, default=1, help="PNG pixels per screen pixel (1-8)")
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
        if not out.parent.is_dir():     # before minutes of loading, not after
            raise PlaygroundError(f"--out: cannot write {out}: the folder {out.parent} does "
                                  "not exist; choose another --out")
        data = render(args.file, BY_NAME[args.panel], out.suffix.lower()[1:], args.step,
                      args.input, args.layer, args.scale)
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
           text: str | None = None, layer: str | None = None, scale: int = 1) -> bytes:
    """The bytes of a PNG or SVG of ``panel`` for the experiment ``name`` at time step
    ``step`` (negative: from the end), after typing ``text``; see the module docstring."""
    path = resolve_file(name)
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
            _open(app, win, path, text, layer)
            widget = _show(app, win, panel, name, step)
            return _encode(widget, fmt, scale, panel)
        finally:
            win.shutdown()
            win.deleteLater()
            app.processEvents()
            compiled.AUTOSTART = autostart
            from PySide6 import QtCore

            QtCore.qInstallMessageHandler(handler)


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


def _wait(app, busy, what: str) -> None:
    end = time.monotonic() + WAIT_S
    while busy():
        if time.monotonic() > end:
            raise PlaygroundError(f"{what} took longer than {WAIT_S:.0f} s")
        app.processEvents()
        time.sleep(0.005)
    app.processEvents()


def _open(app, win, path: Path, text: str | None, layer: str | None) -> None:
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
        _wait(app, lambda: c.tracer.latest() is not None, "the trace")
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


def _show(app, win, panel: RenderPanel, name: str, step: int):
    """Move to ``step``, raise the panel's dock and return the widget to draw."""
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
        return win
    widget = win.dock_widget(panel.dock, show=True)
    app.processEvents()
    if panel.dock == "jacobian":
        _wait(app, lambda: c.analysis.running or widget.busy, "the Jacobian analysis")
    message = getattr(widget, "message", None)
    if message is not None and message.isVisibleTo(widget):   # it shows words, not plots
        raise PlaygroundError(f"--panel {panel.name}: {message.text().splitlines()[0]}")
    return widget


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
