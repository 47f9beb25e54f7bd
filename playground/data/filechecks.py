"""Guards for the data files a user brings: a hostile file fails with a FileFormatError that
names it (and the array, line or column) before anything is allocated by what it claims.

A data path must be a regular file (a FIFO or a device would block ``open`` or never end)
no larger than its kind's limit. A CSV's first line is counted before it is parsed. NumPy
files are read by hand: the ``.npy`` header first (:mod:`numpy.lib.format`), its dtype and
shape checked against :data:`MAX_ARRAY_ELEMENTS` and :data:`MAX_ARRAY_BYTES`, then exactly
the bytes it promises, nothing ever unpickled. An ``.npz`` is a zip archive: its end record
is checked before :mod:`zipfile` reads the directory, then the member count and declared
sizes, and a member is read no further than its header promises, so neither a zip bomb nor
a lying size field inflates.
"""

from __future__ import annotations

import io
import math
import os
import stat
import zipfile
import zlib
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npformat

from ..errors import FileFormatError

MAX_TEXT_BYTES = 32 * 2**20        # a .txt for a character model (tiny-shakespeare: 1 MB)
MAX_CSV_BYTES = 200 * 2**20
MAX_CSV_COLUMNS = 10_000           # counted on the first line, before anything is parsed
MAX_CSV_CELLS = 10_000_000         # values read (rows x chosen columns): 40 MB as float32
MAX_ARRAY_ELEMENTS = 50_000_000    # 200 MB as float32
MAX_ARRAY_BYTES = 2**30            # the array's data as stored
MAX_NPZ_MEMBERS = 1_000
MAX_NPZ_BYTES = 2 * 2**30          # all members of an .npz together, once unpacked
MAX_NUMPY_FILE_BYTES = MAX_NPZ_BYTES
F32_MAX = float(np.finfo(np.float32).max)

_CHUNK = 16 * 2**20
_ENTRY_BYTES = 46 + 1024           # a zip directory entry: fixed part, name and extra fields
_END = b"PK\x05\x06"               # the zip end-of-central-directory record
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_DELIMITERS = (";", "\t", ",")     # ties go to the first: a ';' or tab CSV may hold 1,5


def size_text(n: int) -> str:
    """``n`` bytes for a message: ``512 bytes``, ``300 MB``."""
    return f"{n:,} bytes" if n < 2**20 else f"{n / 2**20:,.0f} MB"


def _what(mode: int) -> str:
    for test, what in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def _check_regular(st: os.stat_result, name: str, limit: int, kind: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise FileFormatError(f"is {_what(st.st_mode)}, not a regular file; choose a {kind} "
                              "saved on disk", file=name)
    if st.st_size > limit:
        raise FileFormatError(f"the file is {size_text(st.st_size)}, more than the "
                              f"{size_text(limit)} a {kind} may have here; use a smaller file",
                              file=name)


def open_regular(path: str, limit: int, kind: str) -> tuple[BinaryIO, int]:
    """``path`` opened for binary reading, and its size. Refused, without blocking, when it
    is missing, not a regular file (a FIFO, device or folder) or larger than ``limit``
    bytes; ``kind`` ("CSV file") names what it should be in the message."""
    name = os.path.basename(path)
    try:
        _check_regular(os.stat(path), name, limit, kind)   # never opens a device or pipe
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | _BINARY)
    except FileNotFoundError:
        raise FileFormatError("file not found", file=path) from None
    except OSError as e:
        raise FileFormatError(f"cannot read the file: {e.strerror or e}", file=path) from None
    try:
        st = os.fstat(fd)                  # the file opened, should it have changed since
        _check_regular(st, name, limit, kind)
        if _NONBLOCK and hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def too_large(name: str, kind: str, limit: int) -> FileFormatError:
    """The error for a file that grew past ``limit`` while it was read."""
    return FileFormatError(f"more than the {size_text(limit)} a {kind} may have here; use a "
                           "smaller file", file=name)


# -- CSV ---------------------------------------------------------------------------------------


def guess_delimiter(head: str) -> str:
    """The separator of a CSV from its first lines: the one of ``; tab ,`` that appears on
    the first line and as often on most of the others (``,`` when none does)."""
    lines = head.split("\n")
    lines = [ln for ln in lines[:-1] if ln.strip()][:20] or [lines[-1]]
    best, score = ",", 0
    for d in _DELIMITERS:
        n = lines[0].count(d)
        if n:
            same = sum(1 for ln in lines if ln.count(d) == n)
            if same > score:
                best, score = d, same
    return best


