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
same hard masks through the project's shared tile engine (:func:`dynskip.skip.engine.residual_reuse_chain`,
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

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

import torch
from torch import Tensor, nn

from dynskip.archs.basicvsr_arch import BasicVSR, ConvResidualBlocks, Direction
from dynskip.archs.warp import flow_warp, flow_warp_at
from dynskip.benchmarks.calibration import ensure_calibrated
from dynskip.methods.skipvsr.v1.policy import keep_masks, run_stale, skips_left
from dynskip.skip.cost import residual_skip_macs
from dynskip.skip.engine import residual_reuse_chain, residual_runs_sparse, residual_skip_dense
from dynskip.skip.plan import TilePlan
from dynskip.skip.protocol import SkipKnobs, SkipRecorder, SkipReport, SkipUnit, execution_mode
from dynskip.skip.tiles import tile_statistics, tile_to_pixel

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


@dataclass
class _Step:
    """One recurrent step of one trunk, as its group runners and its accounting share it."""

    feat: Tensor  # the stem's output, then the hidden state as the groups run
    flow: Tensor | None  # to the previous step's frame (None at a direction's first step)
    masks: Tensor  # (B, K, gh, gw)
    frame_index: int
    trunk_name: str
    hw: tuple[int, int]
    group_overhead: float  # estimator MACs charged to each group
    prev_res: list[Tensor | None] | None  # the previous step's group residuals (temporal alignment)
    residuals: list[Tensor | None] = field(default_factory=list)  # this step's, for the next step
    errors: list[Tensor] = field(default_factory=list)  # per group, while reuse_errors traces


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

    def logits(self, x: Tensor) -> Tensor:
        """Keep logits ``(B, num_groups, gh, gw)`` (the :class:`~dynskip.skip.protocol.MaskPolicy` entry)."""
        return self.net(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.logits(x)


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
        calibrate_cutover: with ``engine_mode="auto"``, :meth:`calibrate` measures the cut-over (once
            per frame size, batch, dtype and thread count, on this model's own block with random masks,
            so content-independent) instead of leaving the engine's default, which was measured on large
            frames and 32-px tiles: small LR frames with 8-px tiles pay relatively more halo and
            bookkeeping, so dense wins earlier. ``False``: :meth:`calibrate` measures nothing. The
            forward never measures; an uncalibrated model uses the engine's default.
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
        # Label passes only (reuse_errors, dense_with_mask_leaves): every mask forced to ones ("ones"), or
        # to ones tensors that require grad, collected in _leaves ("leaves"); per-step errors in _errors.
        self._forced: Literal["ones", "leaves"] | None = None
        self._leaves: list[Tensor] = []
        self._errors: list[Tensor] | None = None
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

    def calibrate(self, lr: Tensor) -> None:
        """Measure the engine's sparse/dense cut-over for clips shaped like ``lr`` ``(B, T, 3, h, w)``.

        Only what sparse execution reads: with ``execution_mode="sparse"``, ``engine_mode="auto"`` and
        ``calibrate_cutover``, the trunks' residual blocks are timed on a ``(B, num_feat, h, w)`` feature
        map made as a forward makes its first one (the backward trunk's stem on the last frame and a zero
        hidden state, so dtype, device and memory layout match, also under autocast). The engine's cache
        keys the value by shape, dtype, device and threads, so both trunks share one measurement and a
        second call for the same shape measures nothing. Call it before timing, never inside a forward.
        """
        if not (self.execution_mode == "sparse" and self.engine_mode == "auto" and self.calibrate_cutover):
            return
        self.check_input(lr)
        b, _, _, h, w = lr.shape
        with torch.no_grad():
            hidden = lr.new_zeros(b, self.num_feat, h, w)
            feat = self.backward_trunk.stem(self.trunk_input(lr[:, -1], hidden))
            for trunk in (self.backward_trunk, self.forward_trunk):
                block = trunk.residual_blocks[0]
                ensure_calibrated(
                    "residual", [block.conv1, block.relu, block.conv2], feat, self.tile, CUTOVER_GRID
                )

    @contextmanager
    def _forcing(self, how: Literal["ones", "leaves"]) -> Iterator[None]:
        """Every mask of the forwards inside forced to ones (``how``: plain, or leaves requiring grad)."""
        self._forced = how
        try:
            yield
        finally:
            self._forced = None

    def reuse_errors(self, lr: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The dense output of clip ``lr`` and, per recurrent step (``last_logits`` order), the error
        skipping would make per (group, tile) ``(B, K, gh, gw)``.

        One ``"masked"`` forward with every mask forced on, without gradients: the error is the mean
        squared difference between a group's residual and what a skipped tile gets instead (the
        flow-warped previous residual with temporal alignment, ``inf`` at a direction's first step;
        zero without alignment).
        """
        self._errors = []
        try:
            with self._forcing("ones"), torch.no_grad(), execution_mode(self, "masked"):
                out = self(lr)
            return out, self._errors
        finally:
            self._errors = None

    def dense_with_mask_leaves(self, lr: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The dense output of clip ``lr`` as a function of its masks: every mask a ones tensor that
        requires grad, ``(B, K, gh, gw)`` per recurrent step in ``last_logits`` order.

        Runs the soft-mask path (``"train"`` execution, training mode, gradients on; the module's
        training flag is restored), so the gradient of a loss of the output with respect to a leaf is
        that (step, group, tile)'s first-order contribution.
        """
        was_training = self.training
        self._leaves = []
        self.train()
        try:
            with self._forcing("leaves"), torch.enable_grad(), execution_mode(self, "train"):
                out = self(lr)
            return out, self._leaves
        finally:
            self._leaves = []
            self.train(was_training)

    # --- forward ---------------------------------------------------------------------------------
    def forward(self, lr: Tensor) -> Tensor:
        b, t = lr.shape[:2]
        self.recorder.reset(frames=b * t)
        self.last_logits, self.last_masks, self.last_inputs, self.last_flows = [], [], [], []
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

    def _decide(self, logits: Tensor, est_in: Tensor, flow: Tensor | None) -> Tensor:
        """This step's masks ``(B, K, gh, gw)`` from the estimator's logits (:mod:`.policy`'s rules).

        Forced masks (:meth:`reuse_errors`, :meth:`dense_with_mask_leaves`) are all ones and not capped:
        label builders read every unit of the dense model.
        """
        if self._forced is not None:
            masks = torch.ones_like(logits, requires_grad=self._forced == "leaves")
            if self._forced == "leaves":
                self._leaves.append(masks)
            return masks
        relaxed = self.execution_mode == "train" and self.training
        masks = keep_masks(logits, relaxed, self.temperature, self.threshold)
        if not self.refresh:
            return masks
        first = self._state["prev"] is None
        if self.max_stale == 1:
            if first:
                return masks
            # A unit skipped at the previous step runs now; the estimator's input holds the flow-aligned
            # previous decisions (what it saw), so the cap reads the same values.
            c0 = 2 * self.num_feat
            stale = (est_in[:, c0 : c0 + self.num_groups] < 0.5).to(masks.dtype)
            return run_stale(masks, stale)
        kept = self._state["prev_remaining"]
        if kept is None:
            left = torch.full_like(masks.detach(), float(self.max_stale))
        else:
            left = self._align_tile_map(kept, flow) if self.temporal_align else kept
        if not first:
            masks = run_stale(masks, (left < 0.5).to(masks.dtype))
        self._state["prev_remaining"] = skips_left(left, masks, self.max_stale)
        return masks

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
        step = self._begin_step(trunk, x_i, feat_prop, frame_index, direction)
        if self.execution_mode == "sparse":
            feat = self._run_groups_sparse(trunk, step)
        else:
            feat = self._run_groups_masked(trunk, step)
        self._end_step(step)
        return feat

    def _begin_step(
        self,
        trunk: ConvResidualBlocks,
        x_i: Tensor,
        feat_prop: Tensor,
        frame_index: int,
        direction: Direction,
    ) -> _Step:
        """The stem, the estimator's input and logits, and the masks of one recurrent step."""
        b, _, h, w = x_i.shape
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
        masks = self._decide(logits, est_in, flow)
        self.last_logits.append(logits)
        self.last_masks.append(masks)
        gh, gw = logits.shape[-2:]
        trunk_name = f"{direction}_trunk"
        self.recorder.record(f"{trunk_name}.stem", 1.0, out_hw=(h, w), batch=b)
        return _Step(
            feat=feat,
            flow=flow,
            masks=masks,
            frame_index=frame_index,
            trunk_name=trunk_name,
            hw=(h, w),
            group_overhead=estimator.macs_per_tile() * gh * gw * b / self.num_groups,
            prev_res=self._state["prev_res"],
        )

    def _group_plan(self, step: _Step, k: int) -> tuple[Tensor, TilePlan]:
        """Group ``k``'s ``(B, 1, gh, gw)`` mask and its plan (the engine's bookkeeping; MACs count on it)."""
        m = step.masks[:, k : k + 1]
        return m, TilePlan.from_mask(m.detach()[:, 0] > 0.5, self.tile, step.hw)

    def _run_groups_sparse(self, trunk: ConvResidualBlocks, step: _Step) -> Tensor:
        """Sparse inference: each group is one engine call in which active tiles run and skipped ones take
        the flow-warped previous residual, warped only there (``flow_warp_at``: warping all 30 x 64
        channels everywhere took 2.5 s per 8.8 s dense clip, experiments/skipvsr/profile_sparse.py)."""
        feat, flow, prev_res = step.feat, step.flow, step.prev_res
        reads_reuse = self.temporal_align and prev_res is not None
        # Groups skipped on every tile: their reused residuals are summed and warped once before the next
        # group that runs (a warp is linear, so this is the per-group sum up to rounding), and under a
        # one-step cap their residual is not kept: every tile of such a group is forced to run at the
        # next step, so nobody reads it.
        defer = reads_reuse and self.refresh and self.max_stale == 1 and self._forced is None
        pending: Tensor | None = None  # summed previous residuals of deferred groups, not yet warped
        for k in range(self.num_groups):
            m, plan = self._group_plan(step, k)
            layers = self._group_layers(trunk, k)
            if defer and plan.num_active == 0:
                if prev_res[k] is None:
                    raise RuntimeError(
                        f"{step.trunk_name} group {k}: skipped twice in a row under a one-step cap"
                    )
                pending = prev_res[k] if pending is None else pending + prev_res[k]
                residual = None
            else:
                if pending is not None:
                    feat, pending = feat + flow_warp(pending, flow), None
                fill = None
                if reads_reuse and not plan.is_full:
                    if prev_res[k] is None:
                        raise RuntimeError(f"{step.trunk_name} group {k}: no residual kept to reuse")
                    fill = partial(flow_warp_at, prev_res[k], flow)
                feat, residual = residual_reuse_chain(feat, layers, plan, fill, self.engine_mode)
            if self.temporal_align:
                step.residuals.append(residual)
            self._record_group(step, k, m, plan, feat, layers)
        if pending is not None:
            feat = feat + flow_warp(pending, flow)
        return feat

    def _run_groups_masked(self, trunk: ConvResidualBlocks, step: _Step) -> Tensor:
        """``"masked"`` / ``"train"``: the engine's differentiable dense definition of every group (soft
        masks while training), skipped positions taking the warped previous residual of their group."""
        feat, flow, prev_res = step.feat, step.flow, step.prev_res
        hard = self.execution_mode == "masked" or not self.training
        reuse = None
        if self.temporal_align and prev_res is not None:
            reuse = flow_warp(torch.cat(prev_res, dim=1), flow)  # all groups in one call: (B, K * C, h, w)
        c = self.num_feat
        for k in range(self.num_groups):
            m, plan = self._group_plan(step, k)
            layers = self._group_layers(trunk, k)
            start = feat
            fallback = None if reuse is None else reuse[:, k * c : (k + 1) * c]
            if hard and plan.is_full:
                for block in self.group_blocks(trunk, k):  # all active: exactly the dense blocks
                    feat = block(feat)
            else:
                mp = upsample_mask(m, self.tile, step.hw)
                if not (hard and plan.num_active == 0):
                    for layer in layers:  # soft masks in training
                        feat = residual_skip_dense(feat, layer, mp)
                if fallback is not None:
                    feat = feat + (1.0 - mp) * fallback
            if self.temporal_align:
                step.residuals.append(feat - start)
            if self._errors is not None:
                step.errors.append(self._reuse_error(feat - start, fallback))
            self._record_group(step, k, m, plan, feat, layers)
        return feat

    def _reuse_error(self, residual: Tensor, fallback: Tensor | None) -> Tensor:
        """Per tile ``(B, 1, gh, gw)``: mean squared difference between a group's residual and what a
        skipped tile gets instead (``fallback``, zero without temporal alignment); ``inf`` where there is
        nothing to reuse yet (the unit must run)."""
        if fallback is None and self.temporal_align:
            b, _, h, w = residual.shape
            return residual.new_full((b, 1, -(-h // self.tile), -(-w // self.tile)), float("inf"))
        diff = residual if fallback is None else residual - fallback
        return tile_statistics((diff**2).mean(1, keepdim=True), self.tile).detach()

    def _group_layers(self, trunk: ConvResidualBlocks, k: int) -> list[list[nn.Module]]:
        return [[block.conv1, block.relu, block.conv2] for block in self.group_blocks(trunk, k)]

    def _record_group(
        self, step: _Step, k: int, m: Tensor, plan: TilePlan, feat: Tensor, layers: list[list[nn.Module]]
    ) -> None:
        """Group ``k``'s unit in the report: MACs of the engine on this plan (tiles + halo at their
        in-image size, or the dense blocks where the engine, mode ``"auto"``, or the all-active shortcut
        runs them densely), plus its share of the estimator."""
        ran_sparse = not plan.is_full and residual_runs_sparse(plan, feat, self.engine_mode)
        actual = float(sum(residual_skip_macs(lay, plan, sparse=ran_sparse) for lay in layers))
        self.recorder.record(
            f"{step.trunk_name}.group{k}",
            m,
            out_hw=step.hw,
            tile=self.tile,
            actual_macs=actual,
            overhead_macs=step.group_overhead,
        )

    def _end_step(self, step: _Step) -> None:
        """Maps, per-frame accounting and the recurrent state the next step reads."""
        i, masks = step.frame_index, step.masks
        mean_mask = masks.detach().mean(1, keepdim=True)
        self._frame_masks.setdefault(step.trunk_name, {})[i] = mean_mask
        if i == self._state["lr"].shape[1] - 1:
            self.recorder.add_map(f"mask/{step.trunk_name}", mean_mask)
        # Per-frame accounting (cost-weighted over groups = plain mean, groups cost the same).
        self._frame_active[i] += masks.detach().mean()
        self._frame_dense[i] += 1.0
        self._state["prev"] = i
        self._state["prev_mask"] = masks.detach() if not self.training else masks
        self._state["prev_res"] = step.residuals or None
        if self._errors is not None:
            self._errors.append(torch.cat(step.errors, dim=1))
