"""Hostile data files: every one fails fast with a typed PlaygroundError naming the file,
never an untyped exception, a hang or an allocation by what the file claims (issue 15)."""

from __future__ import annotations

import io
import json
import os
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npformat

from playground.data import filechecks
from playground.data.config import make_dataset
from playground.data.sources import read_array, read_csv, read_text
from playground.errors import FileFormatError, PlaygroundError
from playground.files.experiment import load

ROOT = Path(__file__).resolve().parents[2]
SECONDS = 5
PEAK = 32 * 2**20       # bytes a refused file may cost; every claim below is far larger


def refused(fn, *args, **kw) -> PlaygroundError:
    """The PlaygroundError ``fn(*args)`` raises, checked to come within :data:`SECONDS` and
    to allocate less than :data:`PEAK` bytes on the way."""
    out: dict = {}

    def run():
        tracemalloc.start()
        try:
            fn(*args, **kw)
        except BaseException as e:  # noqa: BLE001  (judged below, in the test's thread)
            out["error"] = e
        finally:
            out["peak"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()

    start = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(SECONDS)
    assert not thread.is_alive(), f"{fn.__name__} still running after {SECONDS} s"
    assert time.monotonic() - start < SECONDS
    error = out.get("error")
    assert isinstance(error, PlaygroundError), f"expected a PlaygroundError, got {error!r}"
    assert out["peak"] < PEAK, f"allocated {out['peak']:,} bytes"
    return error


def npy_header(shape, dtype="<f8", version=(1, 0)) -> bytes:
    """The bytes of an ``.npy`` header that claims ``shape`` (no data after it)."""
    buf = io.BytesIO()
    d = {"descr": dtype, "fortran_order": False, "shape": tuple(shape)}
    (npformat.write_array_header_1_0 if version == (1, 0) else
     npformat.write_array_header_2_0)(buf, d)
    return buf.getvalue()


def npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def zip_of(path, members: dict[str, bytes], method=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


# -- .npy / .npz -------------------------------------------------------------------------------


def test_truncated_npz(tmp_path):
    whole = tmp_path / "whole.npz"
    np.savez_compressed(whole, a=np.arange(1000.0))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(whole.read_bytes()[:-60])
    e = refused(read_array, str(cut))
    assert "cut.npz" in str(e) and "truncated" in str(e)


def test_npz_member_that_is_not_npy(tmp_path):
    f = zip_of(tmp_path / "notes.npz", {"a.npy": b"hello, not an array"})
    e = refused(read_array, str(f))
    assert "notes.npz: array 'a' is not a NumPy array" in str(e)
    g = zip_of(tmp_path / "readme.npz", {"readme.txt": b"plain text"})
    assert "array 'readme.txt' is not a NumPy array" in str(refused(read_array, str(g)))


def test_npy_header_claiming_a_trillion_values(tmp_path):
    f = tmp_path / "huge.npy"
    f.write_bytes(npy_header((10**6, 10**6)) + b"\0" * 64)
    e = refused(read_array, str(f))
    assert "huge.npy" in str(e) and "1,000,000,000,000 values" in str(e)
    assert f"{filechecks.MAX_ARRAY_ELEMENTS:,}" in str(e)
    g = tmp_path / "huge2.npy"
    g.write_bytes(npy_header((10**12,), version=(2, 0)) + b"\0" * 64)
    assert "more than" in str(refused(read_array, str(g)))


def test_npz_member_claiming_2_gb_is_too_large_not_objects(tmp_path):
    f = zip_of(tmp_path / "big.npz", {"a.npy": npy_header((2**28,)) + b"\0" * 64})
    e = refused(read_array, str(f))
    assert "big.npz: array 'a' has shape (268435456,)" in str(e) and "more than" in str(e)
    assert "Python objects" not in str(e)


def test_object_arrays_still_refused(tmp_path):
    objects = np.array([{"a": 1}], dtype=object)
    f = zip_of(tmp_path / "obj.npz", {"x.npy": _pickled(objects)})
    assert "obj.npz: array 'x' holds Python objects" in str(refused(read_array, str(f)))
    g = tmp_path / "obj.npy"
    np.save(g, objects, allow_pickle=True)
    assert "obj.npy: the array holds Python objects" in str(refused(read_array, str(g)))


def _pickled(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def test_npy_cut_short(tmp_path):
    f = tmp_path / "short.npy"
    f.write_bytes(npy_bytes(np.arange(1000.0))[:-8])
    assert "short.npy: the array is cut short" in str(refused(read_array, str(f)))


def test_zip_bomb_unpacked_size(tmp_path, monkeypatch):
    # 64 MB of zeros deflate to ~64 kB; the limit is lowered so the test stays small.
    f = zip_of(tmp_path / "bomb.npz", {"a.npy": npy_bytes(np.zeros(8 * 2**20))})
    assert f.stat().st_size < 2**20
    monkeypatch.setattr(filechecks, "MAX_NPZ_BYTES", 16 * 2**20)
    e = refused(read_array, str(f))
    assert "bomb.npz: the archive unpacks to 64 MB, more than the 16 MB" in str(e)


def test_zip_bomb_many_members(tmp_path):
    members = {f"a{i}.npy": b"" for i in range(filechecks.MAX_NPZ_MEMBERS + 1)}
    f = zip_of(tmp_path / "many.npz", members, zipfile.ZIP_STORED)
    e = refused(read_array, str(f), "a0")
    assert "many.npz" in str(e) and "1,001 members" in str(e)


def test_zip_member_whose_sizes_lie(tmp_path):
    # The directory says the member unpacks to 200 bytes; its header promises 8 MB of data
    # (zipfile stops at the 200 and finds the checksum wrong).
    f = zip_of(tmp_path / "liar.npz", {"a.npy": npy_bytes(np.zeros(2**20))})
    raw = bytearray(f.read_bytes())
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = raw.find(sig)
        raw[i + at:i + at + 4] = (200).to_bytes(4, "little")
    f.write_bytes(bytes(raw))
    e = refused(read_array, str(f))
    assert "liar.npz: array 'a'" in str(e) and "damaged" in str(e)


def test_npz_reads_no_more_than_the_header_promises(tmp_path):
    # A valid 10-value array followed by 64 MB of zeros: only the 80 bytes are unpacked.
    f = zip_of(tmp_path / "tail.npz", {"a.npy": npy_bytes(np.arange(10.0)) + bytes(64 * 2**20)})
    tracemalloc.start()
    arr = read_array(str(f))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert arr[0, :, 0].tolist() == list(range(10)) and peak < PEAK


# -- text and CSV ------------------------------------------------------------------------------


@pytest.mark.parametrize("name, reader", [("big.txt", read_text), ("big.csv", read_csv)])
def test_oversized_text_and_csv_refused_before_reading(tmp_path, name, reader):
    f = tmp_path / name
    with open(f, "wb") as out:       # a sparse file: 300 MB by its size, nothing on disk
        out.truncate(300 * 2**20)
    e = refused(reader, str(f))
    assert f"{name}: the file is 300 MB, more than the" in str(e)


def test_csv_with_a_million_columns(tmp_path):
    f = tmp_path / "wide.csv"
    f.write_text("1," * 10**6 + "1\n" + "2," * 10**6 + "2\n")
    e = refused(read_csv, str(f))
    assert "wide.csv: line 1 has 1,000,001 columns" in str(e)
    assert f"{filechecks.MAX_CSV_COLUMNS:,}" in str(e)


def test_csv_with_too_many_values(tmp_path, monkeypatch):
    monkeypatch.setattr(filechecks, "MAX_CSV_CELLS", 1000)
    f = tmp_path / "long.csv"
    f.write_text("a,b\n" + "1,2\n" * 600)
    assert "long.csv: holds more than 1,000 values (row 502)" in str(refused(read_csv, str(f)))


@pytest.mark.parametrize("reader", [read_text, read_csv, read_array])
def test_fifo_is_refused_without_blocking(tmp_path, reader):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    try:
        e = refused(reader, str(fifo))
    finally:   # should a reader block in open(), give it an end of file and let it go
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    assert "pipe.txt: is a named pipe (FIFO), not a regular file" in str(e)


def test_folder_is_refused(tmp_path):
    (tmp_path / "data.csv").mkdir()
    assert "data.csv: is a folder" in str(refused(read_csv, str(tmp_path / "data.csv")))


@pytest.mark.parametrize("text", ["t;temp;rain\n1;20,5;0\n2;21,0;1\n3;19,5;0\n",
                                  "t\ttemp\train\n1\t20.5\t0\n2\t21.0\t1\n3\t19.5\t0\n",
                                  "1;20,5;0\n2;21,0;1\n3;19,5;0\n"])
def test_semicolon_and_tab_csv_read_correctly(tmp_path, text):
    f = tmp_path / "euro.csv"
    f.write_text(text)
    values, names = read_csv(str(f))
    assert values.tolist() == [[1, 20.5, 0], [2, 21, 1], [3, 19.5, 0]]
    assert names[1] in ("temp", "column 1")


def test_wrong_delimiter_says_which_one_it_seems(tmp_path):
    f = tmp_path / "semi.csv"
    f.write_text("1;2\n3;4\n")
    e = refused(read_csv, str(f), delimiter=",")
    assert "semi.csv: row 2, column '1;2': '3;4' is not a number; this CSV seems separated " \
        "by ';'" in str(e)


# -- through an experiment -----------------------------------------------------------------------


def test_hostile_files_name_themselves_through_make_dataset_and_experiments(tmp_path):
    (tmp_path / "huge.npy").write_bytes(npy_header((10**12,)) + b"\0" * 64)
    e = refused(make_dataset, {"source": "file", "path": "huge.npy"}, base_dir=str(tmp_path))
    assert isinstance(e, FileFormatError)
    assert str(e).startswith("data.path: huge.npy: the array has shape (1000000000000,)")
    d = json.loads((ROOT / "presets" / "hello_rnn.json").read_text())
    d["data"] = {"source": "file", "path": "huge.npy"}
    exp = tmp_path / "e.json"
    exp.write_text(json.dumps(d))
    e = refused(load, exp)
    assert str(e).startswith(f"{exp}: data.path: huge.npy: the array has shape")