def check_width(text: str, delimiter: str, name: str) -> None:
    """Refuse a CSV whose first non-blank line has more than :data:`MAX_CSV_COLUMNS` columns,
    counted without parsing (a quoted separator only makes the count larger)."""
    start, end, line = 0, 0, 1
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        if end - start > 1024 or text[start:end].strip():
            break
        start, line = end + 1, line + 1
    columns = text.count(delimiter, start, max(start, end)) + 1
    if columns > MAX_CSV_COLUMNS:
        raise FileFormatError(f"line {line} has {columns:,} columns (separated by "
                              f"{delimiter!r}), more than the {MAX_CSV_COLUMNS:,} this program "
                              "reads; keep only the columns you need", file=name)


def lines_of(text: str):
    """The lines of ``text`` one at a time, ends kept, split on ``\\n`` only (for
    :func:`csv.reader`): a megabyte at a time, without the copy of the whole text that
    ``splitlines`` or one ``StringIO`` would make."""
    start, n = 0, len(text)
    while start < n:
        end = text.find("\n", min(start + 2**20, n))
        end = n if end < 0 else end + 1
        yield from io.StringIO(text[start:end], newline="\n")
        start = end


def cell_value(cell: str, decimal_comma: bool) -> float | None:
    """A CSV cell as a number (``1,5`` too when ``decimal_comma``), ``None`` when it is not."""
    try:
        return float(cell)
    except ValueError:
        pass
    if decimal_comma and cell.count(",") == 1 and "." not in cell:
        try:
            return float(cell.replace(",", "."))
        except ValueError:
            return None
    return None


def cell_or_error(raw: str, line: int, col: int, names: list[str], header, comma: bool,
                  other: str | None, name: str) -> float:
    """A CSV cell that ``float`` refused: a number with a decimal comma (when ``comma``), or
    the FileFormatError that says why not (and, when ``other`` appears in it, that the file
    seems separated by ``other``)."""
    cell = raw.strip()
    v = cell_value(cell, comma)
    if v is not None:
        return v
    where = f"row {line}, column {names[col]!r}" if header else f"row {line}, column {col}"
    what = "is empty" if not cell else f"{cell!r} is not a number"
    hint = (f"; this CSV seems separated by {other!r}: set \"delimiter\" to {other!r} or "
            "leave it out" if other and other in cell else "")
    raise FileFormatError(f"{where}: {what}{hint}", file=name)


# -- NumPy -------------------------------------------------------------------------------------


def _read_at_most(f, n: int) -> bytearray:
    """Up to ``n`` bytes of ``f``, in chunks, so that a stream that ends early (or a size
    field that lies) never costs more memory than the data really there."""
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _read_header_3_0(f):
    """A version 3.0 header: version 2.0's layout with a UTF-8 header (numpy writes it only
    for structured field names that latin-1 cannot spell). A numeric array's header is
    ASCII, so it is read as 2.0's; any other is refused as a damaged header."""
    raw = f.read(4)
    length = int.from_bytes(raw, "little") if len(raw) == 4 else -1
    if not 0 <= length <= 10_000:
        raise ValueError("header length out of range")
    header = f.read(length)
    if len(header) < length or not header.isascii():
        raise ValueError("header cut short or not ASCII")
    return npformat.read_array_header_2_0(io.BytesIO(raw + header))


def read_npy(f, name: str, subject: str, available: int) -> np.ndarray:
    """The numeric array an ``.npy`` stream holds. The header is read and checked first
    (dtype numeric, at most :data:`MAX_ARRAY_ELEMENTS` values and :data:`MAX_ARRAY_BYTES`
    bytes, no more than ``available`` bytes promised), then exactly its data. ``subject``
    ("the array", "array 'x'") names it in messages."""
    magic = f.read(8)
    if len(magic) < 8 or magic[:6] != npformat.MAGIC_PREFIX:
        raise FileFormatError(f"{subject} is not a NumPy array (no .npy header)", file=name)
    version = (magic[6], magic[7])
    readers = {(1, 0): npformat.read_array_header_1_0, (2, 0): npformat.read_array_header_2_0,
               (3, 0): _read_header_3_0}
    if version not in readers:
        raise FileFormatError(f"{subject} uses .npy format version {version[0]}.{version[1]}, "
                              "which this program cannot read; save it again with numpy.save",
                              file=name)
    try:
        shape, fortran, dtype = readers[version](f)
    except Exception as e:  # noqa: BLE001 - numpy parses the header with the tokenizer: any
        # of its errors (SyntaxError, TokenError, ValueError...) means a damaged header
        raise FileFormatError(f"{subject} has a damaged .npy header ({e})", file=name) from None
    if dtype.hasobject:
        raise FileFormatError(f"{subject} holds Python objects; only numeric arrays can be "
                              "read (nothing in a data file is ever unpickled)", file=name)
    if dtype.kind not in "biuf":
        raise FileFormatError(f"{subject} has dtype {dtype}; a numeric array is needed",
                              file=name)
    if any(d < 0 for d in shape):
        raise FileFormatError(f"{subject} has a damaged .npy header (shape {shape})", file=name)
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if count > MAX_ARRAY_ELEMENTS or nbytes > MAX_ARRAY_BYTES:
        raise FileFormatError(f"{subject} has shape {shape}, {count:,} values "
                              f"({size_text(nbytes)}): more than the {MAX_ARRAY_ELEMENTS:,} "
                              "values this program reads; save a smaller array", file=name)
    left = available - f.tell()
    if nbytes > left:
        raise FileFormatError(f"{subject} is cut short: its header promises {nbytes:,} bytes "
                              f"of data but {max(left, 0):,} follow; the file is truncated or "
                              "damaged", file=name)
    data = _read_at_most(f, nbytes)
    if len(data) < nbytes:
        raise FileFormatError(f"{subject} is cut short: its header promises {nbytes:,} bytes "
                              f"of data but only {len(data):,} follow; the file is truncated",
                              file=name)
    arr = np.frombuffer(data, dtype=dtype, count=count)
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)


