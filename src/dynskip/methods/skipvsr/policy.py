"""The mask policy of SkipVSR v2: per LR patch, run the trunk or reuse the aligned hidden state.

A reused patch keeps the hidden state warped from the previous recurrent step, so the error it makes
is ``|h_t - warp(h_{t-1})|`` on that patch. :class:`ReuseErrorEstimator` (the confidence estimator)
predicts its logarithm from three cheap per-patch signals: the flow-aligned LR change, the
flow-aligned change of the trunk's stem features, and how many steps the direction has run. The
policy runs a patch where the predicted error is large, where the flow is inconsistent (occlusion),
and where the patch has been reused ``max_stale`` steps in a row.

Keep logits are ``predicted log error - log_error_ref``, so the shared ``threshold`` knob reads as for
every learned policy: a patch runs where ``sigmoid(logit) > threshold`` (0: every patch runs).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dynskip.archs.warp import flow_warp
from dynskip.skip.tiles import tile_statistics, tile_to_pixel

LOG_FLOOR = 1e-5  # changes below this are noise-free copies; the log needs a floor
CHANGE_REFERENCES = ("frame", "source")


def patch_difference(current: Tensor, aligned: Tensor, patch: int) -> Tensor:
    """Mean absolute difference of two aligned ``(B, C, h, w)`` maps per patch, ``(B, 1, gh, gw)``."""
    return tile_statistics((current - aligned).abs().mean(1, keepdim=True), patch)


def patch_change(current: Tensor, previous: Tensor, flow: Tensor, patch: int) -> Tensor:
    """Mean absolute change of ``current`` against ``previous`` warped along ``flow``, per patch.

    ``(B, C, h, w)`` maps, ``(B, 2, h, w)`` flow -> ``(B, 1, gh, gw)`` (grid of ``patch`` tiles).
    Where the flow leaves the frame the warp reads zeros, so such patches show a large change.
    """
    return patch_difference(current, flow_warp(previous, flow), patch)


def carried_source(lr: Tensor, aligned_source: Tensor, run: Tensor, patch: int) -> Tensor:
    """The LR content each patch's hidden state now stems from, ``(B, 3, h, w)``.

    A running patch recomputes its state from this frame ``lr``; a reused one keeps the state warped
    from the previous step, whose source, warped along the same flow, is ``aligned_source``. Comparing
    the next frame with this map measures the change a reused state has drifted through since it was
    last computed (repeated bilinear warps included), not only the last step's.
    """
    return torch.where(pixel_mask(run, patch, tuple(lr.shape[-2:])) > 0.5, lr, aligned_source)


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


def estimator_features(lr_change: Tensor, stem_change: Tensor, step: int) -> Tensor:
    """``(B, 3, gh, gw)``: log LR change, log stem change, ``log(1 + step)`` per patch."""
    steps = torch.full_like(lr_change, float(step)).log1p()
    return torch.cat([lr_change.clamp_min(LOG_FLOOR).log(), stem_change.clamp_min(LOG_FLOOR).log(), steps], 1)


class ReuseErrorEstimator(nn.Module):
    """Predicted log reuse error per patch: a 1x1 conv over :func:`estimator_features`.

    ``(B, 3, gh, gw) -> (B, 1, gh, gw)``. Four parameters. The default is the LR change alone
    (weights ``(1, 0, 0)``, bias 0): the policy then runs a patch whose flow-aligned LR change exceeds
    ``error_ref`` at threshold 0.5. Phase 1 (:mod:`dynskip.methods.skipvsr.labels`) fits all four to
    the hidden-state reuse error of dense trajectories; on the held-out footage that fit ranked
    patches worse for output quality than the LR change alone (experiments/skipvsr/v2/README.md).
    """

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Conv2d(3, 1, 1)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))
            self.linear.bias.zero_()

    @property
    def reads_stem_change(self) -> bool:
        """Whether the stem-change feature has any weight (its 64-channel warp is the costly one)."""
        return bool(self.linear.weight[0, 1].detach() != 0)

    def forward(self, features: Tensor) -> Tensor:
        return self.linear(features)


class ReusePolicy(nn.Module):
    """Decides which LR patches run the trunk at one recurrent step.

    Args:
        max_stale: consecutive steps a patch may reuse before it must run again.
        occlusion_bound: forward-backward inconsistency (LR pixels) above which a patch must run.
        error_ref: reuse error (mean absolute hidden-state difference) at which the keep logit is 0.
        change_reference: what the LR change is measured against: ``"frame"``, the previous frame
            (the change of one step), or ``"source"``, the LR content the reused state was last
            computed from, carried along the flow (:func:`carried_source`; the change since then).
    """

    def __init__(
        self,
        max_stale: int = 4,
        occlusion_bound: float = 1.0,
        error_ref: float = 0.01,
        change_reference: str = "source",
    ) -> None:
        super().__init__()
        if max_stale < 0 or not occlusion_bound > 0 or not error_ref > 0:
            raise ValueError(
                "ReusePolicy needs max_stale >= 0, occlusion_bound > 0 and error_ref > 0; got "
                f"max_stale={max_stale}, occlusion_bound={occlusion_bound}, error_ref={error_ref}"
            )
        if change_reference not in CHANGE_REFERENCES:
            raise ValueError(f"change_reference must be one of {CHANGE_REFERENCES}, got {change_reference!r}")
        self.max_stale = max_stale
        self.change_reference = change_reference
        self.occlusion_bound = occlusion_bound
        self.estimator = ReuseErrorEstimator()
        self.register_buffer("log_error_ref", torch.tensor(float(error_ref)).log())

    def logits(self, features: Tensor) -> Tensor:
        """Keep logits ``(B, 1, gh, gw)`` from :func:`estimator_features`."""
        return self.estimator(features) - self.log_error_ref

    def forward(self, logits: Tensor, occlusion: Tensor, stale: Tensor, threshold: float) -> Tensor:
        """``(B, 1, gh, gw)`` float run mask (1 runs, 0 reuses)."""
        if threshold <= 0.0:
            return torch.ones_like(logits)
        run = (
            (torch.sigmoid(logits) > threshold)
            | (occlusion > self.occlusion_bound)
            | (stale >= self.max_stale)
        )
        return run.to(logits.dtype)
