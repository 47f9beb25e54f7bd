"""Saving an experiment's two files, ``NAME.json`` and ``NAME.weights.pt``, as one: after a
crash at any moment, loading gives the old pair or the new pair, never the new weights
beside the old JSON.

The weights of a JSON file are found by its content: ``NAME.weights-H.pt``, where ``H`` is
the first 16 hex digits of the SHA-256 of the JSON's bytes, when that file exists (a save
was cut off after the JSON went in, before its weights took their place), else
``NAME.weights.pt``. A save (:func:`save_pair`)

1. writes the JSON and the weights in full to temporary files beside them (flushed to disk),
2. moves the weights to ``NAME.weights-H.pt`` (``H`` of the new JSON): the old JSON still
   finds the old ``NAME.weights.pt``,
3. moves the JSON into place: this one rename is the commit; the new JSON finds its weights,
4. moves ``NAME.weights-H.pt`` to ``NAME.weights.pt`` and removes what is left over.

Saving without weights first moves the old weights to the old JSON's ``NAME.weights-H.pt``
(so the old JSON still finds them), then the JSON, then removes them. Files written before
this (and the bundled presets) have only ``NAME.weights.pt`` and read as they always did;
no name inside a file changes, so the files stay portable and ``load -> save`` gives the
same bytes.

What an interrupted save leaves behind (its temporaries, weights no JSON finds) is cleared
away by :func:`settle`, on the next save, or, once it is a minute old, when the experiment
is opened; only this experiment's own files, by their exact names, are ever removed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import time
from pathlib import Path

from ..errors import file_boundary

WEIGHTS_SUFFIX = ".weights.pt"
# flock errors of file systems that cannot lock a folder (NFS, some FUSE): save unlocked
_NO_FLOCK = {getattr(errno, n) for n in ("EBADF", "ENOLCK", "ENOTSUP", "EOPNOTSUPP", "EINVAL",
                                         "ENOSYS") if hasattr(errno, n)}
_HEX = 16
OPEN_GRACE_S = 60.0   # leftovers younger than this may be a save in progress elsewhere


def weights_name(path: str | os.PathLike) -> Path:
    """``dir/NAME.json`` -> ``dir/NAME.weights.pt`` (names only; nothing is read)."""
    p = Path(path)
    return p.with_name(_stem(p) + WEIGHTS_SUFFIX)


def pending_name(path: str | os.PathLike, json_bytes: bytes) -> Path:
    """Where a save puts the weights that go with ``json_bytes`` until the JSON is in."""
    return _pending(Path(path), hashlib.sha256(json_bytes).hexdigest()[:_HEX])


def settle(path: str | os.PathLike, grace: float = OPEN_GRACE_S) -> Path:
    """The file that holds the weights of the experiment file ``path`` (it may not exist):
    ``NAME.weights.pt``, after finishing a save that was cut off once its JSON was in (its
    weights are moved into place). Removes this experiment's temporaries and the weights
    files its JSON does not find, those older than ``grace`` seconds (0: all). Best effort:
    a folder that cannot be written (the presets) is left as it is."""
    path = Path(path)
    wpath = weights_name(path)
    try:
        current = pending_name(path, path.read_bytes())
    except OSError:               # no JSON (yet): no weights file goes with it
        current = None
    if current is not None and current.exists():
        try:
            _replace(current, wpath)
        except OSError:
            return current if current.exists() else wpath
    now = time.time()
    for f in _leftovers(path):
        try:
            if f != current and (grace <= 0 or now - f.stat().st_mtime >= grace):
                f.unlink()
        except OSError:
            pass
    return wpath


@contextlib.contextmanager
def locked(path: Path):
    """Hold an exclusive ``flock`` on the experiment's folder while saving: two programs
    saving the same experiment take turns, else one's tidying (:func:`settle`) would
    remove the other's weights between its two renames. The folder itself is locked, so
    no lock file is left behind by a save that died, and there is no stale lock to clear
    (the system lets go of a dead process's locks). Where ``fcntl`` is missing (Windows)
    saves are not serialised."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        fd = None                          # the save itself will say what is wrong
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as e:           # NFS, some FUSE folders: no flock on a folder
                if e.errno not in _NO_FLOCK:
                    raise
        yield
    finally:
        if fd is not None:
            os.close(fd)          # closing releases the lock


def save_pair(path: str | os.PathLike, json_bytes: bytes, weights: dict | None) -> None:
    """Write ``json_bytes`` to ``path`` and ``weights`` (what ``torch.save`` writes; None:
    none) beside it as one (see the module's text), holding the experiment's lock. Raises
    FileAccessError when it could not; the old pair is then as it was, or the new one is
    in (its tidying is left to :func:`settle`)."""
    path = Path(path)
    with file_boundary(path, "save it"):
        path.parent.mkdir(parents=True, exist_ok=True)
        with locked(path):
            _save_pair(path, json_bytes, weights)


def _save_pair(path: Path, json_bytes: bytes, weights: dict | None) -> None:
    settle(path, grace=0)         # an earlier save cut off: finish it, clear it away
    wpath, pending, trash = weights_name(path), pending_name(path, json_bytes), None
    temps, placed = [write_temp(path, json_bytes)], False
    try:
        if weights is not None:
            temps.append(write_temp(pending, state=weights))
            placed = True
            _replace(temps[1], pending)
        elif wpath.exists():      # the old weights stay the old JSON's until the new is in
            try:
                trash = pending_name(path, path.read_bytes())
            except FileNotFoundError:
                wpath.unlink()    # weights beside no JSON belong to nothing
            if trash is not None:
                _replace(wpath, trash)
        _replace(temps[0], path)  # the commit
    except BaseException:
        if temps[0].exists():     # not committed: back to the old pair
            for f in (*temps, pending if placed else None):
                if f is not None and f.exists():
                    f.unlink()
            if trash is not None and trash.exists() and not wpath.exists():
                _replace(trash, wpath)
        raise
    try:
        if weights is not None:
            _replace(pending, wpath)
        elif trash is not None:
            trash.unlink()
        settle(path, grace=0)
    except OSError:
        pass                      # the new pair is in; the next save or open tidies up


def save_weights_file(path: str | os.PathLike, weights: dict) -> Path:
    """Write only the weights of the experiment file ``path`` (its JSON is left as it is),
    atomically; returns the weights file. Raises FileAccessError when it could not."""
    path = Path(path)
    with file_boundary(weights_name(path), "save the weights"), locked(path):
        target = settle(path, grace=0)
        _replace(write_temp(target, state=weights), target)
    return target


def write_temp(target: Path, data: bytes | None = None, state: dict | None = None) -> Path:
    """Write ``data`` (or ``state`` with ``torch.save``) to a new temporary file beside
    ``target`` (``.NAME.<16 hex>.tmp``), flushed to disk, with the permissions a plain new
    file gets; returns it."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(_HEX // 2)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if state is None:
                f.write(data)
            else:
                import torch

                torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    return tmp


def _replace(src: Path, dst: Path) -> None:
    """``os.replace``, then the folder flushed, so renames reach the disk in order."""
    os.replace(src, dst)
    try:
        fd = os.open(dst.parent, os.O_RDONLY)
    except OSError:               # Windows cannot open a folder; its renames are durable
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _stem(p: Path) -> str:
    return p.name[:-5] if p.name.endswith(".json") else p.name


def _pending(path: Path, digest: str) -> Path:
    return path.with_name(f"{_stem(path)}.weights-{digest}.pt")


def _leftovers(path: Path) -> list[Path]:
    """This experiment's temporaries (also the ``tempfile`` ones of earlier versions) and
    its ``NAME.weights-H.pt`` files, matched by their exact names."""
    stem, name = re.escape(_stem(path)), re.escape(path.name)
    weights = rf"{stem}\.weights(?:-[0-9a-f]{{{_HEX}}})?\.pt"
    pattern = re.compile(rf"{stem}\.weights-[0-9a-f]{{{_HEX}}}\.pt"
                         rf"|\.(?:{name}|{weights})\.(?:[0-9a-f]{{{_HEX}}}|[a-z0-9_]{{8}})\.tmp")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    return sorted(path.parent / n for n in names if pattern.fullmatch(n))
