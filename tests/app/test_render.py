"""``python main.py render``: panels drawn to PNG and SVG without a window on screen."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtGui

from playground.errors import PlaygroundError
from ui import render
from ui.testing import no_running_qt  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def pixels(data: bytes) -> np.ndarray:
    """A PNG's pixels as (H, W, 3) uint8."""
    img = QtGui.QImage.fromData(data, "PNG").convertToFormat(QtGui.QImage.Format.Format_RGB888)
    assert not img.isNull()
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    a = np.frombuffer(img.constBits(), np.uint8, count=h * bpl).reshape(h, bpl)
    return a[:, :w * 3].reshape(h, w, 3).copy()


def plotted(px: np.ndarray) -> float:
    """The share of pixels that are neither white nor the window's grey nor text-dark:
    colour drawn by the plots (heatmaps, bars, curves)."""
    r, g, b = (px[..., i].astype(int) for i in range(3))
    grey = (abs(r - g) < 12) & (abs(g - b) < 12)
    return float(np.mean(~grey))


def draw(name, panel, fmt="png", **kw) -> bytes:
    return render.render(name, render.BY_NAME[panel], fmt, **kw)


def test_png_of_the_gates_is_drawn_and_an_lstm_differs_from_a_gru(qapp):
    lstm = pixels(draw("lstm_forget_gate", "gates", step=5))
    assert lstm.std() > 20 and plotted(lstm) > 0.2      # heatmaps fill the panel
    gru = pixels(draw("gru_sine", "gates", step=5))
    assert plotted(gru) > 0.2
    assert lstm.shape != gru.shape or np.abs(lstm.astype(int) - gru).mean() > 10


def test_hidden_state_of_an_rnn_and_an_lstm_differ_and_the_step_moves_the_marker(qapp):
    rnn = pixels(draw("adding_rnn", "hidden"))
    lstm = pixels(draw("adding_lstm", "hidden"))
    assert plotted(rnn) > 0.1 and plotted(lstm) > 0.1
    assert rnn.shape != lstm.shape or np.abs(rnn.astype(int) - lstm).mean() > 5
    later = pixels(draw("adding_lstm", "hidden", step=-1))
    assert later.shape == lstm.shape and (later != lstm).any(axis=2).mean() > 0.001


def test_scale_draws_more_pixels_not_a_magnified_copy(qapp):
    one = pixels(draw("hello_rnn", "output"))
    two = pixels(draw("hello_rnn", "output", scale=2))
    assert two.shape[0] == 2 * one.shape[0] and two.shape[1] == 2 * one.shape[1]
    assert plotted(two) > 0.02


def test_svg_parses_and_holds_the_plots(qapp):
    root = ET.fromstring(draw("lstm_forget_gate", "gradient", "svg", text=None))
    tags = [el.tag.rsplit("}", 1)[-1] for el in root.iter()]
    assert root.tag.endswith("svg")
    assert tags.count("path") + tags.count("polyline") > 10   # curves, axes, bars
    assert "image" in tags                                     # the heatmaps


def test_the_window_and_a_typed_input(qapp):
    px = pixels(draw("hello_rnn", "window", text="hell", step=2))
    assert px.shape[1] >= 1000 and plotted(px) > 0.05
    attention = pixels(draw("toy_attention_heads", "attention", step=3))
    assert plotted(attention) > 0.2


@pytest.mark.parametrize("panel, why", [("attention", "needs an attention layer"),
                                        ("gates", "a plain RNN has no gates"),
                                        ("cell", "needs an LSTM layer")])
def test_a_panel_that_does_not_apply_is_refused(qapp, panel, why):
    with pytest.raises(PlaygroundError, match=why):
        draw("hello_rnn", panel)


def run(*args):
    return subprocess.run([sys.executable, "main.py", "render", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_command_line_as_the_readme_shows_it_and_its_errors(tmp_path):
    out = run("--help")
    assert out.returncode == 0
    for p in render.PANELS:
        assert p.name in out.stdout and p.description in out.stdout
    fig = tmp_path / "gates.png"
    out = run("lstm_forget_gate", "--panel", "gates", "--step", "5", "--scale", "2",
              "--out", str(fig))
    assert out.returncode == 0, out.stderr
    assert plotted(pixels(fig.read_bytes())) > 0.2
    readme = (ROOT / "README.md").read_text()
    assert "python main.py render lstm_forget_gate --panel gates --step 5 --scale 2" in readme
    bad = [(["hello_rnn", "--panel", "bogus", "--out", str(fig)], 2, "invalid choice"),
           (["hello_rnn", "--panel", "hidden", "--step", "99", "--out", str(fig)], 2,
            "--step must be 0 to 3"),
           (["hello_rnn", "--panel", "hidden", "--out", str(tmp_path / "no" / "x.png")], 1,
            "does not exist"),
           (["hello_rnn", "--panel", "hidden", "--out", str(tmp_path)], 2, "must end in"),
           (["nosuch_preset", "--panel", "hidden", "--out", str(fig)], 1, "nosuch_preset"),
           (["hello_rnn", "--panel", "attention", "--out", str(fig)], 1,
            "needs an attention layer")]
    for args, code, words in bad:
        out = run(*args)
        assert out.returncode == code, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines
