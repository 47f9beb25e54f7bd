"""``playground.show(model, inputs, targets, loss_fn)``: the app on a user's own model.

:func:`show` opens the main window in the controller's inspected-model mode
(:mod:`ui.controller_module`): every panel draws ``playground.inspect``'s trace, the
timeline steps through it, the What-if dock re-runs it with an intervention, and the Model
dock shows the model's ``named_modules()`` (:mod:`ui.module_tree`) in place of the canvas.
Training, saving, exporting, generating and the gallery are off (their actions say why).

From a plain script :func:`show` blocks until the window is closed; in Jupyter (an IPython
kernel) it turns on the kernel's Qt event loop integration (``%gui qt``) and returns the
window at once. ``python main.py inspect FILE.py:FACTORY --input X.pt`` (no ``--out``)
is :func:`main_inspect`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6 import QtCore, QtWidgets

# what needs a playground experiment (a graph, a data set, the trainer): out of the way
OFF_DOCKS = ("palette", "properties", "generate", "input_box", "jacobian", "connectivity",
             "curves", "horizon")
OFF_ACTIONS = ("new", "gallery", "open", "save", "save_as", "export")
WHY_OFF = ("inspecting your own model: the experiment actions (new, open, the gallery, "
           "saving, export, training) work on a playground experiment, not here")
_OPEN: list = []      # windows shown without blocking (Jupyter): kept alive
last_window = None    # main_inspect's


def _kernel_shell():
    """The IPython shell when this runs in a Jupyter kernel, else None."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        ip = ipython.get_ipython()
    except Exception:  # noqa: BLE001 - an odd IPython: treat as a plain script
        return None
    return ip if ip is not None and getattr(ip, "kernel", None) is not None else None


def open_in(win, model, inputs, targets=None, loss_fn=None, *, name: str | None = None,
            output: str = "auto") -> str:
    """Put the main window ``win`` in the inspected-model mode; ``""`` or the problem (then
    nothing changes)."""
    from .compare import leave
    from .module_tree import ModuleTree

    c = win.controller
    leave(win)
    tree = getattr(win, "module_tree", None)
    made = tree is None
    if made:
        tree = ModuleTree(c)
    problem = c.open_module(model, inputs, targets, loss_fn, name=name, output=output)
    if problem:
        if made:
            tree.deleteLater()
        return problem
    win.controls.stop()
    if made:
        win.module_tree = tree
        dock = win.docks["canvas"]
        dock.setWidget(tree)          # the canvas stays the window's (win.canvas), hidden
        dock.setWindowTitle("Model (your modules)")
        dock.setToolTip("your model's modules: click a bold (recorded) one to show it")
        # a what-if that cannot run: said in the status bar (the Sequence input dock is off)
        c.inputError.connect(lambda m: m and win.statusBar().showMessage(m, 15_000))
    for key in OFF_DOCKS:
        if key in win.docks:
            win.docks[key].hide()
    win.docks["canvas"].show()
    train = win.docks["training"].widget()
    train.setEnabled(False)
    train.setToolTip(WHY_OFF)
    for key in OFF_ACTIONS:
        act = win.menus[key]
        act.setEnabled(False)
        act.setToolTip(WHY_OFF)
        act.setStatusTip(WHY_OFF)
    for key in ("copy", "paste", "duplicate", "delete", "select_all"):   # the hidden canvas's
        win.canvas.actions_by_name[key].setEnabled(False)
    win.canvas.undo_stack.clear()
    if win.recent_menu is not None:
        win.recent_menu.setEnabled(False)
        win.recent_menu.setToolTip(WHY_OFF)
    for menu in win.menuBar().findChildren(QtWidgets.QMenu):
        menu.setToolTipsVisible(True)
    view = c.view()
    recurrent = view is not None and view.has_recurrent
    for key in ("h", "gates" if recurrent else "attention", "gradient", "loss", "whatif"):
        win.docks[key].raise_()
    return ""


def show(model, inputs, targets=None, loss_fn=None, *, block: bool | None = None,
         name: str | None = None, settings: QtCore.QSettings | None = None,
         output: str = "auto"):
    """Open the app on ``model`` (any ``torch.nn.Module``) run on ``inputs`` (a tensor or a
    tuple of the forward's arguments), with ``loss_fn(output, targets)`` for the gradients
    and the loss. ``output``: ``"logits"`` (the Output panel draws their softmax, the top
    classes per step), ``"values"``, or ``"auto"`` (logits when ``loss_fn`` is
    cross-entropy). ``block``: run the event loop until the window closes (default: yes,
    except in a Jupyter kernel, where the kernel's Qt integration runs it). Returns the
    window. The model is left as it was (weights, ``.grad`` fields, mode)."""
    from playground.errors import SequenceError

    from .app import make_app, skip_device_backend_scan
    from .main_window import MainWindow

    skip_device_backend_scan()
    shell = _kernel_shell()
    if block is None:
        block = shell is None
    app = make_app()
    if settings is None:     # its own layout: the inspected mode's docks are not the app's
        settings = QtCore.QSettings("SequencePlayground", "InspectedModel")
    win = MainWindow(settings)
    problem = open_in(win, model, inputs, targets, loss_fn, name=name, output=output)
    if problem:
        win.shutdown()
        win.deleteLater()
        raise SequenceError(problem)
    win.show()
    win.raise_()
    if not block:
        if shell is not None:
            shell.enable_gui("qt")
        _OPEN[:] = [w for w in _OPEN if _alive(w)] + [win]
        return win
    app.exec()
    win.shutdown()
    return win


def _alive(win) -> bool:
    import shiboken6

    return shiboken6.isValid(win) and win.isVisible()


def main_inspect(argv: list[str], block: bool | None = True) -> int:
    """``python main.py inspect FILE.py:FACTORY --input X.pt [--weights W.pt] [--targets
    Y.pt --loss cross_entropy|mse]``: the window on the model (``--out`` is the
    command line's: ``playground.cli``). Returns the exit status; a problem is one line on
    stderr."""
    from playground.cli.common import Parser, UsageError, run_command
    from playground.cli.inspecting import add_arguments, load

    parser = Parser(prog="main.py")
    add_arguments(parser.add_subparsers(dest="command", required=True, parser_class=Parser))

    def run() -> int:     # (an error in the user's FILE.py is one line too)
        global last_window
        args = parser.parse_args(["inspect", *argv])
        if args.out is not None:
            raise UsageError("--out writes a trace without the window: run it through "
                             "playground.cli")
        model, inputs, targets, loss = load(args)
        file, _, factory = args.factory.rpartition(":")
        name = f"{type(model).__name__} ({Path(file).name}:{factory})"
        last_window = show(model, inputs, targets, loss, block=block, name=name)  # (tests)
        return 0

    return run_command(run, "inspect")
