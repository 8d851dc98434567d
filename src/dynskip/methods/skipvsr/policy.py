"""The mask policy of SkipVSR v2: per LR patch, run the trunk or reuse the aligned hidden state.

A patch is reused (its trunk skipped) when its LR content barely changed along the flow since the
previous recurrent step, the flow is consistent there (no occlusion) and it has not been reused
``max_stale`` steps in a row. The change is turned into a keep probability
``1 - exp(-change / change_scale)`` so that the shared ``threshold`` knob reads as for learned
policies: a patch runs where its keep probability exceeds the threshold (0: always run = dense).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dynskip.archs.warp import flow_warp
from dynskip.skip.tiles import tile_statistics, tile_to_pixel


def patch_change(frame: Tensor, previous: Tensor, flow: Tensor, patch: int) -> Tensor:
    """Mean absolute change of ``frame`` against ``previous`` warped along ``flow``, per patch.

    ``(B, 3, h, w)`` frames, ``(B, 2, h, w)`` flow -> ``(B, 1, gh, gw)`` (grid of ``patch`` tiles).
    Where the flow leaves the frame the warp reads zeros, so such patches show a large change.
    """
    aligned = flow_warp(previous, flow)
    return tile_statistics((frame - aligned).abs().mean(1, keepdim=True), patch)


def patch_occlusion(flow: Tensor, reverse: Tensor, patch: int) -> Tensor:
    """Largest forward-backward flow inconsistency per patch, in LR pixels, ``(B, 1, gh, gw)``.

    ``flow`` maps this frame onto the previous one, ``reverse`` the previous onto this one; where
    both are right, ``flow(p) + reverse(p + flow(p)) = 0``. Occluded or disoccluded content breaks it.
    """
    error = (flow + flow_warp(reverse, flow, padding_mode="border")).norm(dim=1, keepdim=True)
    return nn.functional.max_pool2d(error, patch, patch, ceil_mode=True)


def pixel_mask(run: Tensor, patch: int, hw: tuple[int, int]) -> Tensor:
    """``(B, 1, gh, gw)`` patch decisions -> ``(B, 1, h, w)`` pixel mask."""
    return tile_to_pixel(run[:, 0], patch, hw)


class ReusePolicy(nn.Module):
    """Decides which LR patches run the trunk at one recurrent step.

    Args:
        patch: LR patch size of the decisions (and of the tile engine).
        change_scale: change (mean absolute LR difference, [0, 1] intensities) at which the keep
            probability is ``1 - 1/e``; with threshold 0.5 a patch runs above ``change_scale * ln 2``.
        max_stale: consecutive steps a patch may reuse before it must run again.
        occlusion_bound: forward-backward inconsistency (LR pixels) above which a patch must run.
    """

    def __init__(
        self, patch: int = 16, change_scale: float = 0.01, max_stale: int = 4, occlusion_bound: float = 1.0
    ) -> None:
        super().__init__()
        if patch < 1 or max_stale < 0 or not change_scale > 0 or not occlusion_bound > 0:
            raise ValueError(
                "ReusePolicy needs patch >= 1, max_stale >= 0, change_scale > 0 and occlusion_bound > 0; "
                f"got patch={patch}, max_stale={max_stale}, change_scale={change_scale}, "
                f"occlusion_bound={occlusion_bound}"
            )
        self.patch = patch
        self.change_scale = change_scale
        self.max_stale = max_stale
        self.occlusion_bound = occlusion_bound

    def keep_probability(self, change: Tensor) -> Tensor:
        return 1.0 - torch.exp(-change / self.change_scale)

    def change_threshold(self, threshold: float) -> float:
        """The change above which a patch runs at ``threshold`` (``inf`` at 1: nothing runs by change)."""
        return math.inf if threshold >= 1.0 else -self.change_scale * math.log1p(-threshold)

    def forward(self, change: Tensor, occlusion: Tensor, stale: Tensor, threshold: float) -> Tensor:
        """``(B, 1, gh, gw)`` float run mask (1 runs, 0 reuses) from the patch statistics."""
        if threshold <= 0.0:
            return torch.ones_like(change)
        run = (
            (self.keep_probability(change) > threshold)
            | (occlusion > self.occlusion_bound)
            | (stale >= self.max_stale)
        )
        return run.to(change.dtype)
