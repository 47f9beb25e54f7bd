"""``playground.show``: the window on a user's own ``torch.nn.Module``. The panels draw
``playground.inspect``'s records (the LSTM's last layer checked against ``nn.LSTM``'s own
output), the timeline steps through them, the Model dock lists ``named_modules()`` and a
click on a recorded module switches the layer, a what-if re-runs the model, training and
saving are off, the model is left as it was; ``python main.py inspect`` without ``--out``
opens the window."""

from __future__ import annotations

import functools
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PySide6 import QtCore, QtWidgets
from torch import nn

import playground as pg
import ui.show
from ui.show import main_inspect, show
from ui.testing import no_running_qt  # noqa: F401


class CharLM(nn.Module):
    def __init__(self, vocab=11, hidden=12):
        super().__init__()
        self.emb = nn.Embedding(vocab, 6)
        self.lstm = nn.LSTM(6, hidden, num_layers=2, batch_first=True)
        self.fc = nn.Linear(hidden, vocab)

    def forward(self, x):
        return self.fc(self.lstm(self.emb(x))[0])


class GRUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(3, 5), nn.Tanh())
        self.gru = nn.GRU(5, 7, batch_first=True)
        self.head = nn.Linear(7, 2)

    def forward(self, x):
        return self.head(self.gru(self.enc(x))[0])


def wait_until(done, timeout: float = 30.0) -> None:
    """Run the event loop until ``done()`` (a what-if in the background has arrived)."""
    import time

    end = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < end, "timed out"
        QtWidgets.QApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)


def ce(out, y):
    return F.cross_entropy(out.transpose(1, 2), y, reduction="none")    # (B, T)


def mse(out, y):
    return ((out - y) ** 2).mean(-1)


def char_case():
    torch.manual_seed(0)
    x = torch.randint(0, 11, (1, 9))
    return CharLM(), x, x.roll(-1, 1), ce


def gru_case():
    torch.manual_seed(1)
    return GRUNet(), torch.randn(1, 8, 3), torch.randn(1, 8, 2), mse


def snapshot(model):
    return ({k: v.detach().clone() for k, v in model.state_dict().items()},
            {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()},
            [m.training for m in model.modules()])


def assert_unchanged(model, before):
    state, grads, modes = before
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    for n, p in model.named_parameters():
        assert (p.grad is None) == (grads[n] is None), n
        if p.grad is not None:
            assert torch.equal(p.grad, grads[n]), n
    assert [m.training for m in model.modules()] == modes


@pytest.fixture
def opened(tmp_path, qtbot):
    wins = []

    def open_(case):
        model, x, y, loss = case()
        settings = QtCore.QSettings(str(tmp_path / "settings.ini"),
                                    QtCore.QSettings.Format.IniFormat)
        before = snapshot(model)
        win = show(model, x, y, loss, block=False, settings=settings)
        wins.append(win)
        QtWidgets.QApplication.processEvents()
        return win, model, x, y, loss, before

    open_.tmp, open_.wins = tmp_path, wins
    yield open_
    for w in wins:
        w.close()
        w.deleteLater()
    QtWidgets.QApplication.processEvents()


