"""The training worker: a reused Trainer ("continue training") reports each step once."""

from __future__ import annotations

from playground.data import suggest_head, suggest_input
from playground.data.sources import TextDataset
from playground.model.build import build
from playground.model.spec import chain
from playground.train import TrainConfig, Trainer
from ui.testing import no_running_qt  # noqa: F401
from ui.worker import TrainingRunner

TEXT = "abcab cabca bcabc " * 6


def test_continue_training_reports_each_step_once(qtbot):
    ds = TextDataset(TEXT, window=6, validation=0.0, name="abc")
    graph = chain(("x", "input", suggest_input(ds)), ("cell", "gru", {"hidden_size": 4}),
                  ("head", "linear", suggest_head(ds)))
    trainer = Trainer(build(graph, seed=0), ds, TrainConfig(steps=5, batch_size=4, val_every=0,
                                                             device="cpu"), device="cpu")
    runner = TrainingRunner()
    seen: list[int] = []
    runner.progress.connect(lambda snaps: seen.extend(s.step for s in snaps))
    for run in range(3):
        with qtbot.waitSignal(runner.finished, timeout=30_000):
            runner.start(trainer, 4)
        qtbot.waitUntil(lambda: not runner.running, timeout=5_000)
        assert sorted(seen) == list(range(1, 4 * (run + 1) + 1)), f"run {run}: {seen}"
        assert len(trainer._callbacks["on_step_end"]) == 0   # the worker removed its own
    runner.shutdown()
