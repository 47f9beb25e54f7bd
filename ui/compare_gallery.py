"""The gallery's "Side by side" entries: the bundled comparisons
(``presets/comparisons/``), in the form :func:`ui.gallery.preset_entries` gives presets."""

from __future__ import annotations

from playground.errors import PlaygroundError
from playground.files import comparison as C

PREFIX = "Side by side: "


def comparison_entries() -> list[dict]:
    """One gallery entry per bundled comparison (its members named in ``look_at``)."""
    out = []
    for key in C.preset_names():
        path = C.resolve(key)
        try:
            comp = C.load(path)
            members = "; ".join(f"{C.label_of(comp, i)}: {m.file} ({m.weights})"
                                for i, m in enumerate(comp.members))
            out.append({"path": str(path), "name": PREFIX + comp.name,
                        "description": comp.description,
                        "look_at": f"One input and one cursor for {members}. The top row "
                                   "overlays ||dL/dh_t|| (log scale) and the loss per step; "
                                   "each column has its own Train button.",
                        "lesson": (), "outcome": "", "weights": "",
                        "weights_short": f"{len(comp.members)} models side by side",
                        "error": ""})
        except PlaygroundError as e:
            out.append({"path": str(path), "name": PREFIX + key, "description": "",
                        "look_at": "", "lesson": (), "outcome": "", "weights": "",
                        "weights_short": "", "error": str(e)})
    return out
