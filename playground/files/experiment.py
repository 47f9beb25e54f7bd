"""Experiment files: one JSON object with the model graph, the data, the training settings,
the seed and the texts a student reads; trained weights in ``NAME.weights.pt`` beside it.

Loading parses plain JSON first, bounded in size, depth and numbers (:mod:`.safejson`),
then checks it field by field, so every problem is one line naming the field path
(``graph.nodes[2].params.hidden_size: must be a positive integer, got -3``). Nothing in a
file is ever executed: weights are read with ``torch.load(weights_only=True)``. Saving is
atomic for the pair (:mod:`.pairsave`): after a crash at any moment the old JSON and
weights or the new ones load, never a mix. ``load -> save -> load`` gives the same
experiment and the same bytes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..data.config import make_dataset
from ..errors import FileFormatError, GraphError, PlaygroundError, file_boundary
from ..model.build import build
from ..model.spec import GraphSpec, graph_from_dict
from ..train.config import TrainConfig
from ..train.horizon import GradientHorizon
from . import lessons, pairsave, safejson
from .trained import check_record

SCHEMA_VERSION = 1
WEIGHTS_SUFFIX = pairsave.WEIGHTS_SUFFIX
_TEXT_FIELDS = ("name", "description", "what_to_look_at", "outcome")
_FIELDS = ("version", *_TEXT_FIELDS, "lesson", "seed", "graph", "data", "train", "horizon")


def _opening(fn):
    """``fn`` at the file boundary: what the system raises while it reads and builds (no
    memory, a failed read, torch's RuntimeError) is a FileAccessError naming the file."""
    @functools.wraps(fn)
    def at_boundary(first, *args, **kw):
        file = first.path or first.name if isinstance(first, Experiment) else first
        with file_boundary(file, "open it", write=False):
            return fn(first, *args, **kw)
    return at_boundary


@dataclass
class Experiment:
    """Everything needed to rebuild a run: ``graph`` (a GraphSpec with canvas positions),
    ``data`` (the object :func:`playground.data.config.make_dataset` takes), ``train`` settings and
    ``seed`` (model initialisation and batch order; it overrides ``train.seed``), plus the
    texts shown to a student. ``outcome`` states what full training reaches; ``lesson``
    the steps of what to look at (:mod:`.lessons`; a file without one shows its
    ``what_to_look_at`` paragraph).
    ``weights`` (a state dict), ``trained`` (their training record,
    :mod:`playground.files.trained`; None when not known) and ``path`` are not part of the
    JSON: the weights and their record live in ``NAME.weights.pt``. ``horizon`` (optional,
    :meth:`playground.train.horizon.GradientHorizon.to_dict`) is the gradient horizon
    recorded while training, kept in the JSON; files without it load as before."""

    name: str
    graph: GraphSpec
    data: dict[str, Any]
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    description: str = ""
    what_to_look_at: str = ""
    outcome: str = ""
    lesson: tuple[lessons.LessonStep, ...] = ()
    version: int = SCHEMA_VERSION
    weights: dict[str, torch.Tensor] | None = field(default=None, compare=False, repr=False)
    trained: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    horizon: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    path: Path | None = field(default=None, compare=False)

    # -- plain data ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        train = self.train.to_dict()
        train.pop("seed")
        out = {"version": self.version, "name": self.name, "description": self.description}
        if self.what_to_look_at or not self.lesson:   # a lesson replaces the paragraph
            out["what_to_look_at"] = self.what_to_look_at
        if self.lesson:
            out["lesson"] = [s.to_dict() for s in self.lesson]
        out = {**out, "outcome": self.outcome, "seed": self.seed,
               "graph": self.graph.to_dict(), "data": _copy(self.data), "train": train}
        if self.horizon is not None:   # GradientHorizon.to_dict(): optional, old files lack it
            out["horizon"] = _copy(self.horizon)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> Experiment:
        """Check plain data field by field (FileFormatError naming the field path)."""
        if not isinstance(data, dict):
            raise FileFormatError(f"must be a JSON object, got {type(data).__name__}")
        for key in data:
            if key not in _FIELDS:
                raise FileFormatError(f"unknown field; expected one of {', '.join(_FIELDS)}", key)
        if "version" not in data:
            raise FileFormatError("missing; this does not look like an experiment file",
                                  "version")
        version = data["version"]
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise FileFormatError(f"must be a positive integer, got {version!r}", "version")
        if version > SCHEMA_VERSION:
            raise FileFormatError(f"version {version} is newer than this program understands "
                                  f"({SCHEMA_VERSION}); update Sequence Playground", "version")
        # Each part is checked on its own, so that a file with several problems (an
        # unknown node kind and no data, say) names all of them at once.
        problems: list[FileFormatError] = []

        def part(check):
            try:
                return check()
            except FileFormatError as e:
                problems.append(e)
                return None

        for key in ("name", "graph", "data"):
            if key not in data:
                problems.append(FileFormatError("missing", key))
        texts = part(lambda: _texts(data))
        seed = part(lambda: _seed(data))
        graph = part(lambda: graph_from_dict(data["graph"], "graph")) if "graph" in data \
            else None
        if "data" in data and not isinstance(data["data"], dict):
            problems.append(FileFormatError(f"must be an object, got "
                                            f"{type(data['data']).__name__}", "data"))
        train = part(lambda: _train(data))
        lesson = part(lambda: lessons.parse(data.get("lesson"), "lesson"))
        if data.get("horizon") is not None:
            part(lambda: GradientHorizon.from_dict(data["horizon"], "horizon"))
        if lesson and graph is not None:
            part(lambda: lessons.check(lesson, graph, "lesson"))
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise FileFormatError(f"{len(problems)} problems: " + "; ".join(map(str, problems)))
        return cls(graph=graph, data=_copy(data["data"]),
                   train=dataclasses.replace(train, seed=seed), seed=seed, lesson=lesson,
                   version=SCHEMA_VERSION, horizon=_copy(data.get("horizon")), **texts)

    def __post_init__(self) -> None:
        if self.train.seed != self.seed:
            self.train = dataclasses.replace(self.train, seed=self.seed)

    def with_seed(self, seed: int) -> Experiment:
        """A copy with another seed (for the model and for training)."""
        return dataclasses.replace(self, seed=seed, train=dataclasses.replace(self.train,
                                                                              seed=seed))

    # -- objects ------------------------------------------------------------------------------
    @_opening
    def make_dataset(self):
        """The dataset ``data`` describes (relative file paths are read beside this file)."""
        base = str(self.path.parent) if self.path is not None else None
        try:
            return make_dataset(self.data, "data", base)
        except FileFormatError as e:
            raise FileFormatError(e.detail, e.path, str(self.path) if self.path else None) from None

    @_opening
    def build_model(self, weights: bool = True):
        """The model of ``graph``, initialised with ``seed`` and ``train.init``; the loaded (or
        assigned) ``weights`` are put in when ``weights`` is true. Raises GraphError."""
        model = build(self.graph, seed=self.seed, init=self.train.init,
                      init_scale=self.train.init_scale, forget_bias=self.train.forget_bias)
        if weights and self.weights is not None:
            _load_into(model, self.weights, str(self.weights_path or "weights"))
        return model

    @property
    def weights_path(self) -> Path | None:
        return None if self.path is None else weights_path(self.path)

    # -- files --------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike | None = None, model=None,
             trained: dict[str, Any] | None = None) -> Path:
        """Write the JSON and, when there are weights (``model``'s, else ``self.weights``),
        ``NAME.weights.pt`` beside it, with ``trained`` (their training record) when given,
        as one (:func:`.pairsave.save_pair`: a crash leaves the old pair or the new).
        ``model`` without ``trained``: its training is not known, so no record is kept.
        Without weights, a weights file left beside from before is removed, since it belongs
        to the old experiment."""
        path = Path(path) if path is not None else self.path
        if path is None:
            raise FileFormatError("no file name to save to")
        if model is not None:
            self.weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            self.trained = None
        if trained is not None:
            self.trained = check_record(trained, str(path))
        payload = None if self.weights is None else (
            self.weights if self.trained is None else {"state": self.weights,
                                                       "trained": self.trained})
        pairsave.save_pair(path, self.to_json().encode("utf-8"), payload)
        self.path = path
        return path


