"""Which files an experiment file would make the program read outside its own folder.

An experiment shared by someone else may name any data file (``data.path`` absolute, or
``../..``): opening it would read a text or array file of the user's that they never
chose. :func:`outside_data_files` tells, from the JSON alone and before any data is read,
which files lie outside the experiment's folder and the bundled presets, so the window
can ask first and name them.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import safejson
from .experiment import PRESETS_DIR


def outside_data_files(path: str | os.PathLike) -> list[Path]:
    """The data files the experiment at ``path`` names outside its own folder (and outside
    the bundled presets); [] when there are none or the file cannot be read (opening it
    then reports why)."""
    try:
        raw = safejson.parse(safejson.read_text(path), str(path))
    except Exception:  # noqa: BLE001 - the load that follows names the problem
        return []
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, dict) or data.get("source") != "file":
        return []
    name = data.get("path")
    if not isinstance(name, str) or not name:
        return []
    base = Path(path).resolve().parent
    full = (base / name).resolve() if not os.path.isabs(name) else Path(name).resolve()
    for allowed in (base, PRESETS_DIR.resolve()):
        if full == allowed or allowed in full.parents:
            return []
    return [full]
