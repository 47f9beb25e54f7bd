"""File > Export as PyTorch from the window: the script, its weights and the data set the
experiment trains on (the script's ``--train NAME_data.pt``), named in the status bar."""

from __future__ import annotations

import torch

from playground.files.experiment import resolve
from playground.files.export import dataset_tensors
from ui.testing import close_window, make_window, no_running_qt  # noqa: F401


def test_export_writes_the_data_set_beside_the_script(tmp_path, qtbot):
    win = make_window(tmp_path, str(resolve("reverse_attention")))
    try:
        win.files.ask_path = lambda *a: str(tmp_path / "rev")
        assert win.menus["export"].isEnabled()
        win.menus["export"].trigger()
        for name in ("rev.py", "rev.pt", "rev_data.pt"):
            assert (tmp_path / name).exists(), name
        message = win.statusBar().currentMessage()
        assert "rev_data.pt" in message and "--train rev_data.pt" in message
        assert "--train rev_data.pt" in (tmp_path / "rev.py").read_text()
        data = torch.load(tmp_path / "rev_data.pt", weights_only=True)
        c = win.controller
        want = dataset_tensors(c.model, c.dataset, c.train_config)
        assert set(data["inputs"]) == {"src", "tgt"}
        for key in ("targets", "mask"):
            assert torch.equal(data[key], want[key])
        for nid in ("src", "tgt"):
            assert torch.equal(data["inputs"][nid], want["inputs"][nid])
    finally:
        close_window(win)
