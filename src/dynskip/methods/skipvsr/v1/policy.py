"""The mask policy of SkipVSR v1: per (tile, block group), run the group or reuse its previous residual.

The learned part is :class:`~dynskip.methods.skipvsr.v1.arch.ConfidenceEstimator` (keep logits per
tile and group). This module holds the rules that turn them into the masks a recurrent step executes,
as :class:`~dynskip.methods.skipvsr.policy.ReusePolicy` does for v2:

- :func:`keep_masks`: straight-through Gumbel-sigmoid samples while training in ``"train"`` mode,
  otherwise hard ``sigmoid(logit) > threshold`` (0: every unit runs);
- the refresh cap: a unit that skipped ``max_stale`` steps in a row runs now (:func:`run_stale`), so a
  reused residual is at most ``max_stale`` steps old; :func:`skips_left` counts, per unit, the skips
  still allowed (``max_stale > 1``; with ``max_stale == 1`` the previous decisions say it).

Masks are ``(B, K, gh, gw)`` (K block groups on the tile grid) in the logits' dtype, 1 = the group runs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynskip.skiptrain.relax import gumbel_sigmoid


def keep_masks(logits: Tensor, relaxed: bool, temperature: float, threshold: float) -> Tensor:
    """Masks from estimator logits: Gumbel-sigmoid samples (``relaxed``) or the hard threshold rule."""
    if relaxed:
        return gumbel_sigmoid(logits, temperature, hard=True)
    if threshold <= 0.0:
        return torch.ones_like(logits)  # all active, also where sigmoid underflows to 0
    return (torch.sigmoid(logits) > threshold).to(logits.dtype)


def run_stale(masks: Tensor, stale: Tensor) -> Tensor:
    """``masks`` with every unit where ``stale`` is 1 switched on.

    ``max(m, s)`` written as ``m + s - m * s`` while ``masks`` carries gradients, so the straight-through
    estimator still reaches the units the cap did not touch.
    """
    return masks + stale - masks * stale if masks.requires_grad else torch.maximum(masks, stale)


def skips_left(left: Tensor, masks: Tensor, max_stale: int) -> Tensor:
    """Skips still allowed per unit after this step: ``max_stale`` where it ran, one fewer elsewhere."""
    ran = masks.detach() > 0.5
    return torch.where(ran, float(max_stale), (left - 1).clamp_min(0))
