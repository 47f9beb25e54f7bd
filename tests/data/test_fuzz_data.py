"""Fuzzed data files (issue 15): valid .npy, .npz, CSV and text files with bytes flipped,
cut or inserted fail only with the core's typed errors, in seconds."""

from __future__ import annotations

import io
import time

import numpy as np
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from playground.data.sources import read_array, read_csv, read_text
from playground.errors import PlaygroundError


def _npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.arange(60, dtype=np.float32).reshape(20, 3))
    return buf.getvalue()


def _npz() -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, series=np.linspace(0, 1, 90).reshape(30, 3), other=np.ones(4))
    return buf.getvalue()


SEEDS = {
    "a.npy": (_npy(), lambda p: read_array(p)),
    "a.npz": (_npz(), lambda p: read_array(p, "series")),
    "a.csv": (b"t,x,y\n" + b"".join(b"%d,%.2f,%.2f\n" % (i, i / 3, -i) for i in range(40)),
              lambda p: read_csv(p)),
    "a.txt": ("hello world, héllo again\n".encode() * 20, lambda p: read_text(p)),
}


def _mutate(data: bytes, ops: list[tuple[int, int, int]]) -> bytes:
    b = bytearray(data)
    for kind, pos, val in ops:
        if not b:
            break
        i = pos % len(b)
        if kind == 0:
            b[i] = val
        elif kind == 1:
            del b[i:]
        elif kind == 2:
            b[i:i] = bytes([val]) * (1 + val % 7)
        else:
            b[i:i + 4] = (val * 16777619 % 2 ** 32).to_bytes(4, "little")   # a size field
    return bytes(b)


@seed(15)
@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(SEEDS)),
       ops=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10 ** 6), st.integers(0, 255)),
                    min_size=1, max_size=4))
def test_fuzzed_data_files_fail_only_with_typed_errors(tmp_path, name, ops):
    data, read = SEEDS[name]
    path = tmp_path / name
    path.write_bytes(_mutate(data, ops))
    t0 = time.perf_counter()
    try:
        read(str(path))
    except PlaygroundError as e:
        assert str(e).strip()
    assert time.perf_counter() - t0 < 5.0
