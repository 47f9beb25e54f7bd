"""Files: experiments on disk and models written out as plain PyTorch.

Owns experiment files (:mod:`.experiment`: JSON plus ``.weights.pt``, the bundled presets
and :func:`~.experiment.resolve`), the training record kept with trained weights
(:mod:`.trained`) and the export to a standalone PyTorch script
(:mod:`.export`).

May import everything below it: :mod:`playground.errors`, ``model``, ``data``, ``train``.
Never ``cli``.
"""

from .experiment import (
    DEFAULT_PRESET,
    PRESETS_DIR,
    Experiment,
    load,
    preset_names,
    read_weights,
    read_weights_file,
    resolve,
    save,
    save_weights,
    weights_path,
)
from .export import export_pytorch, model_source

__all__ = ["Experiment", "load", "save", "resolve", "preset_names", "read_weights",
           "read_weights_file", "save_weights", "weights_path", "PRESETS_DIR", "DEFAULT_PRESET",
           "export_pytorch", "model_source"]
