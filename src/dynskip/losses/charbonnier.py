"""Charbonnier loss with BasicSR's semantics: ``sqrt((pred - target)^2 + eps)``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dynskip.utils.checks import as_image_batch, check_same_shape

REDUCTIONS = ("none", "mean", "sum")


def charbonnier_loss(pred: Tensor, target: Tensor, eps: float = 1e-12, reduction: str = "mean") -> Tensor:
    """Elementwise ``sqrt((pred - target)^2 + eps)``, reduced by ``reduction``.

    BasicSR's form (eps inside the root, no offset), used by BasicVSR and its successors.
    Not ``kornia.losses.charbonnier_loss``: that is Barron's ``sqrt(d^2 + 1) - 1``, a different loss.

    Args:
        pred: ``(B, C, H, W)`` or ``(B, T, C, H, W)``.
        target: same shape as ``pred``.
        eps: added to the squared difference; keeps the gradient finite at zero difference.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (the elementwise loss, in ``pred``'s shape).
    """
    caller = "charbonnier_loss"
    as_image_batch(pred, "pred", caller)
    as_image_batch(target, "target", caller)
    check_same_shape(caller, pred=pred, target=target)
    if reduction not in REDUCTIONS:
        raise ValueError(f"{caller}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if eps < 0:
        raise ValueError(f"{caller}: eps must be >= 0, got {eps}")
    loss = torch.sqrt((pred - target).square() + eps)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class CharbonnierLoss(nn.Module):
    """Module form of :func:`charbonnier_loss`."""

    def __init__(self, eps: float = 1e-12, reduction: str = "mean") -> None:
        super().__init__()
        self.eps = eps
        self.reduction = reduction

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return charbonnier_loss(pred, target, eps=self.eps, reduction=self.reduction)
