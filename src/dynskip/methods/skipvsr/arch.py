"""SkipVSR v2: BasicVSR whose propagation trunks skip unchanged LR patches by temporal reuse.

At every recurrent step after a direction's first, :class:`~dynskip.methods.skipvsr.policy.ReusePolicy`
decides per ``patch x patch`` LR patch whether the trunk runs. A reused patch keeps the hidden state
already warped onto this frame (``feat_prop``): its stem and all residual blocks are skipped. Running
patches execute the trunk's blocks on a feature map whose reused patches hold ``feat_prop``, so the
blocks' halos read the reused state there (``x0 = m * stem + (1 - m) * feat_prop``, then
``x <- x + m * f_k(x)`` for each block). With every patch running this is BasicVSR exactly.

Shapes: input ``(B, T, 3, h, w)`` in ``[0, 1]``, output ``(B, T, 3, 4h, 4w)``; decisions
``(B, 1, gh, gw)`` per step with ``gh = ceil(h / patch)``, ``gw = ceil(w / patch)``.

Execution modes (:mod:`dynskip.skip.protocol`): ``"dense"`` is BasicVSR; ``"masked"`` (and ``"train"``,
whose decisions are the same hard rule) emulates the skipping densely and differentiably; ``"sparse"``
runs the running patches through the shared tile engine
(:func:`dynskip.skip.engine.residual_skip_chain`, one plan per step for all blocks), equal to
``"masked"`` up to float rounding with no compute on reused patches.

Execution-aware decisions (inference with ``engine_mode="auto"``, in ``"sparse"`` and ``"masked"``
alike, so both make the same decisions): a step whose share of computed patches (running ones and
their ``halo_ring``) reaches the engine's cut-over for this frame size runs every patch (the tile path
would not pay, and reusing then saves nothing); where :meth:`SkipVSRv2.calibrate` measured that
tiles never pay at this size (cut-over at or below the lowest fraction it races, e.g. a 3x3 patch
grid), the policy is off and the model is BasicVSR, with no policy work. Cut-overs come from
:data:`dynskip.skip.fallback.CUTOVERS`: measured by ``calibrate()`` (before timing, never inside
forward), the engine's default otherwise; ``cutover=`` pins the decisions' value instead, for outputs
that do not depend on a timing race.

Output reuse (``reuse_output=True``): where both trunks reused a patch at a frame, its output
patch is the previous output warped along the forward flow (x4; the approximations it makes are listed
in :mod:`dynskip.methods.skipvsr.reconstruct`), and BasicVSR's reconstruction (about a
quarter of a dense forward) runs only on the other patches, exactly, on windows
(:mod:`dynskip.methods.skipvsr.reconstruct`), or densely with a blend at or above
:data:`RECONSTRUCT_DENSE_ABOVE` of the patches.

Report: unit ``<trunk>.blocks`` (all residual blocks of a trunk, one decision per patch) and
``<trunk>.stem`` (and ``reconstruct`` with output reuse); maps ``mask/<trunk>`` (last frame) and
``frames/<trunk>`` (every frame).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dynskip.archs.basicvsr_arch import SCALE, BasicVSR, ConvResidualBlocks, Direction
from dynskip.archs.warp import flow_warp
from dynskip.benchmarks.calibration import ensure_calibrated
from dynskip.methods.skipvsr.policy import (
    ReusePolicy,
    carried_source,
    estimator_features,
    patch_change,
    patch_difference,
    patch_occlusion,
    pixel_mask,
)
from dynskip.methods.skipvsr.reconstruct import (
    RECONSTRUCT_REACH,
    put_patches,
    reconstruct_macs_per_pixel,
    reconstruct_patch_macs,
    reconstruct_patches,
    take_patches,
    warp_output,
)
from dynskip.skip.cost import residual_skip_macs
from dynskip.skip.engine import residual_runs_sparse, residual_skip_chain
from dynskip.skip.fallback import cutover_for
from dynskip.skip.plan import TilePlan
from dynskip.skip.protocol import SkipKnobs, SkipRecorder, SkipReport, SkipUnit, execution_mode
from dynskip.skip.tiles import tile_statistics

HALO = 2  # a residual block is two 3x3 convs
# Active fractions calibrate() races the tile path at; tiles losing even at the lowest turn the policy off.
CALIBRATION_FRACTIONS = (1.0, 0.8, 0.6, 0.4, 0.2)
# Blocks per calibration chain: enough to spread the canvas entry and exit as a 30-block trunk does.
CALIBRATION_BLOCKS = 8
# Share of patches whose reconstruction must run at or above which it runs densely (the outputs do not
# depend on it, only the speed). Set from a first timing at 36x45 to 144x192 LR (0.58-0.80 of ideal) and
# preregistered for round 8; exploration/reconstruct_windows.py later measured 0.57-0.90 of ideal at
# 36x44 to 144x192, windows ahead of dense up to 0.6 at 36x44 and up to 0.8 at the larger sizes, and
# 11-28% behind at 1.0 (experiments/skipvsr/v2/README.md, "Round 8").
RECONSTRUCT_DENSE_ABOVE = 0.6


def with_halo_ring(run: Tensor, ring: int) -> Tensor:
    """``(B, 1, gh, gw)`` run decisions dilated by ``ring`` patches (the patches the blocks compute)."""
    if ring == 0:
        return run
    return nn.functional.max_pool2d(run, 2 * ring + 1, 1, ring)


def block_layers(trunk: ConvResidualBlocks) -> list[list[nn.Module]]:
    """Each residual block of ``trunk`` as the engine's ``[conv1, relu, conv2]`` steps."""
    return [[block.conv1, block.relu, block.conv2] for block in trunk.residual_blocks]