def weights_path(path: str | os.PathLike) -> Path:
    """The weights file of the experiment file ``path``: ``dir/NAME.json`` ->
    ``dir/NAME.weights.pt`` (it may not exist). A save cut off after its JSON went in is
    finished here and old leftovers cleared (:func:`.pairsave.settle`), so opening a file
    tidies it; where that cannot be written, the weights that JSON wrote are named."""
    return pairsave.settle(path)


def save_weights(path: str | os.PathLike, model, trained: dict[str, Any] | None = None) -> Path:
    """Write only ``model``'s weights, with ``trained`` (their record) when given, beside the
    experiment file ``path`` (atomically); the JSON is left as it is. Returns the file."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = state if trained is None else {
        "state": state, "trained": check_record(trained, str(pairsave.weights_name(path)))}
    return pairsave.save_weights_file(path, payload)


def save(experiment: Experiment, path: str | os.PathLike | None = None, model=None) -> Path:
    """:meth:`Experiment.save` (atomic JSON, weights beside it)."""
    return experiment.save(path, model)


@_opening
def load(path: str | os.PathLike, weights: bool = True) -> Experiment:
    """Read an experiment file and, when ``weights`` and a weights file lies beside it, its
    weights (checked against the graph). Every problem raises FileFormatError."""
    path = Path(path)
    raw = safejson.parse(safejson.read_text(path), str(path))
    try:
        exp = Experiment.from_dict(raw)
    except FileFormatError as e:
        raise FileFormatError(e.detail, e.path, str(path)) from None
    exp.path = path
    exp.make_dataset()  # checks the data object now, with its field paths
    wpath = weights_path(path)
    if weights and wpath.exists():
        state, record = read_weights_file(wpath)
        try:
            model = exp.build_model(weights=False)
        except GraphError:
            model = None  # the graph has problems to fix first; weights are checked on build
        if model is not None:
            _load_into(model, state, str(wpath))
        exp.weights, exp.trained = state, record
    return exp


def read_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict from ``path``, read safely (``weights_only=True``), or FileFormatError."""
    return read_weights_file(path)[0]


