"""The preset gallery: every bundled preset with its name, description, what to look at
(its lesson's steps) and the weights it opens with (trained, and how far, or untrained);
"Show me" opens the chosen one and shows the lesson's first step."""

from __future__ import annotations

import html

from PySide6 import QtCore, QtWidgets

from playground.errors import PlaygroundError
from playground.files.lessons import summary

# The order of the class notes: the vanilla RNN and its "hello", the input/output shapes,
# vanishing and exploding gradients, the LSTM and GRU, encoder-decoder and attention, then
# the comparisons. Presets not named here follow, by name.
CURRICULUM = (
    "hello_rnn", "vitals_one_to_one", "classify_order", "spell_one_to_many",
    "tagger_unidirectional", "tagger_bidirectional", "tbptt_long_text",
    "adding_rnn", "adding_lstm", "exploding_relu", "exploding_relu_clipped",
    "lstm_forget_gate", "gru_sine", "activation_tanh", "activation_relu",
    "init_orthogonal_adding", "init_normal_adding", "init_orthogonal_order",
    "init_normal_order", "encdec_no_attention", "encdec_attention", "reverse_attention",
    "toy_attention_heads", "compare_rnn", "compare_lstm", "compare_transformer",
)


def curriculum(names) -> list[str]:
    """``names`` in the order of :data:`CURRICULUM`, the others after it by name."""
    rank = {n: i for i, n in enumerate(CURRICULUM)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def preset_entries() -> list[dict]:
    """``{"path", "name", "description", "look_at", "lesson", "outcome", "weights",
    "weights_short", "error"}`` per preset file (``look_at``: the lesson as one paragraph, or
    the file's paragraph without one; ``weights``: the state it opens with, in words, and
    ``weights_short`` the same without the metrics)."""
    from playground.files import experiment
    from playground.files.trained import describe

    out = []
    for key in curriculum(experiment.preset_names()):
        path = experiment.PRESETS_DIR / f"{key}.json"
        try:
            exp = experiment.load(path, weights=False)
            wpath = experiment.weights_path(path)
            record = experiment.read_weights_file(wpath)[1] if wpath.exists() else {"steps": 0}
            out.append({"path": str(path), "name": exp.name, "description": exp.description,
                        "look_at": summary(exp.lesson, exp.what_to_look_at),
                        "lesson": exp.lesson, "outcome": exp.outcome,
                        "weights": describe(record), "weights_short": describe(record,
                                                                               short=True),
                        "error": ""})
        except PlaygroundError as e:
            out.append({"path": str(path), "name": key, "description": "", "look_at": "",
                        "lesson": (), "outcome": "", "weights": "", "weights_short": "",
                        "error": str(e)})
    return out


class GalleryDialog(QtWidgets.QDialog):
    """Pick a preset; :attr:`chosen` is its path after ``exec()``, :attr:`show_me` whether
    the lesson's walk should start (the Show me button)."""

    def __init__(self, parent=None, titles: dict[str, str] | None = None):
        super().__init__(parent)
        self.setWindowTitle("Preset gallery")
        self.resize(960, 520)
        self.chosen: str | None = None
        self.show_me = False
        self.titles = titles or {}
        from .compare_gallery import comparison_entries

        self.entries = preset_entries() + comparison_entries()   # then the side-by-sides
        lay = QtWidgets.QHBoxLayout(self)
        self.list = QtWidgets.QListWidget()
        self.list.setMinimumWidth(340)
        self.list.setWordWrap(True)
        for e in self.entries:
            it = QtWidgets.QListWidgetItem(f"{e['name']}\n    {e['weights_short']}"
                                           if e["weights_short"] else e["name"])
            it.setToolTip(e["description"] or e["error"])
            if e["error"]:
                it.setForeground(QtCore.Qt.GlobalColor.red)
            self.list.addItem(it)
        lay.addWidget(self.list)
        right = QtWidgets.QVBoxLayout()
        self.text = QtWidgets.QTextBrowser()
        right.addWidget(self.text, 1)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Open |
                                             QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.show_btn = buttons.addButton("Show me",
                                          QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)
        self.show_btn.setObjectName("galleryShowMe")
        self.show_btn.setToolTip("open the preset and show the first step of its lesson")
        self.show_btn.clicked.connect(lambda: self._accept(show_me=True))
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        right.addWidget(buttons)
        lay.addLayout(right, 1)
        self.list.currentRowChanged.connect(self._show)
        self.list.itemDoubleClicked.connect(lambda _: self._accept())
        if self.entries:
            self.list.setCurrentRow(0)
        else:
            self.text.setHtml("<p>No presets found.</p>")

    def _show(self, row: int) -> None:
        if not 0 <= row < len(self.entries):
            return
        e = self.entries[row]
        esc = html.escape
        parts = [f"<h2>{esc(e['name'])}</h2>"]
        if e["error"]:
            parts.append(f"<p style='color:#c62828'>{esc(e['error'])}</p>")
        if e["description"]:
            parts.append(f"<p>{esc(e['description'])}</p>")
        if e["lesson"]:
            steps = "".join(f"<li><b>{esc(self.titles.get(s.panel, s.panel))}</b>: "
                            f"{esc(s.text)}</li>" for s in e["lesson"])
            parts.append(f"<h3>What to look at</h3><ol>{steps}</ol>")
        elif e["look_at"]:
            parts.append(f"<h3>What to look at</h3><p>{esc(e['look_at'])}</p>")
        if e["outcome"]:
            parts.append(f"<h3>After training</h3><p>{esc(e['outcome'])}</p>")
        if e["weights"]:
            parts.append(f"<h3>Weights it opens with</h3><p>{esc(e['weights'])}</p>")
        self.text.setHtml("".join(parts))

    def select(self, name: str) -> bool:
        for i, e in enumerate(self.entries):
            if e["name"] == name or e["path"].endswith(f"/{name}.json"):
                self.list.setCurrentRow(i)
                return True
        return False

    def _accept(self, show_me: bool = False) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.entries) and not self.entries[row]["error"]:
            self.chosen = self.entries[row]["path"]
            self.show_me = show_me and bool(self.entries[row]["lesson"])
            self.accept()
