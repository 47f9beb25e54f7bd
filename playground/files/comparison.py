"""Comparison files: two to four experiments stepped through side by side on one input.

A comparison is a JSON object of its own (never an experiment)::

    {"format": "sequence-playground-comparison", "version": 1,
     "name": "RNN vs LSTM on the adding problem", "description": "...",
     "members": [{"file": "adding_rnn", "weights": "trained", "label": "RNN"},
                 {"file": "adding_lstm", "weights": "trained", "label": "LSTM"}],
     "input": "optional: a typed sequence every member reads"}

A member's ``file`` is a preset name or a path, relative paths read beside the comparison
file (as an experiment's data files are). ``weights`` is ``"trained"`` (the weights beside
the experiment, the default) or ``"untrained"`` (the seed's initialisation). Every member
must read the same input: the same input kind, vocabulary and features and the same kind
of output (:func:`input_signature`); else :func:`check_members` names the ones that do not.
Loading uses the bounded JSON reader (:mod:`.safejson`); every problem is one line naming
the file and the field. Bundled comparisons live in ``presets/comparisons/`` (a folder of
their own, so that no listing of experiment presets ever takes one for an experiment).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import FileFormatError, PlaygroundError, file_boundary
from . import experiment, pairsave, safejson

FORMAT = "sequence-playground-comparison"
VERSION = 1
SUFFIX = ".comparison.json"
MIN_MEMBERS, MAX_MEMBERS = 2, 4
WEIGHTS = ("trained", "untrained")
COMPARISONS_DIR = experiment.PRESETS_DIR / "comparisons"
_FIELDS = ("format", "version", "name", "description", "members", "input")
_MEMBER_FIELDS = ("file", "weights", "label")


@dataclass(frozen=True)
class Member:
    """One experiment of a comparison: its ``file`` (preset name or path, as written),
    which ``weights`` it shows and the ``label`` its column and curves carry."""

    file: str
    weights: str = "trained"
    label: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "weights": self.weights, "label": self.label}


@dataclass
class Comparison:
    """A comparison (see the module docstring); ``path`` is not part of the JSON."""

    name: str
    members: tuple[Member, ...]
    description: str = ""
    input: str | None = None
    path: Path | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": self.name,
                               "description": self.description,
                               "members": [m.to_dict() for m in self.members]}
        if self.input is not None:
            out["input"] = self.input
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> Comparison:
        """Check plain data field by field (FileFormatError naming the field path)."""
        if not isinstance(data, dict):
            raise FileFormatError(f"must be a JSON object, got {type(data).__name__}")
        if data.get("format") != FORMAT:
            raise FileFormatError(f"must be {FORMAT!r}; this does not look like a comparison "
                                  "file", "format")
        for key in data:
            if key not in _FIELDS:
                raise FileFormatError(f"unknown field; expected one of {', '.join(_FIELDS)}", key)
        version = data.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise FileFormatError(f"must be a positive integer, got {version!r}", "version")
        if version > VERSION:
            raise FileFormatError(f"version {version} is newer than this program understands "
                                  f"({VERSION}); update Sequence Playground", "version")
        name = _text(data, "name")
        if not name.strip():
            raise FileFormatError("must not be empty", "name")
        raw = data.get("members")
        if not isinstance(raw, list):
            raise FileFormatError("missing or not a list of experiments", "members")
        if not MIN_MEMBERS <= len(raw) <= MAX_MEMBERS:
            raise FileFormatError(f"must name {MIN_MEMBERS} to {MAX_MEMBERS} experiments, got "
                                  f"{len(raw)}", "members")
        members = tuple(_member(m, f"members[{i}]") for i, m in enumerate(raw))
        text = data.get("input")
        if text is not None and not isinstance(text, str):
            raise FileFormatError(f"must be a string, got {text!r}", "input")
        return cls(name=name, description=_text(data, "description"), members=members,
                   input=text)

    def member_path(self, i: int) -> Path:
        """The experiment file of member ``i``: a preset name, or a path (relative ones
        beside this comparison file)."""
        ref = self.members[i].file
        p = Path(ref)
        if not p.is_absolute() and self.path is not None and (
                p.suffix == ".json" or len(p.parts) > 1):
            return self.path.parent / p
        return experiment.resolve(ref)

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the JSON atomically (the member experiments are left as they are): the
        old file or the new one, never a mix, and no temporary left behind. Member files
        named relative to this comparison's old folder are named so that the saved file
        still finds them (:meth:`relocated`). FileAccessError naming the file when it
        cannot be written."""
        path = Path(path) if path is not None else self.path
        if path is None:
            raise FileFormatError("no file name to save to")
        moved = self.relocated(path)
        data = moved.to_json().encode("utf-8")
        with file_boundary(path, "save it"):
            tmp = pairsave.write_temp(path, data)
            try:
                os.replace(tmp, path)
            except BaseException:
                if tmp.exists():
                    tmp.unlink()
                raise
        self.members, self.path = moved.members, path
        return path

    def relocated(self, path: str | os.PathLike) -> Comparison:
        """This comparison as a file at ``path`` names its members: a member read beside
        the old file is named relative to the new folder (absolute where none fits)."""
        new_dir = Path(path).resolve().parent
        members = []
        for i, m in enumerate(self.members):
            p = Path(m.file)
            if not p.is_absolute() and self.path is not None and (
                    p.suffix == ".json" or len(p.parts) > 1):
                target = self.member_path(i).resolve()
                try:
                    ref = os.path.relpath(target, new_dir)
                except ValueError:         # another drive (Windows)
                    ref = str(target)
                m = replace(m, file=Path(ref).as_posix())
            members.append(m)
        return replace(self, members=tuple(members), path=Path(path))