@pytest.mark.parametrize("case, first, gate", [(char_case, "lstm", "f"), (gru_case, "gru", "z")])
def test_show_draws_inspect_and_steps(opened, case, first, gate):
    win, model, x, y, loss, before = opened(case)
    c = win.controller
    ref = pg.inspect(model, x, y, loss)
    rec = ref.layer(first)
    assert c.inspected is not None and c.model is None
    assert pg.show is show                          # playground.show: the window, on first use
    assert win.timeline.n_steps == x.shape[1]
    assert c.rec_sel == (first, 0, 0)
    np.testing.assert_allclose(c.trace.layer(first).h, rec.h, rtol=0, atol=0)
    np.testing.assert_allclose(win.panels["h"].heat.data, rec.h[0].T, rtol=1e-6, atol=1e-7)
    assert c.view().dh_norm is not None and np.isfinite(c.view().dh_norm).all()
    assert np.isclose(c.trace.loss, ref.loss)
    # stepping moves the current step (and the panels' cursor with it)
    assert win.timeline.step == 0
    for _ in range(3):
        win.controls.next_btn.click()
    QtWidgets.QApplication.processEvents()
    assert win.timeline.step == 3
    assert win.panels["h"].bars.values is not None
    np.testing.assert_allclose(win.panels["h"].bars.values, rec.h[0, 3], rtol=1e-6, atol=1e-7)
    win.controls.last_btn.click()
    assert win.timeline.step == x.shape[1] - 1
    # the Model dock lists every module; the recorded ones are marked
    tree = win.module_tree
    assert win.docks["canvas"].widget() is tree
    assert list(tree.items) == [n for n, _ in model.named_modules()]
    assert tree.recorded_names() == sorted({r.node for r in ref.layers},
                                           key=list(tree.items).index)
    # training, saving and the gallery are off, with the reason
    for key in ("save", "save_as", "export", "gallery", "open", "new"):
        assert not win.menus[key].isEnabled() and "your own model" in win.menus[key].toolTip()
    assert not win.docks["training"].widget().isEnabled()
    assert "not here" in c.save("x.json") and "not here" in c.start_training(5)
    # what-if from the What-if dock: the gate clamped at step 2 changes the later h
    whatif = win.dock_widget("whatif", show=True)
    win.timeline.step = 2
    whatif.target.setCurrentIndex(whatif.target.findData(gate))
    whatif.value.setValue(1.0 if gate == "f" else 0.0)
    whatif.span.setCurrentIndex(whatif.span.findData(None))      # to the end
    assert whatif.apply()
    iv = pg.Intervention(first, step=2, target=gate, value=whatif.value.value(), span=None)
    # (a what-if slower than a frame runs in a thread: a loaded machine makes this one slow)
    wait_until(lambda: c.interventions == (iv,))
    alt = pg.inspect(model, x, y, loss, [iv]).layer(first).h
    np.testing.assert_allclose(c.trace.layer(first).h, alt, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(c.trace.layer(first).h[:, :2], rec.h[:, :2], atol=1e-7)
    assert np.abs(c.trace.layer(first).h[:, 3:] - rec.h[:, 3:]).max() > 1e-4
    assert c.base_trace is not None and np.array_equal(c.base_trace.layer(first).h, rec.h)
    np.testing.assert_allclose(win.panels["h"].heat.data, alt[0].T, rtol=1e-6, atol=1e-7)
    whatif.restore()
    assert c.interventions == () and c.base_trace is None
    np.testing.assert_allclose(c.trace.layer(first).h, rec.h, rtol=0, atol=0)
    assert_unchanged(model, before)
    assert model.training


def test_lstm_record_is_nn_lstms_own_output(opened):
    win, model, x, y, loss, before = opened(char_case)
    with torch.no_grad():
        out, (hn, cn) = model.lstm(model.emb(x))
    c = win.controller
    top = c.trace.layer("lstm", 1, 0)
    np.testing.assert_allclose(top.h, out.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(top.c[:, -1], cn[1].numpy(), rtol=1e-5, atol=1e-6)
    # the layer choice lists the records; choosing one shows it
    assert [ch[:3] for ch in c.layer_choices()] == [("lstm", 0, 0), ("lstm", 1, 0)]
    win.layer_combo.chosen.emit(("lstm", 1, 0))
    QtWidgets.QApplication.processEvents()
    np.testing.assert_allclose(win.panels["h"].heat.data, out[0].numpy().T, rtol=1e-5,
                               atol=1e-6)
    assert_unchanged(model, before)


def test_selecting_a_module_switches_the_layer(opened):
    win, model, x, y, loss, _ = opened(gru_case)
    c, tree = win.controller, win.module_tree
    # a GRU model has one recorded module; a second model with two shows the switch
    assert c.rec_sel == ("gru", 0, 0)
    assert not tree.choose("head")            # not recorded: nothing changes
    assert c.rec_sel == ("gru", 0, 0)


class TwoRNNs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.GRU(3, 4, batch_first=True)
        self.b = nn.LSTM(4, 5, batch_first=True)
        self.out = nn.Linear(5, 2)

    def forward(self, x):
        return self.out(self.b(self.a(x)[0])[0])


def two_case():
    torch.manual_seed(2)
    return TwoRNNs(), torch.randn(1, 6, 3), torch.randn(1, 6, 2), mse


def test_clicking_a_recorded_module_shows_it(opened):
    win, model, x, y, loss, _ = opened(two_case)
    c, tree = win.controller, win.module_tree
    assert c.rec_sel == ("a", 0, 0)
    item = tree.items["b"]
    tree.tree.itemClicked.emit(item, 0)
    QtWidgets.QApplication.processEvents()
    assert c.rec_sel == ("b", 0, 0)
    assert tree.tree.currentItem() is item
    np.testing.assert_allclose(win.panels["h"].heat.data, c.trace.layer("b").h[0].T,
                               rtol=1e-6)
    assert win.panels["c"].heat.data is not None     # an LSTM now: its cell state too
    whatif = win.dock_widget("whatif")
    assert whatif.target.findData("f") >= 0          # the targets follow the layer
    win.layer_combo.chosen.emit(("a", 0, 0))
    QtWidgets.QApplication.processEvents()
    assert tree.tree.currentItem() is tree.items["a"]


class TwiceLSTM(nn.Module):
    """One LSTM called twice in one forward: a record per call."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 4, batch_first=True)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        a, _ = self.lstm(x)
        b, _ = self.lstm(a)
        return self.out(b)


def twice_case():
    torch.manual_seed(5)
    return TwiceLSTM(), torch.randn(1, 7, 4), torch.randn(1, 7, 2), mse


def test_every_call_of_a_module_is_a_choice(opened):
    win, model, x, y, loss, before = opened(twice_case)
    c, combo = win.controller, win.layer_combo
    ref = pg.inspect(model, x, y, loss)
    first, second = ref.layer("lstm"), ref.layer("lstm", 0, 0, call=1)
    assert (first.call, second.call) == (0, 1)
    assert np.abs(first.h - second.h).max() > 1e-3
    # two entries, told apart; the first call is shown at first
    assert c.layer_choices() == [("lstm", 0, 0, "lstm layer 0 (call 1)"),
                                 ("lstm", 0, 0, 1, "lstm layer 0 (call 2)")]
    assert combo.count() == 2 and combo.itemText(0) != combo.itemText(1)
    assert c.rec_sel == ("lstm", 0, 0) and combo.currentIndex() == 0
    np.testing.assert_allclose(win.panels["h"].heat.data, first.h[0].T, rtol=1e-6, atol=1e-7)
    # choosing the second shows the second call
    combo.setCurrentIndex(1)
    QtWidgets.QApplication.processEvents()
    assert c.rec_sel == ("lstm", 0, 0, 1)
    assert c.view().rec is c.trace.layer("lstm", 0, 0, 1)
    np.testing.assert_allclose(c.view().rec.h, second.h, rtol=0, atol=0)
    np.testing.assert_allclose(win.panels["h"].heat.data, second.h[0].T, rtol=1e-6,
                               atol=1e-7)
    # stepping follows the second call
    for _ in range(4):
        win.controls.next_btn.click()
    QtWidgets.QApplication.processEvents()
    assert win.timeline.step == 4
    np.testing.assert_allclose(win.panels["h"].bars.values, second.h[0, 4], rtol=1e-6,
                               atol=1e-7)
    # a what-if acts on the call on view (the second) and keeps it shown
    whatif = win.dock_widget("whatif", show=True)
    win.timeline.step = 2
    whatif.target.setCurrentIndex(whatif.target.findData("f"))
    whatif.value.setValue(1.0)
    whatif.span.setCurrentIndex(whatif.span.findData(None))
    assert whatif.apply()
    iv = pg.Intervention("lstm", step=2, target="f", value=1.0, span=None, call=1)
    wait_until(lambda: c.interventions == (iv,))
    alt = pg.inspect(model, x, y, loss, [iv]).layer("lstm", 0, 0, 1).h
    np.testing.assert_array_equal(c.trace.layer("lstm").h, first.h)   # call 0 as it was
    assert "f = 1 at lstm (call 2) step 2" in whatif.state.text()
    assert c.rec_sel == ("lstm", 0, 0, 1) and combo.currentIndex() == 1
    np.testing.assert_allclose(c.view().rec.h, alt, rtol=1e-6, atol=1e-7)
    assert np.abs(alt[:, 3:] - second.h[:, 3:]).max() > 1e-4
    assert c.view().base_rec is c.base_trace.layer("lstm", 0, 0, 1)
    np.testing.assert_allclose(win.panels["h"].heat.data, alt[0].T, rtol=1e-6, atol=1e-7)
    whatif.restore()
    np.testing.assert_allclose(c.view().rec.h, second.h, rtol=0, atol=0)
    # a click on the module in the Model dock goes back to its first call
    tree = win.module_tree
    tree.tree.itemClicked.emit(tree.items["lstm"], 0)
    QtWidgets.QApplication.processEvents()
    assert c.rec_sel == ("lstm", 0, 0) and combo.currentIndex() == 0
    np.testing.assert_allclose(win.panels["h"].heat.data, first.h[0].T, rtol=1e-6, atol=1e-7)
    assert_unchanged(model, before)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 6, batch_first=True)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        return self.fc(self.gru(x)[0][:, -1])          # one output per sequence: (B, C)


class TimeMajor(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 5)                        # (T, B, F)
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        return self.fc(self.rnn(x)[0])


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.enc = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, dropout=0.0)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(self.enc(self.emb(x)))


def test_outputs_that_are_not_batch_first_per_step(opened):
    torch.manual_seed(3)
    x = torch.randn(2, 9, 3)
    win, model, *_ = opened(lambda: (Classifier(), x, torch.tensor([1, 2]),
                                     lambda o, y: F.cross_entropy(o, y)))
    c = win.controller
    assert win.timeline.n_steps == 9 and c.trace.outputs.shape == (2, 9, 4)
    with torch.no_grad():
        ref = model(x).numpy()
    assert np.isnan(c.trace.outputs[:, :-1]).all()
    np.testing.assert_allclose(c.trace.outputs[:, -1], ref, rtol=1e-5, atol=1e-6)
    win.controls.last_btn.click()
    QtWidgets.QApplication.processEvents()
    x = torch.randn(7, 2, 3)
    win, model, *_ = opened(lambda: (TimeMajor(), x, torch.zeros(7, 2, 2), mse))
    c = win.controller
    assert win.timeline.n_steps == 7 and c.trace.outputs.shape == (2, 7, 2)
    with torch.no_grad():
        np.testing.assert_allclose(c.trace.outputs, model(x).transpose(0, 1).numpy(),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(c.trace.layer("rnn").h[:, :, :],
                                   model.rnn(x)[0].transpose(0, 1).numpy(), rtol=1e-5,
                                   atol=1e-6)
    assert c.view().step_loss.shape == (7,)


def test_an_attention_only_model_shows_its_attention(opened):
    torch.manual_seed(4)
    x = torch.randint(0, 10, (1, 7))
    win, model, *_ = opened(lambda: (SelfAttention(), x, x,
                                     lambda o, y: F.cross_entropy(o[0], y[0])))
    c = win.controller
    assert c.rec_sel is None and c.attn_sel == "enc.self_attn"
    assert c.view().attn is not None and win.timeline.n_steps == 7
    assert "enc.self_attn" in win.module_tree.recorded_names()
    assert win.module_tree.choose("enc.self_attn")
    assert not win.whatif.apply_btn.isEnabled()        # nothing recurrent to force


class Dropped(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.fc = nn.Linear(6, 1)

    def forward(self, x):
        return self.fc(self.lstm(self.drop(x))[0])


def test_dropout_in_training_mode_is_the_same_in_a_whatif(opened):
    torch.manual_seed(5)
    x, net = torch.randn(1, 10, 4), Dropped()
    rng = torch.get_rng_state()
    win, model, *_ = opened(lambda: (net, x, torch.zeros(1, 10, 1), mse))
    assert model.training and torch.equal(torch.get_rng_state(), rng)   # the user's, as it was
    c = win.controller
    base = c.trace.layer("lstm").h
    iv = pg.Intervention("lstm", step=6, target="o", value=0.0)
    assert c.apply_interventions([iv])
    wait_until(lambda: c.interventions == (iv,))     # (in a thread when slow)
    assert torch.equal(torch.get_rng_state(), rng)
    h = c.trace.layer("lstm").h
    np.testing.assert_array_equal(h[:, :6], base[:, :6])     # the same units dropped
    assert np.abs(h[:, 6]).max() == 0.0
    # a what-if that cannot run says why in the status bar; the trace stays
    assert not c.apply_interventions([pg.Intervention("fc", step=1, target="h", value=0.0)])
    assert "fc" in win.statusBar().currentMessage()
    assert c.trace.layer("lstm").h is h
    win.statusBar().clearMessage()


def test_in_a_jupyter_kernel_show_returns_at_once(opened, monkeypatch):
    import types

    guis = []
    shell = types.SimpleNamespace(kernel=object(), enable_gui=guis.append)
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    model, x, y, loss = gru_case()
    settings = QtCore.QSettings(str(opened.tmp / "j.ini"), QtCore.QSettings.Format.IniFormat)
    win = show(model, x, y, loss, settings=settings)            # block=None: auto
    opened.wins.append(win)
    assert guis == ["qt"] and win.isVisible() and win in ui.show._OPEN


def test_show_reports_a_model_that_cannot_be_traced(qapp, tmp_path):
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    with pytest.raises(pg.PlaygroundError, match="targets were given without a loss_fn"):
        show(GRUNet(), torch.randn(1, 4, 3), torch.randn(1, 4, 2), None, block=False,
             settings=settings)
    QtWidgets.QApplication.processEvents()


MODEL_FILE = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(7, 4)
        self.rnn = nn.LSTM(4, 6, batch_first=True)
        self.fc = nn.Linear(6, 7)

    def forward(self, x):
        return self.fc(self.rnn(self.emb(x))[0])

def make():
    torch.manual_seed(0)
    return Net()
"""


def test_main_inspect_without_out_opens_the_window(tmp_path, qtbot, monkeypatch):
    import main as entry

    (tmp_path / "net.py").write_text(MODEL_FILE)
    x = torch.randint(0, 7, (1, 5))
    torch.save(x, tmp_path / "x.pt")
    torch.save(x.roll(-1, 1), tmp_path / "y.pt")
    monkeypatch.setattr(ui.show, "main_inspect",
                        lambda argv, block=True: main_inspect(argv, block=False))
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    monkeypatch.setattr(ui.show, "show", functools.partial(show, settings=settings))
    code = entry.main(["inspect", f"{tmp_path / 'net.py'}:make", "--input",
                       str(tmp_path / "x.pt"), "--targets", str(tmp_path / "y.pt"),
                       "--loss", "cross_entropy"])
    assert code == 0
    win = ui.show.last_window
    try:
        assert win.isVisible() and win.controller.inspected is not None
        assert win.controller.trace.layer("rnn").h.shape == (1, 5, 6)
        assert win.controller.trace.loss is not None
        assert "rnn" in win.module_tree.recorded_names()
        assert win.windowTitle().startswith("Net (net.py:make)")
    finally:
        win.close()
        win.deleteLater()
        QtWidgets.QApplication.processEvents()


def test_main_inspect_problems_are_one_line(tmp_path, capsys):
    assert main_inspect([f"{tmp_path / 'none.py'}:make", "--input", "x.pt"], block=False) == 2
    assert "no file" in capsys.readouterr().err
