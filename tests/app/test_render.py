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


def draw_compare(name, others, panel, fmt="png", **kw) -> bytes:
    return render.render_compare(name, others, render.BY_NAME[panel], fmt, **kw)


def test_compare_overlays_and_columns_are_drawn(qapp):
    overlay = pixels(draw_compare("adding_rnn", ["adding_lstm"], "compare", step=3))
    assert overlay.std() > 10 and plotted(overlay) > 0.002     # the coloured curves
    blue = (overlay[..., 2].astype(int) - overlay[..., 0] > 80).mean()   # the RNN's colour
    green = ((overlay[..., 1].astype(int) - overlay[..., 0] > 60) &
             (overlay[..., 1].astype(int) - overlay[..., 2] > 60)).mean()   # the LSTM's
    assert blue > 0.0005 and green > 0.0005
    cols = pixels(draw_compare("adding_rnn", ["adding_lstm"], "hidden", step=5))
    assert cols.std() > 20 and plotted(cols) > 0.1             # two heatmaps side by side
    one = pixels(draw("adding_rnn", "hidden", step=5))
    assert cols.shape[1] > one.shape[1] * 0.9
    gates = pixels(draw_compare("rnn_vs_lstm_adding", [], "gates"))   # a comparison file
    assert plotted(gates) > 0.1                                 # the LSTM's gates


def test_compare_svg_of_the_window_parses(qapp):
    data = draw_compare("init_orthogonal_vs_normal", [], "window", "svg", step=-1)
    root = ET.fromstring(data)
    tags = [el.tag.rsplit("}", 1)[-1] for el in root.iter()]
    assert root.tag.endswith("svg") and tags.count("path") + tags.count("polyline") > 10
    assert "image" in tags


def test_compare_command_line_and_its_errors(tmp_path):
    out = run("--help")
    assert out.returncode == 0 and "--compare" in out.stdout and "FILE2" in out.stdout
    fig = tmp_path / "both.png"
    out = run("adding_rnn", "--compare", "adding_lstm", "--panel", "gradient", "--step", "-1",
              "--out", str(fig))
    assert out.returncode == 0, out.stderr
    px = pixels(fig.read_bytes())
    assert px.std() > 20 and plotted(px) > 0.02       # curves and dL/dh heatmaps
    svg = tmp_path / "both.svg"
    out = run("rnn_vs_lstm_adding", "--panel", "compare", "--out", str(svg))
    assert out.returncode == 0, out.stderr
    assert ET.fromstring(svg.read_bytes()).tag.endswith("svg")
    bad = [(["adding_rnn", "--compare", "nosuch_member", "--panel", "compare"],
            "nosuch_member"),
           (["adding_rnn", "--compare", "hello_rnn", "--panel", "compare"],
            "one shared input"),
           (["adding_rnn", "--compare", "adding_lstm", "--panel", "jacobian"],
            "does not exist in compare mode"),
           (["adding_rnn", "--panel", "compare"], "add --compare"),
           (["rnn_vs_lstm_adding", "--compare", "adding_rnn", "--panel", "window"],
            "is a comparison already"),
           (["adding_rnn", "--compare", "adding_lstm", "--panel", "hidden", "--step", "40"],
            "--step must be 0 to 39")]
    for args, words in bad:
        out = run(*args, "--out", str(fig))
        assert out.returncode == 2, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines


# -- the panels with background work: connectivity, neuron search, trajectory, horizon --------
def spy(monkeypatch, read):
    """What ``read(widget)`` says of the widget render draws (the panel itself, before the
    window is shut down)."""
    seen = []
    encode = render._encode

    def wrapped(widget, *args):
        seen.append(read(widget))
        return encode(widget, *args)

    monkeypatch.setattr(render, "_encode", wrapped)
    return seen


def near(px: np.ndarray, rgb) -> int:
    """How many pixels are within a few levels of the colour ``rgb``."""
    return int((np.abs(px.astype(int) - np.asarray(rgb[:3], int)).max(axis=2) <= 6).sum())


def test_connectivity_is_waited_for_and_its_heatmap_drawn(qapp, monkeypatch):
    from ui.panels.style import GATE_CMAP

    seen = spy(monkeypatch, lambda w: (w.matrix.copy(), w.heat.data.copy(),
                                       tuple(w.heat.levels)))
    px = pixels(draw("hello_rnn", "connectivity", step=2))
    (matrix, logm, (lo, hi)), = seen
    assert matrix.shape == (4, 4) and np.isfinite(matrix).all() and matrix.max() > 0
    assert np.all(np.triu(matrix, 1) == 0) and np.all(np.diag(matrix) > 0)   # causal
    assert px.std() > 20 and plotted(px) > 0.2
    shown = logm[np.isfinite(logm)]              # (a cell without a path may be blank)
    assert shown.size >= np.count_nonzero(matrix)
    for v in np.unique(np.round(shown, 6)):      # every cell's colour, as big as a cell
        rgb = GATE_CMAP.map(np.clip((v - lo) / (hi - lo), 0, 1), mode="byte")
        assert near(px, rgb) > 1500, v
    root = ET.fromstring(draw("hello_rnn", "connectivity", "svg"))
    tags = [el.tag.rsplit("}", 1)[-1] for el in root.iter()]
    assert root.tag.endswith("svg") and "image" in tags           # the heatmap
    assert tags.count("path") + tags.count("polyline") > 10       # axes and the row's bars


