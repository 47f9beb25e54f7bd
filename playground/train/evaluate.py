"""Evaluation: the held-out loss and, for classes, accuracy per step and per sequence."""

from __future__ import annotations

import torch

from ..data.bind import bind_inputs
from ..model.build import SequenceModel
from ..model.losses import mean_loss, step_losses


def evaluate(model: SequenceModel, dataset, batch=None) -> dict[str, float | None]:
    """Loss on ``batch`` (default: the held-out batch) and, for classes, ``accuracy`` (share of
    loss-carrying steps whose argmax is right) and ``sequence_accuracy`` (share of sequences
    right at every such step)."""
    batch = dataset.validation() if batch is None else batch
    inputs = bind_inputs(model, batch)
    dev = model.device
    return _evaluate(model, inputs, torch.as_tensor(batch.targets).to(dev),
                     torch.as_tensor(batch.mask, dtype=torch.float32).to(dev))


@torch.no_grad()
def _evaluate(model, inputs, targets, mask) -> dict[str, float | None]:
    was = model.training
    model.eval()
    try:
        out = model(inputs)
    finally:
        model.train(was)
    res: dict[str, float | None] = {
        "val_loss": float(mean_loss(step_losses(out, targets, mask, model.head_output), mask)),
        "accuracy": None, "sequence_accuracy": None}
    if model.head_output == "softmax":
        on = mask > 0
        right = (out.argmax(-1) == targets) | ~on
        res["accuracy"] = float((right & on).sum() / on.sum().clamp_min(1))
        res["sequence_accuracy"] = float(right.all(1).float().mean())
    return res
