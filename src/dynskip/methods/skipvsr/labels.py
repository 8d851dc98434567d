"""Phase 1 of SkipVSR v2: fit the reuse-error estimator on dense trajectories.

The labels are exact, not relaxed: on the dense trajectory of a clip, the error reuse would make on a
patch is ``|h_t - warp(h_{t-1})|`` (:meth:`SkipVSRv2.reuse_trace`). The estimator is linear in its
log features, so ordinary least squares on ``log error`` fits it in closed form.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from dynskip.methods.skipvsr.arch import SkipVSRv2


@torch.no_grad()
def reuse_samples(model: SkipVSRv2, clips: Iterable[Tensor]) -> tuple[Tensor, Tensor]:
    """``(N, 3)`` features, ``(N,)`` log errors of every patch and step of ``clips`` ``(B, T, 3, h, w)``."""
    features, errors = [], []
    for lr in clips:
        for feat, err in model.reuse_trace(lr)[1]:
            features.append(feat.permute(0, 2, 3, 1).reshape(-1, feat.shape[1]))
            errors.append(err.flatten())
    if not features:
        raise ValueError("reuse_samples needs clips of at least 2 frames")
    return torch.cat(features), torch.cat(errors)


def fit_reuse_estimator(model: SkipVSRv2, features: Tensor, log_errors: Tensor) -> dict[str, float]:
    """Least-squares fit of ``model.policy.estimator``; returns the fit's Spearman rank correlation."""
    design = torch.cat([features, torch.ones_like(features[:, :1])], 1).double()
    solution = torch.linalg.lstsq(design, log_errors[:, None].double()).solution[:, 0].float()
    linear = model.policy.estimator.linear
    with torch.no_grad():
        linear.weight.copy_(solution[:-1].view_as(linear.weight))
        linear.bias.fill_(float(solution[-1]))
    predicted = design.float() @ solution
    return {"samples": float(len(log_errors)), "spearman": spearman(predicted, log_errors)}


def spearman(a: Tensor, b: Tensor) -> float:
    """Rank correlation of two ``(N,)`` tensors (ties broken by order)."""
    ranks = torch.stack([a.argsort().argsort(), b.argsort().argsort()]).double()
    return float(torch.corrcoef(ranks)[0, 1])
