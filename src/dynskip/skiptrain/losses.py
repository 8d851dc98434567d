"""Losses that steer skipping: a budget on the measured cost, and supervision of masks by labels.

The budget acts on the cost-weighted density of a :class:`~dynskip.skip.protocol.SkipReport` (the
fraction of the dense MACs the active units would run), so every unit pulls with its real cost.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynskip.skip.protocol import SkipReport
from dynskip.utils.checks import check_choice

BudgetKind = Literal["abs", "hinge"]
LabelKind = Literal["l1", "bce"]

# Keeps BCE finite for masks that reach exactly 0 or 1 (hard / straight-through masks).
_BCE_EPS = 1e-6


def cost_weighted_density(
    report: SkipReport, group: str | None = None, prunable_only: bool = False
) -> Tensor:
    """Active fraction of ``report``'s units weighted by their dense MACs (0-dim, differentiable)."""
    if not isinstance(report, SkipReport):
        raise TypeError(f"report must be a SkipReport, got {type(report).__name__}")
    return report.density(group, prunable_only)


def budget_loss(density: Tensor, target: float | Tensor, kind: BudgetKind = "abs") -> Tensor:
    """Penalty of a density against a budget ``target`` in [0, 1].

    ``abs``: ``|density - target|`` (UGSP: hold the density at the target);
    ``hinge``: ``relu(density - target)`` (only exceeding the budget costs).
    """
    if not isinstance(density, Tensor):
        raise TypeError(f"density must be a Tensor, got {type(density).__name__}")
    target_value = target.detach() if isinstance(target, Tensor) else torch.tensor(float(target))
    if ((target_value < 0) | (target_value > 1)).any():
        raise ValueError(f"budget target must lie in [0, 1], got {target}")
    target_value = target_value.to(density)
    if kind == "abs":
        return (density - target_value).abs()
    if kind == "hinge":
        return F.relu(density - target_value)
    raise ValueError(f"budget loss kind must be 'abs' or 'hinge', got {kind!r}")


def resize_label(label: Tensor, size: tuple[int, int]) -> Tensor:
    """A ``(B, 1, H, W)`` label on a mask grid ``size``.

    The rule: each mask cell takes the *mean* of the label over the input positions it covers
    (adaptive average pooling, ``F.adaptive_avg_pool2d``), so a soft label says which fraction of
    the cell is labelled active; a finer grid than the label's copies values (nearest).
    """
    if label.shape[-2:] == tuple(size):
        return label
    if label.shape[-2] >= size[0] and label.shape[-1] >= size[1]:
        return F.adaptive_avg_pool2d(label, size)
    return F.interpolate(label, size=size, mode="nearest")


def mask_label_loss(
    mask: Tensor, label: Tensor, kind: LabelKind = "l1", reduction: Literal["mean", "sum", "none"] = "mean"
) -> Tensor:
    """Distance between a keep mask and a label of where to keep.

    Args:
        mask: ``(B, 1, h, w)`` keep probabilities in [0, 1] (soft or straight-through hard).
        label: ``(B, 1, H, W)`` labels in [0, 1] (1 = execute); resized to ``(h, w)`` by
            :func:`resize_label` (cell mean when coarser, nearest when finer).
        kind: ``l1`` (``|label - mask|``, UGSP's L_ugm before its weight) or ``bce``.
        reduction: ``mean``, ``sum`` or ``none`` (per position, ``(B, 1, h, w)``).
    """
    for name, t in (("mask", mask), ("label", label)):
        if not isinstance(t, Tensor) or t.dim() != 4 or t.shape[1] != 1:
            shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"{name} must be a (B, 1, h, w) tensor, got {shape}")
    if label.shape[0] != mask.shape[0]:
        raise ValueError(f"label batch {label.shape[0]} does not match mask batch {mask.shape[0]}")
    if label.numel() and (label.min() < 0 or label.max() > 1):
        raise ValueError(f"label values must lie in [0, 1], got [{label.min().item()}, {label.max().item()}]")
    target = resize_label(label.to(mask.dtype), (mask.shape[-2], mask.shape[-1])).detach()
    if kind == "l1":
        loss = (mask - target).abs()
    elif kind == "bce":
        loss = F.binary_cross_entropy(mask.clamp(_BCE_EPS, 1 - _BCE_EPS), target, reduction="none")
    else:
        raise ValueError(f"mask label loss kind must be 'l1' or 'bce', got {kind!r}")
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


class BudgetLoss(nn.Module):
    """Module form of :func:`budget_loss`; takes a density tensor or a :class:`SkipReport`.

    ``target`` ``None`` reads the model's current (possibly warming-up) budget each call, passed as
    ``forward(report, target=model.budget)``.
    """

    def __init__(
        self, target: float | None = None, kind: BudgetKind = "abs", prunable_only: bool = False
    ) -> None:
        super().__init__()
        check_choice(kind, "budget loss kind", ("abs", "hinge"))
        if target is not None and not 0.0 <= target <= 1.0:
            raise ValueError(f"budget target must lie in [0, 1], got {target}")
        self.target = target
        self.kind = kind
        self.prunable_only = prunable_only

    def forward(self, density_or_report: Tensor | SkipReport, target: float | None = None) -> Tensor:
        target = self.target if target is None else target
        if target is None:
            raise ValueError("BudgetLoss has no target: pass target= at construction or call time")
        density = density_or_report
        if isinstance(density_or_report, SkipReport):
            density = cost_weighted_density(density_or_report, prunable_only=self.prunable_only)
        return budget_loss(density, target, self.kind)


class MaskLabelLoss(nn.Module):
    """Module form of :func:`mask_label_loss`."""

    def __init__(self, kind: LabelKind = "l1", reduction: Literal["mean", "sum", "none"] = "mean") -> None:
        super().__init__()
        if kind not in ("l1", "bce"):
            raise ValueError(f"mask label loss kind must be 'l1' or 'bce', got {kind!r}")
        self.kind = kind
        self.reduction = reduction

    def forward(self, mask: Tensor, label: Tensor) -> Tensor:
        return mask_label_loss(mask, label, self.kind, self.reduction)
