"""Sequence Playground core: specs, models, exact per-step traces, data and training.

Qt-free by design: nothing here imports PySide6, pyqtgraph or ``ui``. The stages are
packages, and imports point one way (docs/ARCHITECTURE.md has the map)::

    errors, events, schema, timeline     the base: no other playground import
    model/    graph spec, layer kinds, validation, editing, build
    data/     vocabularies, batches, tasks, sources        (imports model)
    tracing/  exact per-step traces and their analysis     (imports model)
    train/    trainer, evaluation, generation              (imports model, data, tracing)
    files/    experiment files, export to PyTorch          (imports all of the above)
    cli       the command line                             (on top)

The names below are the stable API for scripts and notebooks::

    import playground as pg
    exp = pg.load_experiment(pg.resolve("hello_rnn"))
    model, data = exp.build_model(), exp.make_dataset()
    batch = data.example()
    tr = pg.trace(model, pg.bind_inputs(model, batch), batch.targets, batch.mask)

They are loaded on first use, so ``import playground`` alone costs nothing (no torch).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> (module, attribute)
_API = {
    "chain": ("playground.model.spec", "chain"),
    "NodeSpec": ("playground.model.spec", "NodeSpec"),
    "EdgeSpec": ("playground.model.spec", "EdgeSpec"),
    "GraphSpec": ("playground.model.spec", "GraphSpec"),
    "validate": ("playground.model.validate", "validate"),
    "analyze": ("playground.model.validate", "analyze"),
    "GraphModel": ("playground.model.editing", "GraphModel"),
    "LayerKind": ("playground.model.registry", "LayerKind"),
    "register_kind": ("playground.model.registry", "register"),
    "build": ("playground.model.build", "build"),
    "SequenceModel": ("playground.model.build", "SequenceModel"),
    "trace": ("playground.tracing.tracer", "trace"),
    "Trace": ("playground.tracing.records", "Trace"),
    "inspect": ("playground.probe.inspector", "inspect"),
    "from_module": ("playground.probe.tocanvas", "from_module"),
    "experiment_from_module": ("playground.files.fromtorch", "experiment_from_module"),
    "from_export": ("playground.files.fromtorch", "from_export"),
    "experiment_from_export": ("playground.files.fromtorch", "experiment_from_export"),
    "show": ("ui.show", "show"),      # the window (Qt): imported on first use only
    "Intervention": ("playground.tracing.interventions", "Intervention"),
    "connectivity": ("playground.tracing.connectivity", "connectivity"),
    "fit_pca": ("playground.tracing.trajectory", "fit_pca"),
    "neuron_search": ("playground.tracing.neurons", "search"),
    "GradientHorizon": ("playground.train.horizon", "GradientHorizon"),
    "Trainer": ("playground.train.trainer", "Trainer"),
    "TrainConfig": ("playground.train.config", "TrainConfig"),
    "evaluate": ("playground.train.evaluate", "evaluate"),
    "generate_text": ("playground.train.generate", "generate_text"),
    "free_run": ("playground.train.generate", "free_run"),
    "make_task": ("playground.data.taskbase", "make_task"),
    "make_dataset": ("playground.data.config", "make_dataset"),
    "bind_inputs": ("playground.data.bind", "bind_inputs"),
    "Vocab": ("playground.data.vocab", "Vocab"),
    "Experiment": ("playground.files.experiment", "Experiment"),
    "load_experiment": ("playground.files.experiment", "load"),
    "save_experiment": ("playground.files.experiment", "save"),
    "resolve": ("playground.files.experiment", "resolve"),
    "preset_names": ("playground.files.experiment", "preset_names"),
    "export_pytorch": ("playground.files.export", "export_pytorch"),
    "PlaygroundError": ("playground.errors", "PlaygroundError"),
    "GraphError": ("playground.errors", "GraphError"),
    "SequenceError": ("playground.errors", "SequenceError"),
    "FileFormatError": ("playground.errors", "FileFormatError"),
    "TrainingError": ("playground.errors", "TrainingError"),
}

__all__ = sorted(_API)


def __getattr__(name: str):
    try:
        module, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'playground' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
