"""The README's "Use from Python" example runs as written, and the public API it names is
there (each name resolves to the object it stands for)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_block(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return code


def test_the_use_from_python_example_runs():
    out = subprocess.run([sys.executable, "-c", readme_block("Use from Python")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3
    assert "'accuracy': 1.0" in lines[0]             # hello is learnt in 150 steps
    assert lines[1].startswith("(1, 4, 8) [")         # h for 4 steps of 8 units, ||dL/dh_t||
    assert lines[2] == "[1. 1. 1. 1. 1. 1. 1. 1.]"    # the clamped forget gate


def test_the_debug_your_own_model_example_runs():
    code = readme_block("Debug your own model")
    assert len(code.strip().splitlines()) <= 10
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['lstm layer 0', 'lstm layer 1'] (1, 12) 1.0"


def test_the_public_api_names_the_objects_of_the_core():
    import playground as pg
    from playground.errors import PlaygroundError
    from playground.files import experiment
    from playground.model.build import build
    from playground.model.spec import EdgeSpec, GraphSpec, NodeSpec, chain
    from playground.tracing import Intervention, trace

    assert (pg.chain, pg.NodeSpec, pg.EdgeSpec, pg.GraphSpec) == (chain, NodeSpec, EdgeSpec,
                                                                  GraphSpec)
    assert (pg.build, pg.trace, pg.Intervention) == (build, trace, Intervention)
    assert pg.load_experiment is experiment.load and pg.resolve is experiment.resolve
    assert pg.Experiment is experiment.Experiment and pg.PlaygroundError is PlaygroundError
    for name in ("Trainer", "TrainConfig", "evaluate", "make_task", "make_dataset",
                 "bind_inputs"):
        assert callable(getattr(pg, name)) and name in dir(pg)
    assert pg.resolve("hello_rnn") == experiment.PRESETS_DIR / "hello_rnn.json"