class SkipVSRv2(SkipKnobs, BasicVSR):
    """BasicVSR with per-patch temporal reuse in both trunks (see the module docstring).

    Args:
        num_feat, num_block: backbone size (64, 30 for the official weights).
        patch: LR patch size of the decisions and of the tile engine.
        max_stale, occlusion_bound, error_ref, change_reference: the :class:`ReusePolicy`.
        halo_ring: patches around each running patch that the blocks also run on, as halo only: their
            results are discarded (they keep the reused state), so a running patch's halos read fresh
            features for ``patch * halo_ring / 2`` blocks instead of reused states. Counted in the cost.
        reuse_output: where both trunks reused a patch, its output is the previous output frame warped
            along the forward flow (:mod:`dynskip.methods.skipvsr.reconstruct`) and the reconstruction
            runs only on the other patches (unit ``reconstruct``). Fixed at construction. On since
            round 8 (experiments/skipvsr/v2/README.md).
        engine_mode: tile-engine mode in ``"sparse"`` execution, ``"auto"`` (dense at or above the
            engine's cut-over) or ``"sparse"`` (always tiles).
        cutover: the computed share at which the execution-aware decisions run every patch, pinned
            (``None``: the cut-over :meth:`calibrate` measured, which can move between runs). Pinning
            makes the outputs reproducible across runs and machines; the engine's own dense/tile
            choice, which changes speed but not outputs, still reads the measured one.
        threshold: a patch runs where its keep probability exceeds it (0: every patch = BasicVSR).
        execution_mode: ``"sparse"``, ``"masked"``, ``"dense"`` or ``"train"``.
    """

    def __init__(
        self,
        num_feat: int = 64,
        num_block: int = 30,
        patch: int = 8,
        max_stale: int = 4,
        occlusion_bound: float = 1.0,
        error_ref: float = 0.01,
        change_reference: str = "source",
        halo_ring: int = 1,
        engine_mode: str = "auto",
        cutover: float | None = None,
        reuse_output: bool = True,
        threshold: float = 0.5,
        execution_mode: str = "sparse",
    ) -> None:
        super().__init__(num_feat=num_feat, num_block=num_block)
        self._reuse_output = bool(reuse_output)
        if engine_mode not in ("auto", "sparse"):
            raise ValueError(f"engine_mode must be 'auto' or 'sparse', got {engine_mode!r}")
        if patch < 1:
            raise ValueError(f"patch must be >= 1, got {patch}")
        if halo_ring < 0:
            raise ValueError(f"halo_ring must be >= 0 (patches), got {halo_ring}")
        if cutover is not None and not cutover > 0:
            raise ValueError(f"cutover must be None or a share > 0, got {cutover}")
        self.cutover = cutover
        self.halo_ring = halo_ring
        self.policy = ReusePolicy(max_stale, occlusion_bound, error_ref, change_reference)
        self.patch = patch
        self.engine_mode = engine_mode
        self.execution_mode = execution_mode
        self.threshold = threshold
        self.recorder = SkipRecorder(self.skip_units())
        self.frame_density: Tensor | None = None
        self._clip: dict = {}
        self._step: dict = {}
        self._trace: list | None = None

    # --- protocol ------------------------------------------------------------------------------
    def skip_units(self) -> list[SkipUnit]:
        blocks = len(self.backward_trunk.residual_blocks) * 2 * 9 * self.num_feat**2
        stem = 9 * (self.num_feat + 3) * self.num_feat
        units = []
        for trunk in ("backward_trunk", "forward_trunk"):
            # The stem always runs: the policy reads its change (and it is 1/60 of the blocks' cost).
            units.append(SkipUnit(f"{trunk}.stem", trunk, stem, prunable=False))
            units.append(SkipUnit(f"{trunk}.blocks", trunk, blocks, halo=HALO))
        if self.reuse_output:
            macs = reconstruct_macs_per_pixel(self)
            units.append(SkipUnit("reconstruct", "reconstruct", macs, halo=RECONSTRUCT_REACH))
        return units

    @property
    def reuse_output(self) -> bool:
        """Whether patches reused by both trunks reuse the warped previous output (see ``__init__``)."""
        return self._reuse_output

    def skip_report(self) -> SkipReport:
        return self.recorder.report()

    def calibrate(self, lr: Tensor) -> None:
        """Measure the tile engine's cut-over for clips shaped like ``lr`` ``(B, T, 3, h, w)``.

        Races dense against tiled runs of a chain of this model's residual blocks under one patch
        mask (:func:`~dynskip.benchmarks.calibration.ensure_calibrated`, cached per shape, device,
        dtype and thread count). Untimed; call it before timing. Only ``engine_mode="auto"`` reads it.
        """
        if self.engine_mode != "auto":
            return
        b, _, _, h, w = lr.shape
        x = torch.randn(b, self.num_feat, h, w, device=lr.device, dtype=lr.dtype)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            ensure_calibrated(
                "residual",
                block_layers(self.forward_trunk)[0],
                x,
                self.patch,
                CALIBRATION_FRACTIONS,
                blocks=CALIBRATION_BLOCKS,
            )

    def _cutover(self, stem: Tensor) -> float | None:
        """Computed share at or above which a step runs every patch (pinned ``cutover``, else measured);
        ``None``: no such rule (training, or the tile engine forced with ``engine_mode="sparse"``)."""
        if self.training or self.engine_mode != "auto":
            return None
        if self.cutover is not None:
            return self.cutover
        b, c, h, w = stem.shape
        return cutover_for("residual", b, c, h, w, self.patch, stem)

    # --- forward ---------------------------------------------------------------------------------
    def forward(self, lr: Tensor) -> Tensor:
        b, t = lr.shape[:2]
        self.recorder.reset(frames=b * t)
        self._clip = {"lr": lr, "run": lr.new_zeros(t), "steps": lr.new_zeros(t), "masks": {}, "runs": {}}
        out = super().forward(lr)
        for trunk, per_frame in self._clip["masks"].items():
            stacked = torch.stack([per_frame[i] for i in sorted(per_frame)], 1)  # (B, T, 1, gh, gw)
            self.recorder.add_map(f"frames/{trunk}", stacked.flatten(0, 1))
            self.recorder.add_map(f"mask/{trunk}", per_frame[t - 1])
        self.frame_density = (self._clip["run"] / self._clip["steps"]).detach()
        self._clip = {}
        return out

    def compute_flows(self, lr: Tensor) -> tuple[Tensor, Tensor]:
        flows_forward, flows_backward = super().compute_flows(lr)
        self._clip["flows"] = {"forward": flows_forward, "backward": flows_backward}
        return flows_forward, flows_backward

    def propagate(self, lr: Tensor, flows: Tensor, direction: Direction) -> list[Tensor]:
        self._step = {"prev": None, "prev_stem": None, "stale": None, "count": 0, "source": None}
        return super().propagate(lr, flows, direction)

    def _flows_to_previous(self, i: int, direction: Direction) -> tuple[Tensor, Tensor]:
        """The flow that warped the hidden state onto frame ``i`` and its reverse (BasicVSR.propagate)."""
        flows = self._clip["flows"]
        if direction == "backward":
            return flows["backward"][:, i], flows["forward"][:, i]
        return flows["forward"][:, i - 1], flows["backward"][:, i - 1]

    def features(self, x_i: Tensor, stem: Tensor, frame_index: int, direction: Direction) -> Tensor:
        """:func:`estimator_features` of this step against the previous one (not at a first step).

        Keeps the reference LR warped onto this frame in ``_step["aligned_source"]`` for :meth:`decide`.
        """
        flow, _ = self._flows_to_previous(frame_index, direction)
        if self.policy.change_reference == "source":
            reference = self._step["source"]
        else:
            reference = self._clip["lr"][:, self._step["prev"]]
        aligned = flow_warp(reference, flow)
        self._step["aligned_source"] = aligned
        lr_change = patch_difference(x_i, aligned, self.patch)
        if self.policy.estimator.reads_stem_change or self._trace is not None:
            stem_change = patch_change(stem, self._step["prev_stem"], flow, self.patch)
        else:  # weight 0: the value cannot matter, so its warp is not paid
            stem_change = torch.zeros_like(lr_change)
        return estimator_features(lr_change, stem_change, self._step["count"])

    def decide(self, x_i: Tensor, stem: Tensor, frame_index: int, direction: Direction) -> Tensor:
        """``(B, 1, gh, gw)`` run mask of this step; all ones at a direction's first step, in dense mode."""
        b, _, h, w = x_i.shape
        stale = self._step["stale"]
        self._step["aligned_source"] = None
        cutover = self._cutover(stem)
        policy_off = cutover is not None and cutover <= CALIBRATION_FRACTIONS[-1]
        if stale is None or self.execution_mode == "dense" or self.threshold <= 0.0 or policy_off:
            run = x_i.new_ones(b, 1, -(-h // self.patch), -(-w // self.patch))
        else:
            logits = self.policy.logits(self.features(x_i, stem, frame_index, direction))
            flow, reverse = self._flows_to_previous(frame_index, direction)
            run = self.policy(logits, patch_occlusion(flow, reverse, self.patch), stale, self.threshold)
            # The engine's cost follows what the blocks compute: the chosen patches and their ring.
            if cutover is not None and float(with_halo_ring(run, self.halo_ring).mean()) >= cutover:
                run = torch.ones_like(run)
        self._step["stale"] = torch.zeros_like(run) if stale is None else (1 - run) * (stale + 1)
        return run

    def _next_source(self, x_i: Tensor, run: Tensor) -> Tensor:
        """The LR content the hidden state of each patch stems from after this step (``"source"``
        reference: :func:`~dynskip.methods.skipvsr.policy.carried_source`; else this frame)."""
        aligned = self._step["aligned_source"]
        if self.policy.change_reference != "source" or aligned is None:
            return x_i
        return carried_source(x_i, aligned, run, self.patch)

    def run_trunk(
        self,
        trunk: ConvResidualBlocks,
        x_i: Tensor,
        feat_prop: Tensor,
        frame_index: int,
        direction: Direction,
    ) -> Tensor:
        stem = trunk.stem(self.trunk_input(x_i, feat_prop))
        run = self.decide(x_i, stem, frame_index, direction)
        self._clip["runs"].setdefault(direction, {})[frame_index] = run
        computed = with_halo_ring(run, self.halo_ring)
        plan = TilePlan.from_mask(computed[:, 0] > 0.5, self.patch, tuple(x_i.shape[-2:]))
        if plan.is_full:
            out = self._run_all(trunk, stem)
        elif self.execution_mode == "sparse":
            out = self._run_sparse(trunk, stem, feat_prop, computed, plan)
        else:
            out = self._run_masked(trunk, stem, feat_prop, computed)
        if self.halo_ring and not bool(run.min() > 0.5):  # the ring was halo only: it keeps the reuse
            out = torch.where(pixel_mask(run, self.patch, tuple(stem.shape[-2:])) > 0.5, out, feat_prop)
        self._record(trunk, computed, plan, direction, frame_index, stem)
        if self._trace is not None and self._step["prev"] is not None:
            error = tile_statistics((out - feat_prop).abs().mean(1, keepdim=True), self.patch)
            self._trace.append(
                (self.features(x_i, stem, frame_index, direction), error.clamp_min(1e-6).log())
            )
        self._step.update(
            prev=frame_index,
            prev_stem=stem,
            count=self._step["count"] + 1,
            source=self._next_source(x_i, run),
        )
        return out

    def reconstruct_clip(
        self, lr: Tensor, feats_backward: list[Tensor], feats_forward: list[Tensor]
    ) -> Tensor:
        """:meth:`BasicVSR.reconstruct_clip`; with ``reuse_output``, patches reused by both trunks take
        the previous output warped along the forward flow, and only the others are reconstructed."""
        if not self.reuse_output:
            return super().reconstruct_clip(lr, feats_backward, feats_forward)
        b, t, c, h, w = lr.shape
        out = lr.new_empty(b, t, c, SCALE * h, SCALE * w)
        runs = self._clip["runs"]
        frame = None  # the previous output frame, kept apart from ``out`` (autograd saves what warps read)
        for i in range(t):
            need = torch.maximum(runs["backward"][i], runs["forward"][i])
            feats = (feats_backward[i], feats_forward[i])
            if frame is None or bool(need.min() > 0.5):
                frame = self.reconstruct(lr[:, i], *feats)
                self._record_reconstruct(need, h, w, None)
            else:
                warped = warp_output(frame, self._clip["flows"]["forward"][:, i - 1])
                frame = self._reconstruct_reusing(lr[:, i], feats, need, warped)
            out[:, i] = frame
        return out

    def _reconstruct_reusing(
        self, lr_i: Tensor, feats: tuple[Tensor, Tensor], need: Tensor, warped: Tensor
    ) -> Tensor:
        """``warped`` (the previous output, warped) with the ``need`` patches reconstructed: on patch
        windows in sparse mode below :data:`RECONSTRUCT_DENSE_ABOVE`, else densely and blended."""
        h, w = lr_i.shape[-2:]
        if self.execution_mode == "sparse" and float(need.mean()) < RECONSTRUCT_DENSE_ABOVE:
            sample, row, col = (need[:, 0] > 0.5).nonzero(as_tuple=True)
            self._record_reconstruct(need, h, w, int(sample.numel()))
            if not sample.numel():
                return warped
            values = reconstruct_patches(self, *feats, sample, row, col, self.patch)
            values = values + take_patches(self.upsample_image(lr_i), sample, row, col, SCALE * self.patch)
            return put_patches(warped, values, sample, row, col)
        self._record_reconstruct(need, h, w, None)
        hr_mask = pixel_mask(need, SCALE * self.patch, (SCALE * h, SCALE * w)) > 0.5
        return torch.where(hr_mask, self.reconstruct(lr_i, *feats), warped)

    def _record_reconstruct(self, need: Tensor, h: int, w: int, patches: int | None) -> None:
        """Record the ``reconstruct`` unit: ``patches`` windows run, or densely (``None``)."""
        b = need.shape[0]
        if patches is None:
            actual = reconstruct_macs_per_pixel(self) * b * h * w
        else:
            actual = reconstruct_patch_macs(self, self.patch) * patches
        self.recorder.record("reconstruct", need, out_hw=(h, w), tile=self.patch, actual_macs=actual)

    def reuse_trace(self, lr: Tensor) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """The dense output of clip ``lr`` ``(B, T, 3, h, w)`` and, per recurrent step after a first on
        that dense trajectory, the estimator features ``(B, 3, gh, gw)`` and the log error reuse would
        make ``(B, 1, gh, gw)`` (mean absolute difference of the trunk output and the aligned state)."""
        self._trace = []
        try:
            with execution_mode(self, "dense"):
                out = self(lr)
            return out, self._trace
        finally:
            self._trace = None

    @staticmethod
    def _run_all(trunk: ConvResidualBlocks, stem: Tensor) -> Tensor:
        return trunk.residual_blocks(stem)

    def _run_masked(self, trunk: ConvResidualBlocks, stem: Tensor, feat_prop: Tensor, run: Tensor) -> Tensor:
        m = pixel_mask(run, self.patch, tuple(stem.shape[-2:]))
        x = m * stem + (1 - m) * feat_prop
        for block in trunk.residual_blocks:
            x = x + m * block.residual(x)
        return x

    def _run_sparse(
        self, trunk: ConvResidualBlocks, stem: Tensor, feat_prop: Tensor, run: Tensor, plan: TilePlan
    ) -> Tensor:
        if plan.num_active == 0:
            return feat_prop
        m = pixel_mask(run, self.patch, tuple(stem.shape[-2:])) > 0.5
        x = torch.where(m, stem, feat_prop).contiguous(memory_format=torch.channels_last)
        layers = block_layers(trunk)
        return residual_skip_chain(x, layers, [plan] * len(layers), self.engine_mode)

    def _record(
        self,
        trunk: ConvResidualBlocks,
        run: Tensor,
        plan: TilePlan,
        direction: Direction,
        i: int,
        stem: Tensor,
    ) -> None:
        name = f"{direction}_trunk"
        hw = tuple(stem.shape[-2:])
        b = stem.shape[0]
        self.recorder.record(f"{name}.stem", 1.0, out_hw=hw, batch=b)
        layers = block_layers(trunk)
        sparse = self.execution_mode == "sparse" and not plan.is_full
        sparse = sparse and residual_runs_sparse(plan, stem, self.engine_mode)
        # The blocks are alike and share the plan: one block's count times their number.
        actual = float(len(layers) * residual_skip_macs(layers[0], plan, sparse=sparse))
        self.recorder.record(f"{name}.blocks", run, out_hw=hw, tile=self.patch, actual_macs=actual)
        self._clip["masks"].setdefault(name, {})[i] = run.detach()
        self._clip["run"][i] += run.detach().mean()
        self._clip["steps"][i] += 1
