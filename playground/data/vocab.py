"""Vocabularies: text split into symbols, and symbols to ids and back.

A :class:`Vocab` is an ordered set of symbols (symbol ``i`` has id ``i``) at the ``char`` or
``word`` level. There is no ``<unk>``: a symbol outside the vocabulary is a
:class:`~playground.errors.SequenceError` that names it and its position.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import SequenceError

LEVELS = ("char", "word")
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*|[^\w\s]")
_NO_SPACE_BEFORE = set(",.;:!?)]}%\u2019'\"")
_NO_SPACE_AFTER = set("([{")


def tokenize(text: str, level: str = "char") -> list[str]:
    """Split ``text`` into symbols. ``char``: every character (spaces and newlines included).
    ``word``: words (letters, digits, inner apostrophes: ``don't``) and each punctuation mark as
    its own token; whitespace only separates."""
    if level == "char":
        return list(text)
    if level == "word":
        return _WORD.findall(text)
    raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")


class Vocab:
    """An ordered set of symbols; symbol ``i`` has id ``i``. There is no ``<unk>``: encoding a
    symbol outside the vocabulary is an error that names it and its position."""

    def __init__(self, symbols: Iterable[str], level: str = "char"):
        self.symbols: tuple[str, ...] = tuple(str(s) for s in symbols)
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
        self.level = level
        self.index = {s: i for i, s in enumerate(self.symbols)}
        if len(self.index) != len(self.symbols):
            dup = next(s for i, s in enumerate(self.symbols) if self.index[s] != i)
            raise SequenceError(f"symbol {dup!r} appears twice in the vocabulary")

    @classmethod
    def from_text(cls, text: str | Sequence[str], level: str = "char",
                  order: str = "sorted") -> Vocab:
        """The symbols of ``text`` (a string, tokenized at ``level``, or a list of tokens), in
        sorted order or in order of first appearance (``order="appearance"``: ``hello`` gives
        h, e, l, o as in the class notes)."""
        tokens = tokenize(text, level) if isinstance(text, str) else list(text)
        seen = list(dict.fromkeys(tokens))
        return cls(seen if order == "appearance" else sorted(seen), level)

    def __len__(self) -> int:
        return len(self.symbols)

    def __iter__(self):
        return iter(self.symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.index

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Vocab) and self.symbols == other.symbols
                and self.level == other.level)

    def __hash__(self) -> int:
        return hash((self.symbols, self.level))

    def __repr__(self) -> str:
        return f"Vocab({list(self.symbols)!r}, level={self.level!r})"

    def tokens(self, text: str | Sequence[str]) -> list[str]:
        """``text`` split into symbols at this vocabulary's level (a list is kept as it is)."""
        return tokenize(text, self.level) if isinstance(text, str) else [str(s) for s in text]

    def encode(self, text: str | Sequence[str]) -> np.ndarray:
        """Symbol ids, ``(T,)`` int64. Raises :class:`SequenceError` for an unknown symbol."""
        tokens = self.tokens(text)
        ids = list(map(self.index.get, tokens))       # (looked up in C: ~25x a Python loop)
        if None in ids:
            pos = ids.index(None)
            raise SequenceError(f"symbol {tokens[pos]!r} at position {pos + 1} is not in the "
                                f"vocabulary ({self.preview()})")
        return np.array(ids, dtype=np.int64).reshape(-1)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The symbols of ``ids``; an id outside the vocabulary raises :class:`SequenceError`."""
        a = np.asarray(ids, dtype=np.int64).reshape(-1)
        bad = np.flatnonzero((a < 0) | (a >= len(self.symbols)))
        if len(bad):
            pos = int(bad[0])
            raise SequenceError(f"id {int(a[pos])} at position {pos + 1} is outside the "
                                f"vocabulary of {len(self.symbols)} symbols")
        symbols = self.symbols
        return [symbols[i] for i in a.tolist()]    # (a Python loop over int64 scalars: 5x)

    def join(self, symbols: Iterable[str] | np.ndarray) -> str:
        """Symbols (or ids) back to text: characters side by side, words with spaces but none
        before punctuation."""
        symbols = symbols if isinstance(symbols, (np.ndarray, str)) else list(symbols)
        if isinstance(symbols, np.ndarray) or any(issubclass(t, (int, np.integer))
                                                  for t in set(map(type, symbols))):
            symbols = self.decode(symbols)
        symbols = list(symbols)
        if self.level == "char":
            return "".join(symbols)
        text = ""
        for i, s in enumerate(symbols):
            if i and s[0] not in _NO_SPACE_BEFORE and text[-1] not in _NO_SPACE_AFTER:
                text += " "
            text += s
        return text

    def preview(self, limit: int = 12) -> str:
        shown = ", ".join(repr(s) for s in self.symbols[:limit])
        more = f", ... ({len(self)} in all)" if len(self) > limit else ""
        return f"symbols {shown}{more}"

    def to_dict(self) -> dict:
        return {"symbols": list(self.symbols), "level": self.level}

    @classmethod
    def from_dict(cls, data: dict) -> Vocab:
        return cls(data["symbols"], data.get("level", "char"))
