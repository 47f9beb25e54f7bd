"""``.npy`` format versions 1.0, 2.0 and 3.0 (version 2.0 with a UTF-8 header, which numpy
writes for field names latin-1 cannot spell) are read through the same checks; a 3.0
header that is not a plain numeric array's is refused as damaged, without reading on."""

import io

import numpy as np
import pytest
from numpy.lib import format as npformat

from playground.data.sources import read_array
from playground.errors import FileFormatError


def written(arr, version) -> bytes:
    buf = io.BytesIO()
    npformat.write_array(buf, arr, version=version)
    return buf.getvalue()


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_every_npy_version_reads_the_array_numpy_wrote(tmp_path, version):
    arr = np.arange(24, dtype=np.float32).reshape(4, 6) / 7
    f = tmp_path / "a.npy"
    f.write_bytes(written(arr, version))
    assert f.read_bytes()[6:8] == bytes(version)
    got = read_array(str(f))                 # read as sequences: (N, T, F) or (N, T)
    np.testing.assert_array_equal(np.asarray(got).reshape(arr.shape), np.load(f))


def test_a_version_3_header_cut_short_or_too_long_is_damaged(tmp_path):
    good = written(np.arange(5.0), (3, 0))
    f = tmp_path / "a.npy"
    for data in (good[:14],                                        # header cut short
                 good[:8] + (2 ** 31).to_bytes(4, "little") + good[12:],  # 2 GB header
                 good[:8] + good[8:12] + good[12:].replace(b"'<f8'", "'\u00e9f8'".encode()[:5])):
        f.write_bytes(data)
        with pytest.raises(FileFormatError, match="a.npy: the array has a damaged .npy header"):
            read_array(str(f))


def test_an_unknown_version_is_still_refused(tmp_path):
    data = bytearray(written(np.arange(3.0), (2, 0)))
    data[6:8] = b"\x04\x00"
    f = tmp_path / "a.npy"
    f.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match="version 4.0"):
        read_array(str(f))