def test_trajectory_waits_for_the_validation_paths(qapp, monkeypatch):
    def read(w):
        states = w.controller.validation.current()
        return (len(w.validation_paths), w.caption.text(),
                None if states is None else len(states.of(w.view.rec)))

    seen = spy(monkeypatch, read)
    px = pixels(draw("lstm_forget_gate", "trajectory", step=3))
    (paths, caption, n), = seen
    assert n > 0 and paths == n and f"{n} validation sequences" in caption
    assert px.std() > 10 and plotted(px) > 0.002              # the points coloured by t
    from ui.validation import ValidationJob

    monkeypatch.setattr(ValidationJob, "available", property(lambda self: False))
    bare = pixels(draw("lstm_forget_gate", "trajectory", step=3))
    assert seen[-1][0] == 0 and bare.shape == px.shape

    # the faint paths tint much of the plot's white (whatever their colour and alpha)
    tinted = (bare == 255).all(axis=2) & (px != 255).any(axis=2) & (px.min(axis=2) > 200)
    assert tinted.sum() > 5000, tinted.sum()


def test_neuron_search_is_drawn_with_its_query_run(qapp, monkeypatch):
    seen = spy(monkeypatch, lambda w: (w.result, [w.list.item(i).text()
                                                  for i in range(w.list.count())],
                                       w.controller.validation.current()))
    px = pixels(draw("tbptt_long_text", "neurons", step=40))
    (result, texts, states), = seen
    assert states is not None                     # the validation sequences were waited for
    assert result is not None and len(result.units) > 0 and texts   # Search was pressed
    assert any(t.startswith("validation #") for t in texts)
    assert px.std() > 10


def horizon_experiment(tmp_path) -> Path:
    """hello_rnn trained a few steps with its gradient horizon recorded, saved."""
    from playground.files import experiment
    from playground.train import TrainConfig, Trainer
    from playground.train.horizon import GradientHorizon

    exp = experiment.load(experiment.resolve("hello_rnn"), weights=False)
    model, data = exp.build_model(), exp.make_dataset()
    trainer = Trainer(model, data, TrainConfig(steps=40, lr=0.05, batch_size=4, seed=0),
                      device="cpu")
    horizon = GradientHorizon(data.example(), every=2, top_k=3).attach(trainer)
    trainer.run()
    exp.horizon = horizon.to_dict()
    return exp.save(tmp_path / "hz.json", model=model)


def test_gradient_horizon_recorded_or_not(qapp, monkeypatch, tmp_path, capsys):
    seen = spy(monkeypatch, lambda w: (None if w.rows is None else w.rows.copy(),
                                       w.message.isVisibleTo(w)))
    path = horizon_experiment(tmp_path)
    px = pixels(draw(str(path), "horizon"))
    rows, message = seen[-1]
    assert rows is not None and rows.shape == (20, 4) and not message
    assert px.std() > 20 and plotted(px) > 0.1            # the heatmap and the curves
    assert "note:" not in capsys.readouterr().err
    out = tmp_path / "none.png"                            # nothing recorded: said, drawn
    assert render.main(["hello_rnn", "--panel", "horizon", "--out", str(out)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("note: hello_rnn has no gradient horizon recorded"), err
    assert seen[-1][1] and pixels(out.read_bytes()).std() > 5   # "Train the model..."


def test_a_background_job_past_the_timeout_is_one_line_and_exit_2(qapp, monkeypatch,
                                                                  tmp_path, capsys):
    from ui.panels.insight import ConnectivityJob

    monkeypatch.setattr(ConnectivityJob, "start", lambda self, *a: self.busy.emit(True))
    with pytest.raises(render.UsageError, match=r"--timeout: computing the connectivity took "
                                                r"longer than 0\.2 s; give a longer --timeout"):
        draw("hello_rnn", "connectivity", timeout=0.2)
    out = tmp_path / "x.png"
    assert render.main(["hello_rnn", "--panel", "connectivity", "--timeout", "0.2",
                        "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --timeout: computing the")
    assert not out.exists()


def test_a_failed_connectivity_is_an_error(qapp, monkeypatch):
    import playground.tracing.connectivity as C

    def broken(*a, **kw):
        raise ValueError("no gradient here")

    monkeypatch.setattr(C, "connectivity", broken)
    with pytest.raises(PlaygroundError, match="--panel connectivity: cannot compute the "
                                              "connectivity: no gradient here"):
        draw("hello_rnn", "connectivity")


@pytest.mark.parametrize("panel", ["connectivity", "neurons", "horizon", "trajectory"])
def test_the_panels_with_background_work_are_not_in_compare_mode(panel):
    with pytest.raises(render.UsageError, match=f"--panel {panel} does not exist in compare "
                                                "mode; choose one of hidden"):
        draw_compare("adding_rnn", ["adding_lstm"], panel)
