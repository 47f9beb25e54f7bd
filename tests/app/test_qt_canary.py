"""Guards against the PySide6 6.12.0 abort with pyqtgraph on Python 3.11 (``none_dealloc``):
many plot updates plus ``QObject.property()`` of unset properties, in a fresh process that
must exit cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import PySide6

SCRIPT = textwrap.dedent("""
    import os
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    import pyqtgraph as pg
    from PySide6 import QtCore, QtWidgets

    app = QtWidgets.QApplication([])
    win = pg.GraphicsLayoutWidget()
    plot = win.addPlot()
    curve = plot.plot()
    img = pg.ImageItem()
    win.addPlot(row=1, col=0).addItem(img)
    win.show()
    rng = np.random.default_rng(0)
    misses = 0
    for i in range(200):
        curve.setData(rng.standard_normal(64))
        img.setImage(rng.random((16, 32)), levels=(0, 1))
        for obj in (win, plot, curve, img, app):
            if obj.property(f"unset_{i}") is None:   # returns None for an unset property
                misses += 1
        app.processEvents()
    win.close()
    print("canary ok", misses)
""")


def test_installed_pyside6_is_below_6_12():
    major, minor = (int(x) for x in PySide6.__version__.split(".")[:2])
    assert (major, minor) < (6, 12), f"PySide6 {PySide6.__version__}: 6.12.0 aborts (see above)"


def test_plot_updates_and_unset_properties_exit_cleanly():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr[-2000:]}"
    assert "canary ok 1000" in r.stdout
