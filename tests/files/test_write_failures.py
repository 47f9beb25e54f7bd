"""A failed write at the core's file boundary is one typed error and leaves nothing behind
(issue 15): export_pytorch and export_dataset remove their temporaries; a full disk, a
read-only folder, torch's failed write and no memory are each a FileAccessError (a
PlaygroundError, and an OSError still) with a plain sentence naming the file."""

import errno
import os

import pytest
import torch

from playground.errors import FileAccessError, PlaygroundError, file_boundary
from playground.files import export
from playground.files.experiment import PRESETS_DIR, load

TORCH_FAILED = ("[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed "
                "writing file data/0: file write failed")


@pytest.fixture
def hello():
    exp = load(PRESETS_DIR / "hello_rnn.json")
    return exp, exp.build_model(), exp.make_dataset()


def failing_save(monkeypatch, exc, after_bytes=10):
    """torch.save writes ``after_bytes`` bytes of its file, then raises ``exc``."""
    def save(obj, f, *a, **k):
        f.write(b"\0" * after_bytes)
        raise exc

    monkeypatch.setattr(torch, "save", save)


@pytest.mark.parametrize("exc, words", [
    (RuntimeError(TORCH_FAILED), "the disk may be full"),
    (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
    (MemoryError(), "not enough memory"),
])
def test_a_failed_export_leaves_no_file(tmp_path, monkeypatch, hello, exc, words):
    exp, model, data = hello
    failing_save(monkeypatch, exc)
    with pytest.raises(FileAccessError) as e:
        export.export_pytorch(model, tmp_path / "m.py")
    assert words in str(e.value) and "m.py" in str(e.value)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(PlaygroundError) as e:
        export.export_dataset(model, data, tmp_path / "m.py")
    assert words in str(e.value) and "m_data.pt" in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_keeps_the_last_export(tmp_path, monkeypatch, hello):
    exp, model, data = hello
    py, pt = export.export_pytorch(model, tmp_path / "m.py")
    out = export.export_dataset(model, data, py)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    failing_save(monkeypatch, RuntimeError(TORCH_FAILED))
    with pytest.raises(FileAccessError):
        export.export_pytorch(model, py)
    with pytest.raises(FileAccessError):
        export.export_dataset(model, data, py)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert {py.name, pt.name, out.name} == set(before)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root writes into a read-only folder")
def test_a_read_only_folder_is_said(tmp_path, hello):
    exp, model, _ = hello
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(FileAccessError) as e:
            export.export_pytorch(model, tmp_path / "m.py")
        assert "permission denied" in str(e.value)
    finally:
        tmp_path.chmod(0o700)


def test_a_failed_save_is_typed_and_keeps_the_pair(tmp_path, monkeypatch, hello):
    exp, model, _ = hello
    path = tmp_path / "mine.json"
    exp.save(path, model=model)
    before = sorted(p.name for p in tmp_path.iterdir())
    failing_save(monkeypatch, RuntimeError(TORCH_FAILED))
    with pytest.raises(FileAccessError) as e:
        exp.save(path, model=model)
    assert isinstance(e.value, OSError) and "cannot save it" in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    monkeypatch.undo()
    assert load(path).weights is not None


def test_the_boundary_passes_typed_errors_and_says_errno():
    from playground.errors import FileFormatError

    with pytest.raises(FileFormatError):
        with file_boundary("x.json", "open it", write=False):
            raise FileFormatError("bad", file="x.json")
    with pytest.raises(FileAccessError) as e:
        with file_boundary("x.json", "open it", write=False):
            raise RuntimeError("boom")
    assert str(e.value) == "x.json: cannot open it (boom)"
    with pytest.raises(FileAccessError) as e:
        with file_boundary("x.json", "save it"):
            raise PermissionError(errno.EACCES, "Permission denied")
    assert e.value.errno == errno.EACCES and str(e.value) == "x.json: cannot save it: " \
        "permission denied"


def test_opening_with_no_memory_is_typed(tmp_path, monkeypatch):
    from playground.files import experiment

    def no_memory(*a, **k):
        raise MemoryError

    monkeypatch.setattr(experiment, "build", no_memory)
    exp = load(PRESETS_DIR / "hello_rnn.json", weights=False)
    with pytest.raises(FileAccessError) as e:
        exp.build_model()
    assert "hello_rnn.json: cannot open it: not enough memory" in str(e.value)
