"""Per-step losses, shared by training and tracing so both see the same number.

The loss of a batch is the mean over the steps that carry loss:
``L = sum_{b,t} mask[b,t] * loss[b,t] / sum_{b,t} mask[b,t]``. Which steps carry
loss follows from the task's shape (every step for many-to-many aligned, the
last for many-to-one, the decoder steps for encoder-decoder).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import SequenceError


def step_losses(outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None,
                head_output: str) -> torch.Tensor:
    """``(B, T)`` loss at every step, zero where ``mask`` is 0.

    Softmax heads: cross-entropy of the logits ``outputs (B, T, C)`` against class
    ids ``targets (B, T)``. Identity heads: mean squared error against
    ``targets (B, T, C)`` (a ``(B, T)`` target is taken as one value per step).
    ``mask=None`` means every step carries loss.
    """
    if mask is not None:
        mask = mask.to(outputs.dtype)
    if head_output == "softmax":
        if targets.dtype.is_floating_point:
            raise SequenceError("a softmax head needs class ids as targets, got real values")
        C = outputs.shape[-1]
        safe = targets if mask is None else torch.where(mask > 0, targets, 0)
        lo, hi = (v.item() for v in torch.aminmax(safe))  # one reduction, not a test per id
        if lo < 0 or hi >= C:
            bad = lo if lo < 0 else hi
            raise SequenceError(f"target class {bad} is outside the head's {C} outputs")
        loss = F.cross_entropy(outputs.transpose(1, 2), safe, reduction="none")  # (B, T)
    else:
        t = targets.to(outputs.dtype)
        if t.dim() == 2:
            t = t.unsqueeze(-1)
        if t.shape[-1] != outputs.shape[-1]:
            raise SequenceError(f"targets have {t.shape[-1]} value(s) per step but the head "
                                f"outputs {outputs.shape[-1]}")
        if mask is not None:  # a NaN where no loss is taken is fine
            t = torch.where(mask.unsqueeze(-1) > 0, t, 0.0)
        loss = (outputs - t).pow(2).mean(-1)  # (B, T)
    return loss if mask is None else loss * mask


def mean_loss(losses: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The batch loss: mean of the per-step losses over the steps that carry loss."""
    return losses.sum() / mask.to(losses.dtype).sum().clamp_min(1.0)