def read_weights_file(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict | None]:
    """The state dict in a weights file and its training record (None in a file without
    one), read safely (``weights_only=True``); FileFormatError when it is neither a state
    dict nor ``{"state": ..., "trained": ...}``."""
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise FileFormatError(f"cannot read the weights: {e.strerror or e}",
                              file=str(path)) from None
    if size == 0:
        raise FileFormatError("cannot read the weights: the file is empty (0 bytes)",
                              file=str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any unreadable or unsafe content
        raise FileFormatError(f"cannot read the weights: {_load_problem(path, e)}",
                              file=str(path)) from None
    record = None
    if isinstance(state, dict) and "state" in state and isinstance(state["state"], dict) \
            and set(state) <= {"state", "trained"}:
        state, record = state["state"], state.get("trained")
        if record is not None:
            record = check_record(record, str(path))
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise FileFormatError("not a state dict (names to tensors)", file=str(path))
    return state, record


def _load_problem(path, e: Exception) -> str:
    """What ``torch.load(weights_only=True)`` refused, in one plain sentence: pickled Python
    objects (a torch file with more than tensors, or a bare pickle) or not a weights file."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        head = b""
    pickled = head[:1] == b"\x80" or (head == b"PK" and "Unsupported global" in str(e))
    if pickled:
        return ("it holds pickled Python objects besides tensors, which could run code when "
                "loaded, so it was not loaded (save a state dict of tensors instead)")
    if head != b"PK":
        return "this is not a PyTorch weights file (torch.save writes a zip archive)"
    return "the file is damaged or cut short: its tensors cannot be read"


def _load_into(model, state: dict[str, torch.Tensor], where: str) -> None:
    """Put ``state`` into ``model``, or raise FileFormatError saying how they differ."""
    own = model.state_dict()
    problems = [f"{k} is missing" for k in own if k not in state]
    problems += [f"{k} is not in the model" for k in state if k not in own]
    problems += [f"{k} has shape {tuple(state[k].shape)} but the model needs "
                 f"{tuple(own[k].shape)}" for k in own
                 if k in state and state[k].shape != own[k].shape]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise FileFormatError("the weights do not fit the graph: " + "; ".join(problems[:3]) +
                              more + ". Retrain, or remove the weights file", file=where)
    try:
        model.load_state_dict(state)
    except (RuntimeError, PlaygroundError) as e:
        raise FileFormatError(f"the weights do not fit the graph: {e}", file=where) from None


def _copy(data: Any) -> Any:
    return json.loads(json.dumps(data))


PRESETS_DIR = Path(__file__).resolve().parents[2] / "presets"
DEFAULT_PRESET = "hello_rnn"


def preset_names() -> list[str]:
    """The bundled presets, by file name without ``.json``, sorted."""
    return sorted(p.name[:-5] for p in PRESETS_DIR.glob("*.json"))


def resolve(name_or_path: str | os.PathLike) -> Path:
    """A path to an experiment file: ``name_or_path`` itself when it exists or looks like a
    path, else the bundled preset of that name. Raises FileFormatError when neither."""
    p = Path(name_or_path)
    if p.exists() or p.suffix == ".json" or len(p.parts) > 1:
        return p
    preset = PRESETS_DIR / f"{name_or_path}.json"
    if preset.exists():
        return preset
    raise FileFormatError(f"no file or preset named {str(name_or_path)!r}; presets: "
                          f"{', '.join(preset_names())}")


def _texts(data: dict) -> dict[str, str]:
    texts = {}
    for key in _TEXT_FIELDS:
        value = data.get(key, "")
        if not isinstance(value, str):
            raise FileFormatError(f"must be a string, got {value!r}", key)
        texts[key] = value
    if "name" in data and not texts["name"].strip():
        raise FileFormatError("must not be empty", "name")
    return texts


def _seed(data: dict) -> int:
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 32:
        raise FileFormatError(f"must be an integer from 0 to 2^32-1, got {seed!r}", "seed")
    return seed


def _train(data: dict) -> TrainConfig:
    train_raw = data.get("train", {})
    if isinstance(train_raw, dict) and "seed" in train_raw:
        raise FileFormatError("set the seed once, at the top level", "train.seed")
    return TrainConfig.from_dict(train_raw, "train")