_ZIP_ERRORS: tuple[type[BaseException], ...] = (zipfile.BadZipFile, zlib.error, EOFError,
                                                OSError, RuntimeError, NotImplementedError,
                                                ValueError)
try:
    import lzma
    _ZIP_ERRORS += (lzma.LZMAError,)
except ImportError:                  # Python built without lzma: zipfile cannot use it either
    pass


def _check_end_record(f, size: int, name: str) -> None:
    """Refuse an archive whose end record is missing or whose directory is too large, before
    :class:`zipfile.ZipFile` reads (and allocates) that directory."""
    tail_len = min(size, 22 + 65535)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    i = tail.rfind(_END)
    if i < 0 or len(tail) - i < 22:
        raise FileFormatError("not a readable .npz archive: its end record is missing (the "
                              "file is truncated or not a zip archive); save it again with "
                              "numpy.savez", file=name)
    entries = int.from_bytes(tail[i + 10:i + 12], "little")
    directory = int.from_bytes(tail[i + 12:i + 16], "little")
    if entries > MAX_NPZ_MEMBERS or directory > MAX_NPZ_MEMBERS * _ENTRY_BYTES:
        raise FileFormatError(f"the archive lists {entries:,} members, more than the "
                              f"{MAX_NPZ_MEMBERS:,} arrays an .npz may hold here", file=name)
    f.seek(0)


def read_npz(f, size: int, name: str, key: str | None) -> tuple[np.ndarray, str]:
    """Array ``key`` of an ``.npz`` archive (optional when it holds one) and the words that
    name it (``array 'x'``). The member count and their declared sizes are checked before
    any is read, and the member is read no further than its own header promises."""
    _check_end_record(f, size, name)
    try:
        zf = zipfile.ZipFile(f)
    except _ZIP_ERRORS as e:
        raise FileFormatError(f"not a readable .npz archive ({e}); the file is truncated or "
                              "damaged", file=name) from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > MAX_NPZ_MEMBERS:
            raise FileFormatError(f"the archive holds {len(infos):,} members, more than the "
                                  f"{MAX_NPZ_MEMBERS:,} an .npz may hold here", file=name)
        unpacked = sum(i.file_size for i in infos)
        if unpacked > MAX_NPZ_BYTES:
            raise FileFormatError(f"the archive unpacks to {size_text(unpacked)}, more than the "
                                  f"{size_text(MAX_NPZ_BYTES)} read here; save smaller arrays",
                                  file=name)
        members = {(i.filename[:-4] if i.filename.endswith(".npy") else i.filename): i
                   for i in infos}
        keys = list(members)
        if key is None:
            if len(keys) != 1:
                raise FileFormatError(f"holds {len(keys)} arrays ({', '.join(keys) or 'none'})"
                                      "; choose one with 'array'", file=name)
            key = keys[0]
        if key not in members:
            raise FileFormatError(f"no array named {key!r}; arrays: {', '.join(keys)}",
                                  file=name)
        subject = f"array {key!r}"
        info = members[key]
        try:
            with zf.open(info) as member:
                return read_npy(member, name, subject, info.file_size), subject
        except _ZIP_ERRORS as e:
            raise FileFormatError(f"{subject} cannot be unpacked ({e}); the .npz file is "
                                  "damaged", file=name) from None
