"""Screenshot of the canvas holding an encoder-decoder model (for docs/canvas.png).

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 QT_QPA_PLATFORM=xcb python -m ui.canvas.demo docs/canvas.png
"""

from __future__ import annotations

import sys

from playground.model.spec import EdgeSpec, GraphSpec, NodeSpec


def encoder_decoder() -> GraphSpec:
    """src -> LSTM encoder; tgt -> LSTM decoder (starting from the encoder's state) ->
    cross-attention over the encoder's outputs -> transformer block -> head."""
    n = [
        NodeSpec("src", "input", {"encoding": "embedding", "vocab_size": 12, "embed_dim": 16},
                 (0, 0)),
        NodeSpec("enc", "lstm", {"hidden_size": 32, "num_layers": 2}, (280, 0)),
        NodeSpec("tgt", "input", {"encoding": "embedding", "vocab_size": 12, "embed_dim": 16},
                 (0, 210)),
        NodeSpec("dec", "lstm", {"hidden_size": 32, "num_layers": 2}, (280, 210)),
        NodeSpec("xattn", "cross_attention", {"num_heads": 4}, (560, 130)),
        NodeSpec("block", "transformer", {"num_heads": 4, "ff_dim": 64}, (840, 130)),
        NodeSpec("head", "linear", {"out_features": 12}, (1120, 130)),
    ]
    e = [EdgeSpec("src", "enc"), EdgeSpec("tgt", "dec"), EdgeSpec("enc", "dec", "state"),
         EdgeSpec("dec", "xattn"), EdgeSpec("enc", "xattn", "memory"),
         EdgeSpec("xattn", "block"), EdgeSpec("block", "head")]
    return GraphSpec(n, e)


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from . import CanvasView

    argv = sys.argv[1:] if argv is None else argv
    out = argv[0] if argv else "docs/canvas.png"
    app = QApplication.instance() or QApplication([])
    canvas = CanvasView()
    canvas.setWindowTitle("Sequence Playground: model canvas")
    canvas.resize(1560, 720)
    canvas.set_graph(encoder_decoder())
    canvas.show()
    canvas.select_node("dec")
    for _ in range(5):
        app.processEvents()
    canvas.view.fit()
    if len(argv) > 1 and argv[1] == "--broken":  # show the error colour too
        canvas.set_param("xattn", "num_heads", 3)
        canvas.select_node("xattn")
    for _ in range(5):
        app.processEvents()
    ok = canvas.grab().save(out)
    print(f"saved {out}: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