def is_comparison(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a comparison file: by its suffix, or a JSON object whose
    ``format`` says so (read with the bounded reader; False when it cannot be read)."""
    p = Path(path)
    if p.name.endswith(SUFFIX):
        return True
    if p.suffix != ".json" or not p.is_file():
        return False
    try:
        data = safejson.parse(safejson.read_text(p), str(p))
    except (PlaygroundError, OSError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def names_comparison(name: str) -> bool:
    """Whether a command line's FILE names a comparison: a comparison file, or a bundled
    comparison's name (unless a file ``NAME.json`` here is an experiment of that name)."""
    p = Path(name)
    if p.suffix == "" and len(p.parts) == 1:
        return not Path(f"{name}.json").exists() and name in preset_names()
    return is_comparison(p)


def load(path: str | os.PathLike) -> Comparison:
    """Read and check a comparison file (not its members: :func:`load_members`)."""
    path = Path(path)
    raw = safejson.parse(safejson.read_text(path), str(path))
    try:
        comp = Comparison.from_dict(raw)
    except FileFormatError as e:
        raise FileFormatError(e.detail, e.path, str(path)) from None
    comp.path = path
    return comp


def save(comparison: Comparison, path: str | os.PathLike | None = None) -> Path:
    return comparison.save(path)


def from_names(names, weights: str = "trained", name: str | None = None) -> Comparison:
    """A comparison of the experiments ``names`` (preset names or paths), as
    ``python main.py compare A B ...`` makes it; labelled by the experiments' file names."""
    names = [str(n) for n in names]
    if not MIN_MEMBERS <= len(names) <= MAX_MEMBERS:
        raise FileFormatError(f"compare {MIN_MEMBERS} to {MAX_MEMBERS} experiments, got "
                              f"{len(names)}")
    members = tuple(Member(str(Path(n).resolve()) if Path(n).exists() else n, weights,
                           _stem(n)) for n in names)
    return Comparison(name=name or " vs ".join(m.label for m in members), members=members)


def resolve(name_or_path: str | os.PathLike) -> Path:
    """A path to a comparison file: the path itself, or the bundled comparison of that
    name (``presets/comparisons/NAME.comparison.json``)."""
    p = Path(name_or_path)
    if p.exists() or p.suffix == ".json" or len(p.parts) > 1:
        return p
    bundled = COMPARISONS_DIR / f"{name_or_path}{SUFFIX}"
    if bundled.exists():
        return bundled
    raise FileFormatError(f"no file or bundled comparison named {str(name_or_path)!r}; "
                          f"bundled: {', '.join(preset_names())}")


def preset_names() -> list[str]:
    """The bundled comparisons, by name without the suffix, sorted."""
    return sorted(p.name[:-len(SUFFIX)] for p in COMPARISONS_DIR.glob(f"*{SUFFIX}"))


def label_of(comparison: Comparison, i: int) -> str:
    m = comparison.members[i]
    return m.label or _stem(m.file)


def load_members(comparison: Comparison) -> list[experiment.Experiment]:
    """Every member experiment, loaded (with its weights), in order; FileFormatError
    naming the member (its label and file) that is missing or cannot be read."""
    exps = []
    for i, m in enumerate(comparison.members):
        where = f"members[{i}] ({label_of(comparison, i)}: {m.file})"
        try:
            path = comparison.member_path(i)
            if not path.exists():
                raise FileFormatError(f"no such experiment file: {path}")
            exps.append(experiment.load(path))
        except FileFormatError as e:
            raise FileFormatError(f"cannot open this member: {e}", where,
                                  _file(comparison)) from None
    return exps


def input_signature(dataset) -> tuple:
    """What an input must be for a dataset to read it: the task shape, input roles, the
    vocabulary (token inputs) or values per step, and the kind and size of the output."""
    def symbols(v):
        return None if v is None else tuple(v.symbols)

    return (dataset.shape, tuple(dataset.roles), symbols(dataset.vocab),
            dataset.input_features, dataset.output, symbols(dataset.target_vocab),
            dataset.output_size)


def check_members(comparison: Comparison, datasets) -> None:
    """Raise FileFormatError naming the members whose input does not fit the first's (the
    shared input is read as the first member reads it)."""
    sigs = [input_signature(d) for d in datasets]
    odd = [i for i, s in enumerate(sigs) if s != sigs[0]]
    if odd:
        names = ", ".join(label_of(comparison, i) for i in odd)
        raise FileFormatError(
            f"the members do not read one shared input: {names} "
            f"{'reads' if len(odd) == 1 else 'read'} a different input or output than "
            f"{label_of(comparison, 0)} ({_describe(sigs[0])} vs {_describe(sigs[odd[0]])})",
            "members", _file(comparison))


def shared_batch(comparison: Comparison, datasets):
    """The one input every member reads: ``input`` typed as the first member's dataset
    reads it, else that dataset's fixed example."""
    first = datasets[0]
    if comparison.input is None:
        return first.example()
    try:
        return first.encode_input(comparison.input)
    except (PlaygroundError, ValueError) as e:
        raise FileFormatError(f"cannot be read: {e}", "input", _file(comparison)) from None


def _describe(sig: tuple) -> str:
    shape, roles, vocab, features, output, _targets, size = sig
    what = (f"symbols {''.join(vocab)[:20]!r}" if vocab is not None else
            f"{features} values per step")
    return f"{shape.replace('_', '-')}, {what}, {output} x{size}"


def _file(comparison: Comparison) -> str | None:
    return None if comparison.path is None else str(comparison.path)


def _stem(ref: str) -> str:
    name = Path(ref).name
    for suffix in (SUFFIX, ".json"):
        name = name.removesuffix(suffix)
    return name


def _text(data: dict, key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise FileFormatError(f"must be a string, got {value!r}", key)
    return value


def _member(raw: Any, where: str) -> Member:
    if isinstance(raw, str):
        raw = {"file": raw}
    if not isinstance(raw, dict):
        raise FileFormatError(f"must be an object with a file, got {raw!r}", where)
    for key in raw:
        if key not in _MEMBER_FIELDS:
            raise FileFormatError(f"unknown field; expected one of "
                                  f"{', '.join(_MEMBER_FIELDS)}", f"{where}.{key}")
    file = raw.get("file")
    if not isinstance(file, str) or not file.strip():
        raise FileFormatError("missing: a preset name or an experiment file", f"{where}.file")
    weights = raw.get("weights", "trained")
    if weights not in WEIGHTS:
        raise FileFormatError(f"must be one of {', '.join(WEIGHTS)}, got {weights!r}",
                              f"{where}.weights")
    label = raw.get("label", "")
    if not isinstance(label, str):
        raise FileFormatError(f"must be a string, got {label!r}", f"{where}.label")
    return Member(file=file, weights=weights, label=label)
