"""Middlebury interpolation error (IE): mean absolute difference on the uint8 scale."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from dynskip.metrics.color import uint8_levels
from dynskip.utils.checks import check_frame_pair, check_metric_batch


def middlebury_ie(pred: Tensor, target: Tensor) -> Tensor:
    """IE of every image: ``mean |round(255 * pred) - round(255 * target)|`` over channels and pixels.

    Both images are clamped to ``[0, 1]`` before rounding, as a uint8 conversion does.

    Args:
        pred: ``(..., C, H, W)`` in ``[0, 1]``.
        target: same shape as ``pred``.
    Returns:
        float64 tensor of shape ``pred.shape[:-3]``, in uint8 levels (0..255).
    """
    check_frame_pair(pred, target, "middlebury_ie", channels=None)
    levels = [uint8_levels(x.detach()).double() for x in (pred, target)]
    return (levels[0] - levels[1]).abs().mean(dim=(-3, -2, -1))


class MiddleburyIE(Metric):
    """Mean over images of :func:`middlebury_ie`; lower is better.

    ``update(preds, target)`` takes ``(B, C, H, W)`` or ``(B, T, C, H, W)``; every image counts once.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("ie_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("num_images", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        check_metric_batch(preds, target, "MiddleburyIE.update", channels=None)
        per_image = middlebury_ie(preds, target)
        self.ie_sum += per_image.sum()
        self.num_images += per_image.numel()

    def compute(self) -> Tensor:
        return self.ie_sum / self.num_images
