"""UGSP on RIFE v3.9 (``ugsp-rife``): spatially pruned IFBlocks with mask heads and an uncertainty head.

Design (see ``experiments/ugsp_rife/README.md``):

- The prunable units are the ``convblock`` (eight 3x3 conv + PReLU) of blocks 2 and 3 by default,
  ~72% of RIFE's MACs. ``conv0`` and ``lastconv`` always run densely (cheap, and ``conv0``'s features
  feed the halo of the first pruned layer).
- The head on block ``k - 1``'s output features predicts block ``k``'s tile mask (UGSP: each decoder
  predicts the next finer level's mask). Masks are hierarchical (block 3 runs only where block 2 ran)
  and, at inference, tiles lying wholly in RIFE's padding are off.
- Masked-feature semantics: every convblock layer's output is zero at pruned tiles, so the block's
  features there are ``conv0``'s alone; the block's flow and mask-logit residuals are then zeroed on
  the pruned tiles (nearest-expanded to full size), so a pruned region keeps the coarser level's
  flow and fusion mask, as UGSP keeps the upsampled coarser flow. ``active_halo_tiles=1`` also
  computes one ring of tiles around the kept ones, which makes the kept tiles exact (the chain is 8
  layers deep, a tile 8 positions wide) at the ring's cost.
- With every tile active (or execution mode ``dense``) the computation is RIFE's exactly.
- Kept-tile I/O (sparse mode): when few tiles of the last pruned block are computed, its ``conv0``
  and ``lastconv`` run on windows around them and only their pixels are rewarped after it
  (``methods/ugsp/ifblock_kept.py``); the values there are the same.
- The uncertainty head (phase 1; never run at inference) reads block 3's dense features.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from dynskip.archs.rife_arch import BLOCK_CHANNELS, PAD_MULTIPLE, IFBlock, IFNet
from dynskip.archs.warp import flow_warp_at
from dynskip.methods.ugsp.ifblock_kept import (
    KEPT_IO_MAX_FRACTION,
    decode_kept,
    decode_kept_macs,
    encode_kept,
    encode_kept_macs,
)
from dynskip.methods.ugsp.pruning import (
    RESIDUAL_GUARD_MACS_PER_PIXEL,
    MaskHead,
    UncertaintyHead,
    expand_mask,
    hierarchical_mask,
    residual_guard_mask,
    run_pruned_chain,
    sample_mask,
    valid_tile_mask,
)
from dynskip.skip.cost import chain_macs_per_pixel
from dynskip.skip.protocol import SkipKnobs, SkipRecorder, SkipReport, SkipUnit, execution_mode
from dynskip.skip.tiles import dilate_tiles


def _conv0_macs(block: IFBlock) -> float:
    """MACs per output position (at ``1/(4 scale)``) of ``conv0``; layer one runs at 4x the positions."""
    first, second = block.conv0[0][0], block.conv0[1][0]
    return 4 * first.in_channels * first.out_channels * 9 + second.in_channels * second.out_channels * 9


def _lastconv_macs(block: IFBlock) -> float:
    """MACs per output position (at ``1/(2 scale)``) of the stride-2 4x4 transposed conv."""
    conv = block.lastconv
    return conv.in_channels * conv.out_channels * 16 / 4


def _grow(mask: Tensor, rings: int) -> Tensor:
    """A ``(B, 1, gh, gw)`` tile mask grown by ``rings`` tiles (:func:`dynskip.skip.tiles.dilate_tiles`)."""
    return dilate_tiles(mask[:, 0], rings)[:, None]


def _guard_bound(value: object) -> float | None:
    """``residual_guard`` checked: ``None`` or a real number >= 0 (a bool, e.g. YAML's ``off``, is not)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"residual_guard must be None or a bound >= 0, got {value!r}")
    return float(value)


class UGSPRIFE(SkipKnobs, IFNet):
    """RIFE v3.9 IFNet with UGSP spatial pruning of its finer IFBlocks.

    Args:
        pruned_blocks: indices of the blocks whose ``convblock`` is prunable (contiguous, within 1..3).
        tile_px: tile edge in image pixels per pruned block (divides 128); one value for all or one per
            pruned block. Default: 64 for block 2 (8x8 feature tiles) and 32 for block 3 (8x8).
        head_hidden: hidden width of the mask heads.
        uncertainty_hidden: hidden width of the uncertainty head.
        prune_padding: at inference, switch off tiles lying wholly in the padding RIFE adds.
        train_backbone: ``False`` freezes the RIFE weights (``requires_grad=False``): only heads train.
        padding_halo_tiles: rings of padding tiles kept on around the valid tiles (``prune_padding``).
        active_halo_tiles: rings of tiles the pruned ``convblock`` also computes around the active
            tiles (their residuals are still zeroed). ``0`` is UGSP's masked-feature semantics: an
            active tile next to a pruned one reads zeros through the chain. ``1`` (8 positions, the
            chain's depth) makes the active tiles exact: only pruned tiles differ from dense RIFE.
            The extra tiles are counted in the MACs.
        residual_guard: a test-time quality guard (``None``: off). At inference a pruned block also
            keeps every tile where the two images warped by the flow so far differ by more than this
            on average (RGB in [0, 1]; :func:`~dynskip.methods.ugsp.pruning.residual_guard_mask`),
            within the hierarchy and the computable tiles. Its cost is counted with the mask heads'.
        threshold, execution_mode, budget: the skip knobs. The execution mode defaults to ``sparse``
            (real skipping); training objectives switch to ``train`` themselves.
    """

    def __init__(
        self,
        pruned_blocks: Sequence[int] = (2, 3),
        tile_px: int | Sequence[int] = (64, 32),
        head_hidden: int = 16,
        uncertainty_hidden: int = 32,
        prune_padding: bool = True,
        train_backbone: bool = False,
        padding_halo_tiles: int = 1,
        active_halo_tiles: int = 0,
        residual_guard: float | None = None,
        threshold: float = 0.5,
        execution_mode: str = "sparse",
        budget: float = 0.5,
    ) -> None:
        super().__init__()
        pruned = tuple(sorted(int(k) for k in pruned_blocks))
        if not pruned or pruned[0] < 1 or pruned[-1] > 3 or pruned != tuple(range(pruned[0], pruned[-1] + 1)):
            raise ValueError(f"pruned_blocks must be contiguous within 1..3, got {tuple(pruned_blocks)}")
        tiles = (int(tile_px),) * len(pruned) if isinstance(tile_px, int) else tuple(int(t) for t in tile_px)
        if len(tiles) != len(pruned) or any(t <= 0 or PAD_MULTIPLE % t for t in tiles):
            raise ValueError(f"tile_px needs one divisor of {PAD_MULTIPLE} per pruned block, got {tile_px}")
        self.pruned_blocks = pruned
        self.tile_px = dict(zip(pruned, tiles))
        self.prune_padding = prune_padding
        self.padding_halo_tiles = int(padding_halo_tiles)
        if int(active_halo_tiles) < 0:
            raise ValueError(f"active_halo_tiles must be >= 0, got {active_halo_tiles}")
        self.active_halo_tiles = int(active_halo_tiles)
        self.residual_guard = _guard_bound(residual_guard)
        self.mask_heads = torch.nn.ModuleDict(
            {f"block{k}": MaskHead(BLOCK_CHANNELS[k - 1], head_hidden) for k in pruned}
        )
        self.uncertainty_head = UncertaintyHead(BLOCK_CHANNELS[3], uncertainty_hidden)
        self.set_backbone_trainable(train_backbone)
        self.recorder = SkipRecorder(self.skip_units())
        self._valid_hw: tuple[int, int] | None = None
        self._state: dict = {}
        self.threshold, self.execution_mode, self.budget = threshold, execution_mode, budget

    # --- protocol ------------------------------------------------------------------------------
    def skip_units(self) -> list[SkipUnit]:
        units = []
        for k, block in enumerate(self.blocks):
            scale = 1.0 / (4 * self.scales[k])
            prunable = k in self.pruned_blocks
            units += [
                SkipUnit(f"block{k}.conv0", "dense", _conv0_macs(block), scale, prunable=False),
                SkipUnit(
                    f"block{k}.convblock",
                    "level" if prunable else "dense",
                    chain_macs_per_pixel(block.convblock),
                    scale,
                    halo=1,
                    prunable=prunable,
                ),
                SkipUnit(f"block{k}.lastconv", "dense", _lastconv_macs(block), 2 * scale, prunable=False),
            ]
        head = self.uncertainty_head
        units.append(SkipUnit("uncertainty_head", "train_only", head.macs_per_pixel(), 0.25, prunable=False))
        return units

    def skip_report(self) -> SkipReport:
        return self.recorder.report()

    def set_backbone_trainable(self, trainable: bool) -> None:
        """Freeze (``False``) or unfreeze the RIFE blocks; the heads always train."""
        self.backbone_trainable = bool(trainable)
        for block in self.blocks:
            block.requires_grad_(self.backbone_trainable)

    def _mode(self) -> str:
        mode = self.execution_mode
        return "masked" if mode == "train" and not self.training else mode

    # --- execution -----------------------------------------------------------------------------
    def predict(
        self, img0: Tensor, img1: Tensor, timestep: float | Tensor = 0.5, allow_restart: bool | None = None
    ) -> dict[str, Tensor]:
        """As :meth:`IFNet.predict`, plus ``tile masks`` / features kept for :meth:`forward_train`."""
        padded = tuple(img0.shape[-2:])
        self._state = {"padded_hw": padded, "valid_hw": self._valid_hw or padded, "passes": []}
        self.recorder.reset(frames=img0.shape[0])
        out = super().predict(img0, img1, timestep, allow_restart)
        for k, mask in self._batch_masks(out["restarted"]).items():
            self.recorder.add_map(f"mask/block{k}", mask)
        return out

    _PASS_KEYS = ("masks", "logits", "features", "head_macs", "computable", "changed")

    def _flow_pass(self, img0: Tensor, img1: Tensor, *args, **kwargs) -> dict[str, Tensor]:
        """Each flow pass starts with its own masks and kept tiles: a batch whose samples restart at
        doubled scales runs its two groups one after another, and a group must not read the other's."""
        for key in self._PASS_KEYS:
            self._state[key] = {}
        passes = self._state["passes"]
        before = len(passes)
        out = super()._flow_pass(img0, img1, *args, **kwargs)
        if len(passes) == before:  # it finished itself rather than handing its samples to restart groups
            passes.append((bool(out["restarted"][0]), self._state["masks"]))
        return out

    def _batch_masks(self, restarted: Tensor) -> dict[int, Tensor]:
        """The finished passes' tile masks in batch order (two groups when only some samples restarted)."""
        passes = self._state["passes"]
        if len(passes) < 2 or not bool(restarted.any()) or bool(restarted.all()):
            return passes[-1][1]
        by_group = dict(passes[-2:])  # restarted group first, then the others (IFNet._restart)
        merged = {}
        for k, first in by_group[True].items():
            if k not in by_group[False]:
                continue
            mask = first.new_zeros((restarted.shape[0], *first.shape[1:]))
            mask[restarted], mask[~restarted] = first, by_group[False][k]
            merged[k] = mask
        return merged

    def run_block(
        self, index: int, block: IFBlock, x_in: Tensor, flow: Tensor | None, scale: float
    ) -> tuple[Tensor, Tensor]:
        state, mode = self._state, self._mode()
        mask = state["masks"].get(index)
        hard = mask is not None and mode in ("sparse", "masked")  # inference masks
        if hard and self.residual_guard is not None and flow is not None:  # x_in holds warped images
            mask = self._guard_tiles(index, x_in, mask)
        if hard and not bool(mask.any()):
            return self._skip_block(index, block, x_in, scale)
        computed = self._computed_tiles(index, mask, mode)
        windows = self._uses_windows(index, computed, mode)
        feat = self._encode(index, block, x_in, flow, scale, computed if windows else None)
        batch, hw = feat.shape[0], tuple(feat.shape[-2:])
        rec = self.recorder
        if mask is None:
            feat = block.convblock(feat) + feat
            rec.record(f"block{index}.convblock", 1.0, out_hw=hw, batch=batch)
        else:
            feat = run_pruned_chain(feat, block.convblock, computed, mode) + feat
            unit = self.recorder.units[f"block{index}.convblock"]
            fraction = computed.mean() if mode != "dense" else torch.ones((), dtype=feat.dtype)
            ran = unit.macs_per_pixel * float(fraction.detach()) * batch * hw[0] * hw[1]
            rec.record(
                f"block{index}.convblock",
                fraction,
                out_hw=hw,
                batch=batch,
                actual_macs=ran,
                overhead_macs=state["head_macs"].get(index, 0.0),
            )
        state["features"][index] = feat
        flow_delta, mask_delta = self._decode(index, block, feat, scale, mask, windows)
        if index + 1 in self.pruned_blocks:
            self._predict_mask(index + 1, feat, mask, mode)
        return flow_delta, mask_delta

    def _guard_tiles(self, index: int, x_in: Tensor, mask: Tensor) -> Tensor:
        """``mask`` plus the tiles ``residual_guard`` keeps; ``x_in`` starts with the two warped images."""
        state = self._state
        guard = residual_guard_mask(x_in[:, 0:3], x_in[:, 3:6], tuple(mask.shape[-2:]), self.residual_guard)
        guard = hierarchical_mask(guard, state["masks"].get(index - 1))
        if index in state["computable"]:
            guard = guard * state["computable"][index]
        state["masks"][index] = mask = torch.maximum(mask, guard)
        pixels = x_in.shape[0] * x_in.shape[-2] * x_in.shape[-1]
        cost = RESIDUAL_GUARD_MACS_PER_PIXEL * pixels
        state["head_macs"][index] = state["head_macs"].get(index, 0.0) + cost
        return mask

    def _computed_tiles(self, index: int, mask: Tensor | None, mode: str) -> Tensor | None:
        """The tiles the pruned chain computes: the kept ones, grown by ``active_halo_tiles``."""
        if mask is None or mode == "dense" or not self.active_halo_tiles:
            return mask
        computed = _grow(mask, self.active_halo_tiles)
        if index in self._state["computable"]:
            computed = computed * self._state["computable"][index]
        return computed

    def _uses_windows(self, index: int, computed: Tensor | None, mode: str) -> bool:
        """Run ``conv0`` / ``lastconv`` around the kept tiles only (``methods/ugsp/ifblock_kept.py``)?

        Only the last pruned block qualifies (no mask head reads its features), only with hard masks,
        and only below the window path's break-even. The masked emulation still computes densely but
        counts what the sparse path runs, so both modes report the same MACs.
        """
        return (
            computed is not None
            and mode in ("sparse", "masked")
            and index + 1 not in self.pruned_blocks
            and float(computed.mean()) <= KEPT_IO_MAX_FRACTION
        )

    def _encode(
        self,
        index: int,
        block: IFBlock,
        x_in: Tensor,
        flow: Tensor | None,
        scale: float,
        window_tiles: Tensor | None,
    ) -> Tensor:
        """``conv0`` features; in sparse mode only around ``window_tiles`` (the computed tiles) if given."""
        if window_tiles is not None and self._mode() == "sparse":
            feat, _ = encode_kept(block, block.encode_input(x_in, flow, scale), window_tiles)
        else:
            feat = block.encode(x_in, flow, scale)
        batch, hw = feat.shape[0], tuple(feat.shape[-2:])
        if window_tiles is None:
            self.recorder.record(f"block{index}.conv0", 1.0, out_hw=hw, batch=batch)
        else:
            tile = hw[0] // window_tiles.shape[-2]
            macs = encode_kept_macs(block, int((window_tiles > 0.5).sum()), tile)
            self.recorder.record(
                f"block{index}.conv0", window_tiles.mean(), out_hw=hw, batch=batch, actual_macs=macs
            )
        return feat

    def _decode(
        self, index: int, block: IFBlock, feat: Tensor, scale: float, mask: Tensor | None, windows: bool
    ) -> tuple[Tensor, Tensor]:
        """The block's residuals, zeroed outside the kept tiles (computed only there with ``windows``)."""
        mode = self._mode()
        batch, hw = feat.shape[0], tuple(feat.shape[-2:])
        out_hw = (2 * hw[0], 2 * hw[1])
        if windows and mode == "sparse":
            self._state["changed"][index] = mask
            flow_delta, mask_delta, _ = decode_kept(block, feat, mask, scale)
        else:
            flow_delta, mask_delta = block.decode(feat, scale)
            if mask is not None and mode != "dense":
                full = expand_mask(mask, tuple(flow_delta.shape[-2:]))
                flow_delta, mask_delta = flow_delta * full, mask_delta * full
        if windows:
            macs = decode_kept_macs(block, int((mask > 0.5).sum()), hw[0] // mask.shape[-2])
            self.recorder.record(
                f"block{index}.lastconv", mask.mean(), out_hw=out_hw, batch=batch, actual_macs=macs
            )
        else:
            self.recorder.record(f"block{index}.lastconv", 1.0, out_hw=out_hw, batch=batch)
        return flow_delta, mask_delta

    def warp_images(
        self, index: int, img0: Tensor, img1: Tensor, flow: Tensor, warped0: Tensor, warped1: Tensor
    ) -> tuple[Tensor, Tensor]:
        """After a block run around its kept tiles only, rewarp those tiles' pixels (batch union) only.

        Elsewhere its residuals are zero, so the flow and the previous warps are unchanged there.
        """
        changed = self._state.get("changed", {}).get(index)
        if changed is None:
            return super().warp_images(index, img0, img1, flow, warped0, warped1)
        union = expand_mask(changed.amax(0, keepdim=True), tuple(flow.shape[-2:]))
        where = union.flatten().nonzero().squeeze(1)
        out = []
        for img, warped, part in ((img0, warped0, flow[:, :2]), (img1, warped1, flow[:, 2:4])):
            new = warped.clone()
            new.flatten(2)[:, :, where] = flow_warp_at(img, part, where, padding_mode="border")
            out.append(new)
        return out[0], out[1]

    def _skip_block(self, index: int, block: IFBlock, x_in: Tensor, scale: float) -> tuple[Tensor, Tensor]:
        """A block with every tile pruned adds nothing (its residuals are zeroed): skip it whole.

        Only at inference (hard masks); by the hierarchy every finer pruned block is off too.
        """
        batch, (height, width) = x_in.shape[0], x_in.shape[-2:]
        hw = (int(height / (4 * scale)), int(width / (4 * scale)))
        # The mask head that pruned it did run: its MACs count, on the convblock as when the block runs.
        head = self._state["head_macs"].get(index, 0.0)
        for part, out_hw in (("conv0", hw), ("convblock", hw), ("lastconv", (2 * hw[0], 2 * hw[1]))):
            overhead = head if part == "convblock" else 0.0
            self.recorder.record(
                f"block{index}.{part}", 0.0, out_hw=out_hw, batch=batch, overhead_macs=overhead
            )
        if index + 1 in self.pruned_blocks:  # the finer block's own grid: it is pruned everywhere too
            tile = self.tile_px[index + 1]
            grid = (height // tile, width // tile)
            self._state["masks"][index + 1] = x_in.new_zeros((batch, 1, *grid))
        zeros = x_in.new_zeros((batch, 5, height, width))
        return zeros[:, :4], zeros[:, 4:5]

    def _predict_mask(self, child: int, feat: Tensor, parent: Tensor | None, mode: str) -> None:
        state = self._state
        padded = state["padded_hw"]
        tile = self.tile_px[child]
        grid = (padded[0] // tile, padded[1] // tile)
        head = self.mask_heads[f"block{child}"]
        if mode == "dense":
            mask = feat.new_ones((feat.shape[0], 1, *grid))  # the head does not even run
            state["head_macs"][child] = 0.0
        else:
            logits = head(feat, grid)
            state["logits"][child] = logits
            mask = sample_mask(logits, mode, self.temperature, self.threshold, self.training)
            mask = hierarchical_mask(mask, parent)
            if self.prune_padding and tuple(state["valid_hw"]) != tuple(padded):
                valid = valid_tile_mask(grid, padded, state["valid_hw"], mask)
                if self.padding_halo_tiles:
                    # One ring of padding tiles stays on: the 8 masked layers then see the dense
                    # features up to the valid tiles' border (zeros further out reach one position per
                    # layer), so the valid region stays (nearly) exact.
                    valid = _grow(valid, self.padding_halo_tiles)
                mask = mask * valid
                state["computable"][child] = valid  # the active halo does not reach further out
            positions = feat.shape[0] * feat.shape[-2] * feat.shape[-1]
            state["head_macs"][child] = head.macs_per_pixel() * positions
        state["masks"][child] = mask

    def forward(self, img0: Tensor, img1: Tensor, timestep: float | Tensor = 0.5) -> Tensor:
        """Frame ``(B, 3, H, W)`` at ``timestep``, any size; pruned per ``execution_mode`` / ``threshold``."""
        self._valid_hw = tuple(img0.shape[-2:])
        try:
            return super().forward(img0, img1, timestep)
        finally:
            self._valid_hw = None

    def forward_train(
        self,
        img0: Tensor,
        img1: Tensor,
        timestep: float | Tensor = 0.5,
        pruned: bool = True,
        non_pruned: bool = True,
        uncertainty: bool = False,
    ) -> dict:
        """Everything the UGSP objectives need, inputs of any size (padded to 128 and cropped).

        Never restarts at doubled scales, also in eval mode: training, online labels and cached labels
        (built in eval mode) then read the same block-3 features the uncertainty head was trained on.

        Returns a dict with (as requested):
            ``frame`` (pruned branch, current execution mode), ``masks`` ``{block: (B,1,gh,gw)}``,
            ``features`` ``{block: (B,C,h,w)}``, ``report`` (its :class:`SkipReport`);
            ``frame_dense``, ``features_dense`` (the non-pruned branch: same weights, masks off);
            ``uncertainty`` ``(B, 1, H, W)`` (log-scale ``U``, from the non-pruned branch's block 3).
        """
        height, width = img0.shape[-2:]
        padding = (0, -width % PAD_MULTIPLE, 0, -height % PAD_MULTIPLE)
        if any(padding):
            img0, img1 = F.pad(img0, padding), F.pad(img1, padding)
        out: dict = {}
        self._valid_hw = (height, width)
        try:
            if non_pruned or uncertainty:
                # With a frozen backbone the non-pruned branch has no trainable weight: no graph needed.
                grad = torch.is_grad_enabled() and self.backbone_trainable
                with torch.set_grad_enabled(grad), execution_mode(self, "dense"):
                    dense = self.predict(img0, img1, timestep, allow_restart=False)
                out["frame_dense"] = dense["frame"][..., :height, :width]
                out["features_dense"] = dict(self._state["features"])
                if uncertainty:
                    last = max(self._state["features"])
                    feat = self._state["features"][last].detach()
                    u = self.uncertainty_head(feat, tuple(img0.shape[-2:]))
                    out["uncertainty"] = u[..., :height, :width]
            if pruned:
                result = self.predict(img0, img1, timestep, allow_restart=False)
                out["frame"] = result["frame"][..., :height, :width]
                out["masks"] = dict(self._state["masks"])
                out["logits"] = dict(self._state["logits"])
                out["features"] = dict(self._state["features"])
                out["report"] = self.skip_report()
        finally:
            self._valid_hw = None
        return out
