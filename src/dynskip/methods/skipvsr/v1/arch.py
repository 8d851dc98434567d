"""SkipVSR: BasicVSR with per-tile, per-block-group skipping in both propagation trunks.

The backbone is the project's exact :class:`~dynskip.archs.basicvsr_arch.BasicVSR` (same module names,
official weights load strictly). Each trunk's 30 residual blocks are cut into ``num_groups`` groups of
consecutive blocks. For every recurrent step (one frame, one direction) a light
:class:`ConfidenceEstimator` looks at the trunk's stem features, the flow-aligned previous-frame
decisions and the flow-aligned frame difference on a grid of ``tile x tile`` LR patches, and predicts one
keep logit per (tile, group). A skipped (tile, group) gets no residual from the group's blocks; with
``temporal_align`` it gets the group's residual of the previous frame, warped by the flow, instead.

Shapes (LR frame ``h x w``, tile grid ``gh = ceil(h / tile)``, ``gw = ceil(w / tile)``):

- input ``(B, T, 3, h, w)`` in ``[0, 1]``, output ``(B, T, 3, 4h, 4w)``;
- estimator logits / masks: ``(B, num_groups, gh, gw)`` per recurrent step;
- a group's residual (kept for temporal alignment): ``(B, num_feat, h, w)``.

Execution modes (see :mod:`dynskip.skip.protocol`): ``"dense"`` is plain BasicVSR (estimator not run);
``"train"`` multiplies each block's residual by a straight-through Gumbel-sigmoid tile mask;
``"masked"`` does the same with hard masks ``sigmoid(logit) > threshold``; ``"sparse"`` runs the
same hard masks through the project's shared tile engine (:func:`dynskip.skip.engine.residual_skip_chain`,
one :class:`~dynskip.skip.plan.TilePlan` per (step, group)), so skipped tiles cost nothing and active
ones are exact (halo 2 per block, partial border tiles at their true size, zero image borders as the
dense padded conv has them). ``engine_mode`` is handed to the engine: ``"auto"`` (default) runs a group
densely at or above the engine's calibrated cut-over (:mod:`dynskip.skip.fallback`), ``"sparse"``
always runs the tile path. Reported MACs come from :func:`dynskip.skip.cost.residual_skip_macs`.

Report maps: ``mask/backward_trunk`` and ``mask/forward_trunk``, ``(B, 1, gh, gw)``, the mean keep
mask over the groups at the clip's last frame; ``frames/backward_trunk`` and ``frames/forward_trunk``,
``(B * T, 1, gh, gw)`` (sample-major), the same at every frame (``--save-masks`` draws them).
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn

from dynskip.archs.basicvsr_arch import BasicVSR, ConvResidualBlocks, Direction
from dynskip.archs.warp import flow_warp, flow_warp_at
from dynskip.benchmarks.calibration import ensure_calibrated
from dynskip.skip.cost import residual_skip_macs
from dynskip.skip.engine import (
    residual_reuse_chain,
    residual_runs_sparse,
    residual_skip_chain,
    residual_skip_dense,
)
from dynskip.skip.plan import TilePlan
from dynskip.skip.protocol import SkipKnobs, SkipRecorder, SkipReport, SkipUnit
from dynskip.skip.tiles import tile_statistics, tile_to_pixel
from dynskip.skiptrain.relax import gumbel_sigmoid

CUTOVER_GRID = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)  # active fractions the dense cut-over is measured at
HALO = 2  # a residual block is two 3x3 convs: an output tile reads 2 pixels of its input around it


# Floor of the per-tile variance under the square root. At 0 the root's gradient is infinite and the
# clamp's mask turns it into NaN; in bf16, E[x^2] - E[x]^2 cancels to 0 on flat tiles. Changes a std only
# where it is below 1e-6.
VARIANCE_FLOOR = 1e-12


def tile_mean_std(x: Tensor, tile: int) -> tuple[Tensor, Tensor]:
    """Per-tile mean and standard deviation of ``x`` (B, C, H, W), with finite gradients everywhere."""
    mean = tile_statistics(x, tile)
    return mean, (tile_statistics(x * x, tile) - mean * mean).clamp_min(VARIANCE_FLOOR).sqrt()


def upsample_mask(mask: Tensor, tile: int, hw: tuple[int, int]) -> Tensor:
    """``(B, K, gh, gw)`` per-group tile masks -> ``(B, K, h, w)`` pixel masks (the shared tile_to_pixel)."""
    b, k = mask.shape[:2]
    return tile_to_pixel(mask.flatten(0, 1), tile, hw).view(b, k, *hw)


class ConfidenceEstimator(nn.Module):
    """Per-tile keep logits for the block groups of one trunk.

    Input features per tile (``in_channels = 2 * num_feat + num_groups + 4``): mean and std of the
    trunk's stem features over the tile (they already mix the current frame with the flow-aligned
    hidden state), the flow-aligned previous-frame decisions (``num_groups``), the mean flow-aligned
    frame difference, the LR luminance std (texture), a first-frame flag, and the mean change of the
    stem features against the flow-aligned previous step's (how stale a reused residual would be).
    Two 3x3 convs and a 1x1 on the tile grid: ``9 * in * hidden + 9 * hidden^2 + hidden * num_groups``
    MACs per tile, negligible next to one residual block on the tile (``2 * 9 * num_feat^2 * tile^2``).

    ``(B, in_channels, gh, gw) -> (B, num_groups, gh, gw)`` logits.
    """

    def __init__(
        self, num_feat: int = 64, num_groups: int = 30, hidden: int = 48, init_bias: float = 3.0
    ) -> None:
        super().__init__()
        self.in_channels = 2 * num_feat + num_groups + 4
        self.num_groups = num_groups
        self.hidden = hidden
        self.net = nn.Sequential(
            nn.Conv2d(self.in_channels, hidden, 3, 1, 1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(hidden, hidden, 3, 1, 1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(hidden, num_groups, 1),
        )
        # Start (almost) all-active so that training starts from the dense model's quality.
        nn.init.zeros_(self.net[-1].weight)
        nn.init.constant_(self.net[-1].bias, init_bias)

    def macs_per_tile(self) -> int:
        return (
            9 * self.in_channels * self.hidden + 9 * self.hidden * self.hidden + self.hidden * self.num_groups
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class SkipVSR(SkipKnobs, BasicVSR):
    """BasicVSR whose trunks skip block groups per LR tile (see the module docstring).

    Args:
        num_feat, num_block: backbone size (64, 30 for the official weights).
        num_groups: block groups per trunk (``num_block`` must divide evenly); one decision per group.
        tile: LR tile size of the decisions and of the tile engine.
        hidden: estimator width.
        temporal_align: skipped tiles reuse the flow-warped previous-frame group residual, and the
            estimator sees flow-aligned previous decisions and frame difference. ``False`` (the
            ablation): skipped tiles get a zero residual and the estimator inputs are not warped.
        refresh: cap how long a (tile, block) may reuse residuals: after ``max_stale`` consecutive
            skipped steps it is forced active. ``False``: no cap.
        max_stale: the cap (1: a tile skipped at the previous step runs now, so at most half of the
            steps of a unit can skip; 2 allows two of three, ...). Flow-aligned like the decisions.
        engine_mode: tile-engine mode in ``"sparse"`` execution: ``"auto"`` (the engine's calibrated
            dense cut-over, see :mod:`dynskip.skip.fallback`) or ``"sparse"`` (always the tile path).
        calibrate_cutover: with ``engine_mode="auto"``, measure the cut-over once per frame size, batch
            and thread count on this model's own block (random masks, so content-independent) instead
            of the engine's default, which was measured on large frames and 32-px tiles: small LR
            frames with 8-px tiles pay relatively more halo and bookkeeping, so dense wins earlier.
        threshold: test-time knob: a (tile, group) runs where ``sigmoid(logit) > threshold`` (0 = all
            active = dense BasicVSR).
        execution_mode: ``"dense"``, ``"train"``, ``"masked"`` or ``"sparse"`` (see the module docstring).
        budget: training target of the cost-weighted active fraction of the trunk blocks.
        temperature: Gumbel-sigmoid temperature of ``"train"`` execution.
    """

    def __init__(
        self,
        num_feat: int = 64,
        num_block: int = 30,
        num_groups: int = 30,
        tile: int = 8,
        hidden: int = 48,
        temporal_align: bool = True,
        engine_mode: str = "auto",
        refresh: bool = True,
        calibrate_cutover: bool = True,
        max_stale: int = 1,
        threshold: float = 0.5,
        execution_mode: str = "sparse",
        budget: float = 0.5,
        temperature: float = 2.0 / 3.0,
    ) -> None:
        super().__init__(num_feat=num_feat, num_block=num_block)
        if num_block % num_groups:
            raise ValueError(f"num_block={num_block} must be a multiple of num_groups={num_groups}")
        if tile < 1:
            raise ValueError(f"tile must be >= 1, got {tile}")
        self.num_groups = num_groups
        self.group_size = num_block // num_groups
        self.tile = tile
        self.temporal_align = temporal_align
        if engine_mode not in ("auto", "sparse"):
            raise ValueError(f"engine_mode must be 'auto' or 'sparse', got {engine_mode!r}")
        self.engine_mode = engine_mode
        if max_stale < 1:
            raise ValueError(f"max_stale must be >= 1 (consecutive skipped steps allowed), got {max_stale}")
        self.refresh = refresh
        self.max_stale = max_stale
        self.calibrate_cutover = calibrate_cutover
        self.backward_estimator = ConfidenceEstimator(num_feat, num_groups, hidden)
        self.forward_estimator = ConfidenceEstimator(num_feat, num_groups, hidden)
        self.threshold, self.execution_mode, self.budget = threshold, execution_mode, budget
        self.temperature = temperature
        self.recorder = SkipRecorder(self.skip_units())
        # Set by training objectives: a callable (direction, frame_index, logits) -> masks overriding the
        # estimator's decisions (used to read per-tile contributions from the dense model as gradients).
        self.mask_override = None
        # Set by label builders: record per (step, block, tile) the error skipping would make (last_errors).
        self.record_reuse_error = False
        self.last_errors: list[Tensor] = []
        self._state: dict = {}
        # Per recurrent step of the last forward (backward steps, then forward steps): estimator logits,
        # masks, estimator inputs and the flow to the previous step (None at a direction's first step).
        self.last_logits: list[Tensor] = []
        self.last_masks: list[Tensor] = []
        self.last_inputs: list[Tensor] = []
        self.last_flows: list[Tensor | None] = []
        self.frame_density: Tensor | None = None

    # --- protocol ------------------------------------------------------------------------------
    def block_macs_per_pixel(self) -> int:
        return 2 * 9 * self.num_feat * self.num_feat

    def skip_units(self) -> list[SkipUnit]:
        per_group = self.group_size * self.block_macs_per_pixel()
        stem = 9 * (self.num_feat + 3) * self.num_feat
        units = []
        for trunk in ("backward_trunk", "forward_trunk"):
            units.append(SkipUnit(f"{trunk}.stem", "stem", stem, prunable=False))
            units += [
                SkipUnit(f"{trunk}.group{k}", trunk, per_group, halo=HALO) for k in range(self.num_groups)
            ]
        return units

    def skip_report(self) -> SkipReport:
        """Active fraction and MACs per group unit (``<trunk>.group<k>``), per trunk and overall.

        ``self.frame_density`` holds the per-frame cost-weighted density of the last forward, ``(T,)``.
        """
        return self.recorder.report()

    def group_blocks(self, trunk: ConvResidualBlocks, k: int) -> list[nn.Module]:
        g = self.group_size
        return list(trunk.residual_blocks[k * g : (k + 1) * g])

    # --- forward ---------------------------------------------------------------------------------
    def forward(self, lr: Tensor) -> Tensor:
        b, t = lr.shape[:2]
        self.recorder.reset(frames=b * t)
        self.last_logits, self.last_masks, self.last_inputs, self.last_flows = [], [], [], []
        self.last_errors = []
        self._frame_active = lr.new_zeros(t)
        self._frame_dense = lr.new_zeros(t)
        self._state = {"lr": lr}
        self._frame_masks: dict[str, dict[int, Tensor]] = {}
        out = super().forward(lr)
        for trunk_name, per_frame in self._frame_masks.items():
            stacked = torch.stack([per_frame[i] for i in sorted(per_frame)], 1)  # (B, T, 1, gh, gw)
            self.recorder.add_map(f"frames/{trunk_name}", stacked.flatten(0, 1))
        if self.execution_mode != "dense":
            self.frame_density = (self._frame_active / self._frame_dense.clamp_min(1e-12)).detach()
        self._state = {}
        return out

    def propagate(self, lr: Tensor, flows: Tensor, direction: Direction) -> list[Tensor]:
        # Per-direction recurrent state of the skipping: previous frame index, flow to it, decisions,
        # group residuals. Reset here so run_trunk sees a fresh state at each direction's first step.
        self._state.update(
            flows=flows, prev=None, prev_mask=None, prev_res=None, prev_feat=None, prev_remaining=None
        )
        return super().propagate(lr, flows, direction)

    def _flow_to_prev(self, i: int, direction: Direction) -> Tensor | None:
        prev = self._state["prev"]
        if prev is None:
            return None
        flows = self._state["flows"]
        # The same flow the hidden state was warped with at this step (BasicVSR.propagate).
        return flows[:, i] if direction == "backward" else flows[:, i - 1]

    def _align_tile_map(self, tile_map: Tensor, flow: Tensor) -> Tensor:
        """A ``(B, K, gh, gw)`` map of the previous step moved onto this step's tiles along ``flow``.

        Upsampled to pixels, warped (zeros where the flow leaves the frame), averaged per tile again.
        """
        hw = flow.shape[-2:]
        return tile_statistics(flow_warp(upsample_mask(tile_map, self.tile, hw), flow), self.tile)

    def _estimator_input(
        self, feat: Tensor, x_i: Tensor, flow: Tensor | None, prev_lr: Tensor | None
    ) -> Tensor:
        b = feat.shape[0]
        ts = self.tile
        mean, std = tile_mean_std(feat, ts)
        gh, gw = mean.shape[-2:]
        _, texture = tile_mean_std(x_i.mean(1, keepdim=True), ts)
        prev_mask = self._state["prev_mask"]
        prev_feat = self._state.get("prev_feat")
        if prev_feat is None:
            change = feat.new_zeros(b, 1, gh, gw)
        else:
            aligned = flow_warp(prev_feat, flow) if self.temporal_align else prev_feat
            change = tile_statistics((feat - aligned).abs().mean(1, keepdim=True), ts)
        if prev_lr is None:
            diff = feat.new_zeros(b, 1, gh, gw)
            pmask = feat.new_zeros(b, self.num_groups, gh, gw)
            first = feat.new_ones(b, 1, gh, gw)
        else:
            if self.temporal_align:
                prev_lr = flow_warp(prev_lr, flow)
                pmask = self._align_tile_map(prev_mask, flow)
            else:
                pmask = prev_mask
            diff = tile_statistics((x_i - prev_lr).abs().mean(1, keepdim=True), ts)
            first = feat.new_zeros(b, 1, gh, gw)
        return torch.cat([mean, std, pmask, diff * 10.0, texture * 10.0, first, change * 10.0], dim=1)

    def with_previous_decisions(self, inputs: Tensor, prev: Tensor | None, flow: Tensor | None) -> Tensor:
        """``inputs`` (one step's estimator input) with its previous-decision channels set from ``prev``.

        Teacher forcing for label training: the dense teacher's own decisions are all ones, so the labels
        of the previous step (``(B, K, gh, gw)``, ``None`` at a first step) take their place, aligned with
        the flow ``(B, 2, h, w)`` exactly as ``_estimator_input`` aligns real decisions.
        """
        c0 = 2 * self.num_feat
        out = inputs.clone()
        if prev is None:
            out[:, c0 : c0 + self.num_groups] = 0
            return out
        if self.temporal_align:
            prev = self._align_tile_map(prev, flow)
        out[:, c0 : c0 + self.num_groups] = prev
        return out

    def _decide(self, logits: Tensor, direction: Direction, i: int) -> Tensor:
        mode = self.execution_mode
        if self.mask_override is not None:
            return self.mask_override(direction, i, logits)
        if mode == "train" and self.training:
            return gumbel_sigmoid(logits, self.temperature, hard=True)
        if self.threshold <= 0.0:
            return torch.ones_like(logits)  # all active, also where sigmoid underflows to 0
        return (torch.sigmoid(logits) > self.threshold).to(logits.dtype)

    def run_trunk(
        self,
        trunk: ConvResidualBlocks,
        x_i: Tensor,
        feat_prop: Tensor,
        frame_index: int,
        direction: Direction,
    ) -> Tensor:
        if self.execution_mode == "dense":
            return super().run_trunk(trunk, x_i, feat_prop, frame_index, direction)
        b, _, h, w = x_i.shape
        hw = (h, w)
        estimator = self.backward_estimator if direction == "backward" else self.forward_estimator
        feat = trunk.stem(self.trunk_input(x_i, feat_prop))
        flow = self._flow_to_prev(frame_index, direction)
        prev = self._state["prev"]
        prev_lr = None if prev is None else self._state["lr"][:, prev]
        est_in = self._estimator_input(feat, x_i, flow, prev_lr)
        self._state["prev_feat"] = feat.detach()
        self.last_inputs.append(est_in.detach())
        self.last_flows.append(None if flow is None else flow.detach())
        logits = estimator(est_in)
        masks = self._decide(logits, direction, frame_index)  # (B, K, gh, gw)
        capped = self.refresh and self.mask_override is None
        remaining = None  # skips still allowed per (tile, block) after max_stale > 1 steps
        if capped and self.max_stale > 1:
            kept = self._state["prev_remaining"]
            if kept is None:
                remaining = torch.full_like(masks.detach(), float(self.max_stale))
            else:
                remaining = self._align_tile_map(kept, flow) if self.temporal_align else kept
        if capped and prev is not None:
            # A (tile, block) that skipped max_stale steps in a row runs now: reused residuals are at most
            # max_stale steps stale, so skipped regions cannot drift along the recurrence.
            if remaining is None:  # max_stale 1: the flow-aligned previous decisions say it
                c0 = 2 * self.num_feat
                stale = (est_in[:, c0 : c0 + self.num_groups] < 0.5).to(masks.dtype)
            else:
                stale = (remaining < 0.5).to(masks.dtype)
            masks = masks + stale - masks * stale if masks.requires_grad else torch.maximum(masks, stale)
        if remaining is not None:
            ran = masks.detach() > 0.5
            left = (remaining - 1).clamp_min(0)
            self._state["prev_remaining"] = torch.where(ran, float(self.max_stale), left)
        self.last_logits.append(logits)
        self.last_masks.append(masks)
        gh, gw = logits.shape[-2:]

        hard = self.execution_mode in ("sparse", "masked") or not self.training
        prev_res = self._state["prev_res"]  # per group (B, C, h, w) (None: not kept, see defer), or None
        reuse = None
        # Sparse inference reads the warped previous residual only on the skipped pixels of each group
        # (flow_warp_at): warping all 30 x 64 channels everywhere took 2.5 s per 8.8 s dense clip
        # (experiments/skipvsr/profile_sparse.py).
        reuse_at_skipped = self.execution_mode == "sparse" and not self.record_reuse_error
        if reuse_at_skipped and self.engine_mode == "auto" and self.calibrate_cutover:
            # Measured once per input shape on this trunk's first block (cached by the engine).
            block = trunk.residual_blocks[0]
            with torch.no_grad():
                ensure_calibrated(
                    "residual", [block.conv1, block.relu, block.conv2], feat, self.tile, CUTOVER_GRID
                )
        if self.temporal_align and prev_res is not None and not reuse_at_skipped:
            # All groups' previous residuals warped in one call: (B, K * C, h, w).
            reuse = flow_warp(torch.cat(prev_res, dim=1), flow)
        # Groups skipped on every tile in sparse inference: their reused residuals are summed and warped
        # once before the next group that runs (a warp is linear, so this is the per-group sum up to
        # rounding), and under a one-step cap their residual is not kept: every tile of such a group is
        # forced to run at the next step, so nobody reads it.
        reads_reuse_at_skipped = reuse_at_skipped and self.temporal_align and prev_res is not None
        defer = reads_reuse_at_skipped and self.refresh and self.max_stale == 1 and self.mask_override is None
        pending: Tensor | None = None  # summed previous residuals of deferred groups, not yet warped
        residuals: list[Tensor | None] = []
        errors: list[Tensor] = []
        trunk_name = "backward_trunk" if direction == "backward" else "forward_trunk"
        self.recorder.record(f"{trunk_name}.stem", 1.0, out_hw=hw, batch=b)
        est_macs = estimator.macs_per_tile() * gh * gw * b
        c = self.num_feat
        for k in range(self.num_groups):
            m = masks[:, k : k + 1]
            blocks = self.group_blocks(trunk, k)
            layers = [[block.conv1, block.relu, block.conv2] for block in blocks]
            # One plan per (step, group): the engine's index bookkeeping, also what the MACs are counted on.
            plan = TilePlan.from_mask(m.detach()[:, 0] > 0.5, self.tile, hw)
            n_active = plan.num_active if hard else -1
            deferred = defer and n_active == 0
            if deferred:
                if prev_res[k] is None:
                    raise RuntimeError(f"{trunk_name} group {k}: skipped twice in a row under a one-step cap")
                pending = prev_res[k] if pending is None else pending + prev_res[k]
            elif pending is not None:
                feat, pending = feat + flow_warp(pending, flow), None
            start = feat
            group_residual: Tensor | None = None
            if reuse_at_skipped and not deferred:
                # One engine call: active tiles run, skipped ones take the warped previous residual
                # (read only there), and the group's residual comes back for the next step.
                fill = None
                if reads_reuse_at_skipped and not plan.is_full:
                    if prev_res[k] is None:
                        raise RuntimeError(f"{trunk_name} group {k}: no residual kept to reuse")
                    fill = partial(flow_warp_at, prev_res[k], flow)
                feat, group_residual = residual_reuse_chain(feat, layers, plan, fill, self.engine_mode)
            elif hard and plan.is_full:
                for block in blocks:  # all active: exactly the dense blocks
                    feat = block(feat)
            elif hard and n_active == 0:
                pass
            elif self.execution_mode == "sparse":
                feat = residual_skip_chain(feat, layers, [plan] * len(layers), self.engine_mode)
            else:
                mp = upsample_mask(m, self.tile, hw)
                for layer in layers:  # the engine's definition, differentiable (soft masks in training)
                    feat = residual_skip_dense(feat, layer, mp)
            if reuse is not None and not (hard and plan.is_full):
                mp = upsample_mask(m, self.tile, hw)
                feat = feat + (1.0 - mp) * reuse[:, k * c : (k + 1) * c]
            if self.temporal_align:
                if group_residual is None and not deferred:
                    group_residual = feat - start
                residuals.append(group_residual)
            if self.record_reuse_error:
                # Per tile: mean squared difference between this block's residual and the reused one
                # (zero residual without temporal alignment): the error skipping would make here.
                fallback = 0.0 if reuse is None else reuse[:, k * self.num_feat : (k + 1) * self.num_feat]
                if reuse is None and self.temporal_align:
                    err = feat.new_full((b, 1, gh, gw), float("inf"))  # nothing to reuse: must run
                else:
                    err = tile_statistics(((feat - start - fallback) ** 2).mean(1, keepdim=True), self.tile)
                errors.append(err.detach())
            # MACs of the engine on this plan: tiles + halo at their in-image size, or the dense blocks
            # where the engine (mode "auto") or the all-active shortcut runs them densely.
            ran_sparse = not plan.is_full and residual_runs_sparse(plan, feat, self.engine_mode)
            actual = float(sum(residual_skip_macs(lay, plan, sparse=ran_sparse) for lay in layers))
            self.recorder.record(
                f"{trunk_name}.group{k}",
                m,
                out_hw=hw,
                tile=self.tile,
                actual_macs=actual,
                overhead_macs=est_macs / self.num_groups,
            )
        if pending is not None:
            feat = feat + flow_warp(pending, flow)
        mean_mask = masks.detach().mean(1, keepdim=True)
        self._frame_masks.setdefault(trunk_name, {})[frame_index] = mean_mask
        if frame_index == self._state["lr"].shape[1] - 1:
            self.recorder.add_map(f"mask/{trunk_name}", mean_mask)
        # Per-frame accounting (cost-weighted over groups = plain mean, groups cost the same).
        frac = masks.detach().mean()
        self._frame_active[frame_index] += frac
        self._frame_dense[frame_index] += 1.0
        self._state["prev"] = frame_index
        self._state["prev_mask"] = masks.detach() if not self.training else masks
        self._state["prev_res"] = residuals or None
        if self.record_reuse_error:
            self.last_errors.append(torch.cat(errors, dim=1))
        return feat
