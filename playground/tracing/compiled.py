"""The compiled path: the loops of :mod:`playground.tracing.kernels`, compiled by numba, on
the CPU.

A trace never waits for them. The first time a trace asks (:func:`available`), a
background thread loads every kernel for float32 and float64 from numba's on-disk cache
(about a second). Where the cache is empty, a separate process compiles them first (some
20 s on a slow machine; in this process, numba's compiler would hold the interpreter lock
and stall the window all that time). Until they are ready, traces take the torch path
(:mod:`playground.tracing.loops`), which computes the same quantities.
``trace(..., path="compiled")`` waits for them instead.

The wrappers here take and fill numpy arrays, in the layouts the kernels document.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading

import numpy as np

from . import kernels, scan

# Trace this way when numba is there (tests switch it off to check the other paths).
COMPILED = True
# Whether the first trace that asks starts the compilation; an app that wants its first
# paint and first trace undisturbed sets it False and calls warm_up() when it is ready.
AUTOSTART = True

# Above this hidden size W_hh outgrows the cache, the per-step products become
# memory-bound, and torch's matrix products (BLAS) are faster.
MAX_HIDDEN = 512

DTYPES = (np.float32, np.float64)

_ready = threading.Event()
_lock = threading.Lock()
_started = False
_failure: str | None = None


def installed() -> bool:
    """Whether numba can be imported (without importing it)."""
    return importlib.util.find_spec("numba") is not None


_jitted = False


def _jit_all() -> None:
    """Replace the loops of :mod:`.kernels` (helpers first, as the others call them) and
    :mod:`.scan` by their numba versions, compiled lazily and cached on disk."""
    global _jitted
    if _jitted:
        return
    import numba

    def jit(fn, **opts):
        # IEEE division (no ZeroDivisionError check in the loops, which then vectorise)
        return numba.njit(cache=True, nogil=True, error_model="numpy", **opts)(fn)

    for name in (*kernels.HELPERS, *kernels.KERNELS):
        inline = {"inline": "always"} if name in kernels.INLINE else {}
        setattr(kernels, name, jit(getattr(kernels, name), **inline))
    scan_loop = jit(scan._scan_loop)
    _jitted = True
    _jitted_scan[0] = scan_loop


_jitted_scan: list = [None]


def warm_up(block: bool = False) -> None:
    """Compile (or load) the kernels in a background thread, once; ``block`` waits."""
    global _started
    with _lock:
        start = not _started and installed()
        _started = _started or start
    if start:
        threading.Thread(target=_compile_all, name="compile-trace-kernels", daemon=True).start()
    if block and installed():
        _ready.wait()


def warming() -> bool:
    """Whether the kernels are being compiled or loaded right now (traces meanwhile take
    the torch path, and take longer than they will)."""
    return _started and not _ready.is_set()


def ready() -> bool:
    """Whether the kernels are compiled and may be called without a wait."""
    return _ready.is_set() and _failure is None


def available(kind: str, dtype, device: str, hidden: int, wait: bool = False) -> bool:
    """Whether a layer of this cell, dtype, device and hidden size can take the compiled
    path now (``wait``: once the kernels are compiled). Asking starts the compilation."""
    if not (COMPILED and device == "cpu" and hidden <= MAX_HIDDEN
            and kind in kernels.QUANTITIES and dtype is not None and np.dtype(dtype) in DTYPES
            and installed()):
        return False
    if AUTOSTART or wait:
        warm_up(block=wait)
    return ready()


def _cached() -> bool:
    """Whether numba's cache holds every kernel (its index files are there and newer than
    the source); False when that cannot be told."""
    try:
        _jit_all()
        src = os.path.getmtime(kernels.__file__)
        for fn in (*(getattr(kernels, k) for k in kernels.KERNELS), _jitted_scan[0]):
            index = fn._cache._cache_file._index_path   # (numba internals: guarded)
            if not os.path.exists(index) or os.path.getmtime(index) < src:
                return False
        return True
    except Exception:  # noqa: BLE001 - another numba version: compile elsewhere anyway
        return False


# Loads this package's kernel modules under their own names (numba's cache refers to them
# by name) but without the package's __init__, which imports torch; compiles them, filling
# the on-disk cache this process then reads.
_ELSEWHERE = """
import sys, types
sys.path.insert(0, sys.argv[2])
import playground
pkg = types.ModuleType("playground.tracing")
pkg.__path__ = [sys.argv[1]]
sys.modules["playground.tracing"] = pkg
from playground.tracing import compiled
compiled.exercise_all()
"""


def _compile_elsewhere() -> None:
    if _cached():
        return
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        root = os.path.dirname(os.path.dirname(here))
        subprocess.run([sys.executable, "-c", _ELSEWHERE, here, root],
                       capture_output=True, timeout=600, check=False)
    except (OSError, subprocess.SubprocessError):
        pass   # then this process compiles them itself


def exercise_all() -> None:
    """Call every kernel once for each dtype (compiling or loading it)."""
    _jit_all()
    for dtype in DTYPES:
        _exercise_scan(np.dtype(dtype))
        for kind in kernels.QUANTITIES:
            _exercise(kind, np.dtype(dtype))


def _compile_all() -> None:
    global _failure
    try:
        _jit_all()
        _compile_elsewhere()
        exercise_all()
        scan._compiled = _jitted_scan[0]   # the elementwise scan may take it from now on
    except Exception as exc:  # noqa: BLE001 - a broken numba install: traces keep torch
        _failure = f"{type(exc).__name__}: {exc}"
    finally:
        _ready.set()


def _exercise_scan(dtype: np.dtype) -> None:
    a = np.zeros((1, 3, 2), dtype)
    _jitted_scan[0](a, a, np.zeros((1, 2), dtype), np.empty_like(a), False)


def _exercise(kind: str, dtype: np.dtype) -> None:
    """Call both kernels of ``kind`` once on a tiny layer, with an intervention, through
    the same wrappers (hence the same argument types) as real traces."""
    B, T, H = 1, 3, 2
    G = {"lstm": 4, "gru": 3, "rnn": 1}[kind] * H
    z = np.zeros
    ivs = IvRecords.of([(0, 1, 2, 0.5, None)], H)
    arrays = empty_forward(kind, B, T, H, dtype)
    forward(kind, False, z((B, T, G), dtype), z((H, G), dtype), z(G, dtype), z((B, H), dtype),
            z((B, H), dtype), 0, ivs, arrays)
    bptt(kind, False, arrays, z((B, H), dtype), z((B, H), dtype), z((B, T, H), dtype),
         z((B, H), dtype), z((B, H), dtype), z((G, H), dtype), np.ones(T, bool), True, ivs)


class IvRecords:
    """Interventions of one layer-direction in run order, as the kernels read them:
    quantity index, steps ``lo <= t < hi``, value and a ``(n, H)`` unit mask."""

    def __init__(self, q, lo, hi, val, units):
        self.q, self.lo, self.hi, self.val, self.units = q, lo, hi, val, units

    @classmethod
    def of(cls, rows, H: int) -> IvRecords:
        """From ``(quantity index, lo, hi, value, units or None)`` rows."""
        n = len(rows)
        units = np.zeros((n, H), np.bool_)
        for r, row in enumerate(rows):
            units[r, list(row[4]) if row[4] is not None else slice(None)] = True
        return cls(np.array([r[0] for r in rows], np.int64),
                   np.array([r[1] for r in rows], np.int64),
                   np.array([r[2] for r in rows], np.int64),
                   np.array([r[3] for r in rows], np.float64), units)

    def __len__(self) -> int:
        return len(self.q)

    def args(self, dtype) -> tuple:
        return self.q, self.lo, self.hi, self.val.astype(dtype), self.units


def empty_forward(kind: str, B: int, T: int, H: int, dtype) -> dict[str, np.ndarray]:
    """Uninitialised arrays for a forward pass of ``kind``: ``h``, ``pre``, and ``act`` and
    ``c`` (LSTM) or ``act`` and ``ghn`` (GRU)."""
    e = np.empty
    if kind == "lstm":
        return {"h": e((B, T, H), dtype), "c": e((B, T, H), dtype),
                "pre": e((B, T, 4 * H), dtype), "act": e((B, T, 4 * H), dtype)}
    if kind == "gru":
        return {"h": e((B, T, H), dtype), "ghn": e((B, T, H), dtype),
                "pre": e((B, T, 3 * H), dtype), "act": e((B, T, 3 * H), dtype)}
    return {"h": e((B, T, H), dtype), "pre": e((B, T, H), dtype)}


def forward(kind, relu, xp, WT, b_hh, h0, c0, start, ivs: IvRecords, a: dict) -> None:
    """Fill ``a`` (see :func:`empty_forward`) from step ``start`` on. ``xp`` is the input
    projection (with both biases, but the GRU's ``b_hh``), ``WT = W_hh^T``."""
    dt = xp.dtype
    iv = ivs.args(dt)
    if kind == "lstm":
        kernels.lstm_forward(xp, WT, h0, c0, start, *iv, a["pre"], a["act"], a["c"], a["h"])
    elif kind == "gru":
        kernels.gru_forward(xp, WT, b_hh, h0, start, *iv, a["pre"], a["act"], a["ghn"], a["h"])
    else:
        kernels.rnn_forward(xp, WT, h0, start, relu, *iv, a["pre"], a["h"])


def bptt(kind, relu, a: dict, h0, c0, out_g, hT_g, cT_g, W, keep, truncated,
         ivs: IvRecords) -> dict[str, np.ndarray | None]:
    """``dh``, ``dc`` (LSTM), ``dG`` (pre-activation gradients), ``dropped`` (None unless
    ``truncated``), ``dh0``, ``dc0`` (LSTM)."""
    h = a["h"]
    B, T, H = h.shape
    dt = h.dtype
    iv = ivs.args(dt)
    dh = np.empty((B, T, H), dt)
    dG = np.empty_like(a["pre"])
    dropped = np.zeros((B, T, H), dt) if truncated else np.zeros((1, 1, 1), dt)
    dh0 = np.empty((B, H), dt)
    dc = dc0 = None
    if kind == "lstm":
        dc, dc0 = np.empty((B, T, H), dt), np.empty((B, H), dt)
        kernels.lstm_bptt(a["act"], a["c"], c0, out_g, hT_g, cT_g, W, keep, truncated,
                          *iv, dh, dc, dG, dropped, dh0, dc0)
    elif kind == "gru":
        kernels.gru_bptt(a["act"], a["ghn"], h, h0, out_g, hT_g, W, keep, truncated, *iv, dh,
                         dG, dropped, dh0)
    else:
        kernels.rnn_bptt(a["pre"], h, out_g, hT_g, W, keep, truncated, relu, *iv, dh, dG,
                         dropped, dh0)
    return {"dh": dh, "dc": dc, "dG": dG, "dropped": dropped if truncated else None,
            "dh0": dh0, "dc0": dc0}
