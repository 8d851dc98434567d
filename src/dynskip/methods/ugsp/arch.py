"""UGSP, the paper network (ACM MM 2023): IFRNet-style encoder, densely connected RIFE-like decoders, spatial
pruning of the decoders at 1/8, 1/4 and 1/2 by hierarchical tile masks.

Network (module names in brackets; official names in the table of :func:`official_key`):

- ``encoder`` (shared by both frames, run as one batch): four levels of ``conv3x3 s2 + PReLU,
  conv3x3 + PReLU`` with 32 / 48 / 72 / 96 channels, features at 1/2, 1/4, 1/8, 1/16. Inputs are the
  frames minus their joint mean (one scalar per sample, over the unpadded image).
- ``decoders[k]``, :class:`DenseDecoder`: ``conv_head`` and ``n`` more ``conv3x3 + PReLU`` at a constant
  width, every output concatenated into a ``conv1x1`` (``conv_last``)::

      decoder16: in 192 = f0 + f1 (96 + 96),            6 convs, 1x1 -> 4 flow + 72 features (biases)
      decoder8:  in 220 = w(f0) + w(f1) + feat + flow,  6 convs, 1x1 -> 4 + 48   (convs without bias)
      decoder4:  in 148,                                 6 convs, 1x1 -> 4 + 32
      decoder2:  in 100,                                 5 convs, 1x1 -> 100, then ``final_act`` (PReLU)
                 and ``final_upconv`` ConvTranspose2d(100, 8, 4, 2, 1): 4 flow + 1 fusion + 3 residual

  ``w`` warps a level's encoder features by the current flow (backward, border padding). Between
  levels the ``conv_last`` output is bilinearly upsampled x2 and the flow refined residually:
  ``flow = up(delta) + 2 up(flow_prev)`` (``decoder16``'s upsampled output is the first flow).
- Output: ``sigmoid(M) warp(I0 - m, f_t0) + (1 - sigmoid(M)) warp(I1 - m, f_t1) + m + R``, clamped to [0, 1].

Pruning (UGSP):

- ``decoder16`` and the encoder always run densely. The mask head on decoder ``k``'s output features
  (``mask_heads[child]``, the shared :class:`~dynskip.methods.ugsp.pruning.MaskHead`) predicts the tile mask
  of the next finer decoder; Gumbel-softmax while training, hard ``p_keep >= threshold`` otherwise.
  Masks are hierarchical (``decoder4`` runs only where ``decoder8`` ran, ...), and tiles lying wholly
  in the padding are off.
- Masked-feature semantics as the official code: every 3x3 conv output of a pruned decoder is
  multiplied by the mask before its PReLU, so pruned positions hold zeros; ``conv_last`` over the
  concatenation then yields its bias there (the official dense and sparse paths both do), so a pruned
  region keeps the upsampled coarser flow plus a learnt constant. ``final_act`` / ``final_upconv``
  always run densely (the official FLOPs count them as never prunable).
- Execution: ``train`` / ``masked`` emulate the masks densely (soft masks allowed, differentiable);
  ``sparse`` runs the 3x3 chain and ``conv_last`` on the active tiles only with the shared tile engine
  (:func:`dynskip.skip.engine.masked_chain` with ``head=conv_last``: the densely concatenated decoder
  needs its multi-output chain, :func:`~dynskip.methods.ugsp.pruning.run_pruned_chain` returns only the last
  layer) and adds the bias at pruned positions; ``dense`` ignores masks and heads.

Deviations from the official code, all deliberate:

- Mask heads are the shared :class:`MaskHead` (``conv3x3(C, hidden) + PReLU + conv1x1(hidden, 2)``,
  logits average-pooled to a tile grid) instead of the official ``conv3x3(C, 2)`` at pixel level; the
  backbone's parameters are the official ones exactly (6,761,960 = 6,764,702 - 2,742 of official heads).
- Masks live on tile grids (``tile_px`` image pixels per pruned decoder) so the engine can skip work.
- The non-pruned branch of :meth:`UGSP.forward_train` is a clean dense pass sharing the encoder and
  ``decoder16`` (identical in both branches); the official one feeds the pruned branch's features and
  flow into the non-pruned decoders (its ``feat_dense`` / ``flow`` inputs).
- The joint mean is taken over the unpadded image and padding happens after its subtraction (padded
  areas read as the mean colour); the official Middlebury script zero-pads before the network.
- The network ignores ``timestep`` as the official one does (trained for the midpoint only); anything
  but 0.5 is rejected.

Shapes: ``img0, img1 (B, 3, H, W)`` in [0, 1], any ``H, W`` (padded internally to ``pad_multiple``,
the lcm of 16 and the tile sizes); features at 1/s have ``(B, C, H_p/s, W_p/s)`` with ``H_p`` the
padded height; tile masks ``(B, 1, H_p/tile, W_p/tile)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynskip.archs.warp import flow_warp
from dynskip.methods.ugsp.pruning import (
    MaskHead,
    UncertaintyHead,
    expand_mask,
    hierarchical_mask,
    sample_mask,
    valid_tile_mask,
)
from dynskip.skip.engine import masked_chain, masked_chain_dense
from dynskip.skip.plan import TilePlan
from dynskip.skip.protocol import SkipKnobs, SkipRecorder, SkipReport, SkipUnit
from dynskip.utils.checks import check_choice, check_image_pair

ENCODER_CHANNELS = (32, 48, 72, 96)  # at 1/2, 1/4, 1/8, 1/16
PRUNED_LEVELS = ("decoder8", "decoder4", "decoder2")  # coarse to fine
LEVEL_STRIDE = {"decoder16": 16, "decoder8": 8, "decoder4": 4, "decoder2": 2}
# Input channels of each decoder, layers after conv_head, conv_last outputs (official IFNet).
DECODER_SPEC = {
    "decoder16": (2 * 96, 5, 4 + 72),
    "decoder8": (3 * 72 + 4, 5, 4 + 48),
    "decoder4": (3 * 48 + 4, 5, 4 + 32),
    "decoder2": (3 * 32 + 4, 4, 3 * 32 + 4),
}
NEXT_LEVEL = {"decoder16": "decoder8", "decoder8": "decoder4", "decoder4": "decoder2"}
FINAL_OUT = 4 + 1 + 3  # flow, fusion logit, RGB residual
MIN_PAD_MULTIPLE = 16  # four stride-2 encoder levels
# ``forward_train`` pads to this: the shared UGSP objective pads its labels to 128-multiples
# (``dynskip.methods.ugsp.objective._pad_label``), so the mask grids must cover the same padded size.
TRAIN_PAD_MULTIPLE = 128
# Feature tiles of 4 / 4 / 8 positions: fine masks where decoders are cheap, and on decoder2 (half the
# cost) the tile size the engine runs well (2 CPU cores, 30% active: 4.3x faster than dense with 8x8
# feature tiles, 3.4x with 4x4).
DEFAULT_TILE_PX = (32, 16, 16)


def conv_prelu(in_channels: int, out_channels: int, stride: int = 1, bias: bool = True) -> nn.Sequential:
    """``Conv2d(3x3, padding 1) + PReLU(out)``; indices ``0`` / ``1`` as in the official checkpoint."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=bias), nn.PReLU(out_channels)
    )


def resize2(x: Tensor) -> Tensor:
    """Bilinear x2 upsampling (half-pixel centres), as the official ``resize``."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def _conv_macs(conv: nn.Conv2d | nn.ConvTranspose2d) -> int:
    """MACs per position (output for Conv2d, input for ConvTranspose2d: FlopCounter's convention)."""
    return conv.in_channels * conv.out_channels * math.prod(conv.kernel_size) // conv.groups


class Encoder(nn.Module):
    """IFRNet-style pyramid: ``(B, 3, H, W)`` -> ``{2: (B,32,H/2,W/2), 4: 48 ch, 8: 72 ch, 16: 96 ch}``."""

    def __init__(self) -> None:
        super().__init__()
        chans = (3, *ENCODER_CHANNELS)
        for k in range(4):
            pyramid = nn.Sequential(
                conv_prelu(chans[k], chans[k + 1], 2), conv_prelu(chans[k + 1], chans[k + 1])
            )
            self.add_module(f"pyramid{k + 1}", pyramid)

    def forward(self, img: Tensor) -> dict[int, Tensor]:
        feats, x = {}, img
        for k in range(4):
            x = getattr(self, f"pyramid{k + 1}")(x)
            feats[2 ** (k + 1)] = x
        return feats

    def macs_per_pixel(self) -> float:
        """MACs of one image per position at 1/2 (level ``k`` has ``4^-(k-1)`` as many positions)."""
        total = 0.0
        for k in range(4):
            pyramid = getattr(self, f"pyramid{k + 1}")
            total += sum(_conv_macs(layer[0]) for layer in pyramid) / 4**k
        return total


class DenseDecoder(nn.Module):
    """``layers`` (``conv_head`` then ``n_layers`` convs, each ``conv3x3 + PReLU`` at ``channels``) whose
    outputs are all concatenated into ``conv_last`` (1x1, ``out_channels``, bias).

    ``(B, channels, h, w)`` -> ``(B, out_channels, h, w)``.
    """

    def __init__(self, channels: int, n_layers: int, out_channels: int, bias: bool) -> None:
        super().__init__()
        self.channels, self.n_layers = channels, n_layers
        self.layers = nn.Sequential(*(conv_prelu(channels, channels, bias=bias) for _ in range(n_layers + 1)))
        self.conv_last = nn.Conv2d(channels * (n_layers + 1), out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        if not torch.is_grad_enabled():
            # CPU convs run ~1.6x faster channels-last, the layout of the tile engine's buffers: the
            # dense baseline gets it too, so dense-vs-sparse timings compare kernels, not layouts.
            x = x.contiguous(memory_format=torch.channels_last)
        outs = []
        for layer in self.layers:
            x = layer(x)
            outs.append(x)
        return self.conv_last(torch.cat(outs, 1))

    def masked(self, x: Tensor, pixel_mask: Tensor) -> Tensor:
        """Dense emulation: every 3x3 output times ``pixel_mask`` ``(B, 1, h, w)`` (soft allowed) before
        its PReLU, ``conv_last`` dense over the (zero where pruned) concatenation: the training path."""
        outs = masked_chain_dense(x, self.layers, pixel_mask, collect=True)
        return self.conv_last(torch.cat(outs, 1))

    def sparse(self, x: Tensor, plan: TilePlan, mode: str = "sparse") -> Tensor:
        """The 3x3 chain and ``conv_last`` on ``plan``'s active tiles only (tile engine); ``conv_last``'s
        bias where pruned, so the result equals :meth:`masked` with the plan's hard mask."""
        out = masked_chain(x, self.layers, plan, mode=mode, head=[self.conv_last])
        bias = self.conv_last.bias
        if bias is None or plan.num_active == plan.batch * plan.grid[0] * plan.grid[1]:
            return out
        return out + (1.0 - plan.pixel_mask(out.dtype)) * bias.view(1, -1, 1, 1)

    def macs_per_pixel(self) -> float:
        return sum(_conv_macs(layer[0]) for layer in self.layers) + _conv_macs(self.conv_last)


@dataclass
class _Trunk:
    """What both branches share: the mean-subtracted padded frames, encoder features, decoder16's output."""

    img0: Tensor
    img1: Tensor
    mean: Tensor
    feats0: dict[int, Tensor]
    feats1: dict[int, Tensor]
    out16: Tensor  # decoder16's conv_last output (B, 4 + 72, H/16, W/16)
    valid_hw: tuple[int, int]


def _check_timestep(timestep: float | Tensor) -> None:
    """UGSP predicts the midpoint only; reject other times rather than silently ignore them."""
    if isinstance(timestep, Tensor):
        if timestep.device.type == "meta":  # FLOP counting: no values to check
            return
        bad = bool(((timestep - 0.5).abs() > 1e-6).any())
    else:
        bad = abs(float(timestep) - 0.5) > 1e-6
    if bad:
        raise ValueError(f"ugsp interpolates the midpoint only (timestep 0.5), got {timestep}")


class UGSP(SkipKnobs, nn.Module):
    """The UGSP network with spatially pruned decoders; see the module doc.

    Args:
        tile_px: tile edge in image pixels of ``decoder8``, ``decoder4``, ``decoder2`` (multiples of 8,
            4, 2: whole feature tiles). Default 32 / 16 / 16 (feature tiles 4, 4, 8).
        head_hidden: hidden width of the mask heads.
        uncertainty_hidden: hidden width of the uncertainty head (phase 1; reads ``decoder2``'s
            non-pruned features).
        prune_padding: switch off tiles lying wholly in the padding (their output is cropped away).
        engine_mode: mode of the tile engine in ``sparse`` execution: ``"sparse"`` (always the tile
            path) or ``"auto"`` (its calibrated dense fall-back at high active fractions; same numbers).
        threshold, execution_mode, budget, temperature: the skip knobs. The execution mode defaults to
            ``sparse`` (real skipping); the training objectives switch to ``train`` themselves.
            ``budget`` 0.35 is the official density target.
    """

    def __init__(
        self,
        tile_px: Sequence[int] = DEFAULT_TILE_PX,
        head_hidden: int = 16,
        uncertainty_hidden: int = 32,
        prune_padding: bool = True,
        engine_mode: str = "sparse",
        threshold: float = 0.5,
        execution_mode: str = "sparse",
        budget: float = 0.35,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        tiles = tuple(int(t) for t in tile_px)
        strides = [LEVEL_STRIDE[level] for level in PRUNED_LEVELS]
        if len(tiles) != len(PRUNED_LEVELS) or any(t <= 0 or t % s for t, s in zip(tiles, strides)):
            raise ValueError(
                f"tile_px needs one size per pruned decoder {PRUNED_LEVELS}, multiples of {strides}; "
                f"got {tile_px}"
            )
        check_choice(engine_mode, "engine_mode", ("sparse", "auto"))
        self.tile_px = dict(zip(PRUNED_LEVELS, tiles))
        self.pad_multiple = math.lcm(MIN_PAD_MULTIPLE, *tiles)
        self.prune_padding = prune_padding
        self.engine_mode = engine_mode
        self.encoder = Encoder()
        self.decoders = nn.ModuleDict(
            {
                level: DenseDecoder(channels, n_layers, out, bias=level == "decoder16")
                for level, (channels, n_layers, out) in DECODER_SPEC.items()
            }
        )
        final_channels = DECODER_SPEC["decoder2"][2]
        self.final_act = nn.PReLU(final_channels)
        self.final_upconv = nn.ConvTranspose2d(final_channels, FINAL_OUT, 4, 2, 1)
        # The head on decoder k's output features predicts the mask of NEXT_LEVEL[k]; keyed by that child.
        feat_channels = {level: DECODER_SPEC[level][2] - 4 for level in NEXT_LEVEL}
        self.mask_heads = nn.ModuleDict(
            {child: MaskHead(feat_channels[parent], head_hidden) for parent, child in NEXT_LEVEL.items()}
        )
        self.uncertainty_head = UncertaintyHead(final_channels, uncertainty_hidden)
        self.recorder = SkipRecorder(self.skip_units())
        self.threshold, self.execution_mode, self.budget = threshold, execution_mode, budget
        self.temperature = temperature

    # --- protocol ------------------------------------------------------------------------------
    def skip_units(self) -> list[SkipUnit]:
        """Encoder (both frames), decoder16 and the final up-conv always run; decoders 8/4/2 are pruned.

        A pruned decoder's cost is its 3x3 chain plus ``conv_last`` (the official FLOPs scale both by
        the density); mask-head MACs are recorded as the child's overhead.
        """
        units = [
            SkipUnit("encoder", "dense", 2 * self.encoder.macs_per_pixel(), 0.5, prunable=False),
            SkipUnit(
                "decoder16", "dense", self.decoders["decoder16"].macs_per_pixel(), 1 / 16, prunable=False
            ),
        ]
        for level in PRUNED_LEVELS:
            macs = self.decoders[level].macs_per_pixel()
            units.append(SkipUnit(level, "level", macs, 1 / LEVEL_STRIDE[level], halo=1, prunable=True))
        units.append(SkipUnit("final_upconv", "dense", _conv_macs(self.final_upconv), 0.5, prunable=False))
        head = self.uncertainty_head
        units.append(SkipUnit("uncertainty_head", "train_only", head.macs_per_pixel(), 0.5, prunable=False))
        return units

    def skip_report(self) -> SkipReport:
        return self.recorder.report()

    def _mode(self) -> str:
        mode = self.execution_mode
        if mode == "train" and not self.training:
            return "masked"
        if mode == "sparse" and torch.is_grad_enabled():
            return "masked"  # the tile engine is inference-only; a graph needs the (equal) emulation
        return mode

    # --- execution -----------------------------------------------------------------------------
    def _trunk(self, img0: Tensor, img1: Tensor, multiple: int) -> _Trunk:
        height, width = img0.shape[-2:]
        # One mean per sample over both frames and all channels (official), on the unpadded image.
        mean = torch.cat((img0, img1), 2).mean(dim=(1, 2, 3), keepdim=True)
        padding = (0, -width % multiple, 0, -height % multiple)
        img0, img1 = F.pad(img0 - mean, padding), F.pad(img1 - mean, padding)
        batch = img0.shape[0]
        feats = self.encoder(torch.cat((img0, img1), 0))  # one pass for both frames: same weights
        feats0 = {k: v[:batch] for k, v in feats.items()}
        feats1 = {k: v[batch:] for k, v in feats.items()}
        out16 = self.decoders["decoder16"](torch.cat((feats0[16], feats1[16]), 1))
        return _Trunk(img0, img1, mean, feats0, feats1, out16, (height, width))

    def _record_trunk(self, trunk: _Trunk) -> None:
        batch, rec = trunk.img0.shape[0], self.recorder
        rec.record("encoder", 1.0, out_hw=tuple(trunk.feats0[2].shape[-2:]), batch=batch)
        rec.record("decoder16", 1.0, out_hw=tuple(trunk.out16.shape[-2:]), batch=batch)

    def _level_mask(
        self, level: str, head_feat: Tensor, parent: Tensor | None, mode: str, trunk: _Trunk
    ) -> tuple[Tensor, Tensor, Tensor, float]:
        """(tile mask, logits, valid-tile mask, head MACs) of ``level`` from its parent's features."""
        padded = tuple(trunk.img0.shape[-2:])
        tile = self.tile_px[level]
        grid = (padded[0] // tile, padded[1] // tile)
        head = self.mask_heads[level]
        logits = head(head_feat, grid)
        mask = sample_mask(logits, mode, self.temperature, self.threshold, self.training)
        mask = hierarchical_mask(mask, parent)
        valid = valid_tile_mask(grid, padded, trunk.valid_hw, mask)
        if self.prune_padding and trunk.valid_hw != padded:
            mask = mask * valid
        positions = head_feat.shape[0] * head_feat.shape[-2] * head_feat.shape[-1]
        return mask, logits, valid, head.macs_per_pixel() * positions

    def _run_decoder(self, level: str, x: Tensor, mask: Tensor | None, mode: str) -> Tensor:
        decoder = self.decoders[level]
        if mask is None or mode == "dense":
            return decoder(x)
        hw = tuple(x.shape[-2:])
        if mode == "sparse":
            active = mask > 0.5
            if bool(active.all()):
                return decoder(x)  # exactly the masked result with every tile on
            plan = TilePlan.from_mask(active[:, 0], hw[0] // mask.shape[-2], hw)
            return decoder.sparse(x, plan, self.engine_mode)
        return decoder.masked(x, expand_mask(mask, hw))

    def _branch(self, trunk: _Trunk, mode: str, record: bool) -> dict:
        """Decoders 8, 4, 2 and the output from the shared trunk, pruned per ``mode``."""
        rec, batch = self.recorder, trunk.img0.shape[0]
        up = resize2(trunk.out16)
        flow, feat = up[:, :4], up[:, 4:]
        head_feat = trunk.out16[:, 4:]
        parent: Tensor | None = None
        masks, logits, features = {}, {}, {}
        for level in PRUNED_LEVELS:
            stride = LEVEL_STRIDE[level]
            f0, f1 = trunk.feats0[stride], trunk.feats1[stride]
            x = torch.cat(
                (flow_warp(f0, flow[:, :2], "border"), flow_warp(f1, flow[:, 2:4], "border"), feat, flow), 1
            )
            mask = valid = None
            head_macs = 0.0
            if mode != "dense":
                mask, logits[level], valid, head_macs = self._level_mask(
                    level, head_feat, parent, mode, trunk
                )
                masks[level] = mask
            out = self._run_decoder(level, x, mask, mode)
            if record:
                self._record_level(level, out, mask, valid, head_macs, batch)
            if level != "decoder2":
                head_feat = out[:, 4:]
                up = resize2(out)
                flow, feat = up[:, :4] + 2.0 * resize2(flow), up[:, 4:]
                features[level] = feat  # what the next decoder reads (official ``feat_t``)
            else:
                features[level] = out
                final = self.final_upconv(self.final_act(out))
                flow = final[:, :4] + 2.0 * resize2(flow)
                fusion, residual = torch.sigmoid(final[:, 4:5]), final[:, 5:]
            parent = mask
        if record:
            rec.record("final_upconv", 1.0, out_hw=tuple(features["decoder2"].shape[-2:]), batch=batch)
            for level, mask in masks.items():
                rec.add_map(f"mask/{level}", mask)
        warped0 = flow_warp(trunk.img0, flow[:, :2], "border")
        warped1 = flow_warp(trunk.img1, flow[:, 2:4], "border")
        frame = (fusion * warped0 + (1.0 - fusion) * warped1 + trunk.mean + residual).clamp(0.0, 1.0)
        return {"frame": frame, "flow": flow, "masks": masks, "logits": logits, "features": features}

    def _record_level(
        self, level: str, out: Tensor, mask: Tensor | None, valid: Tensor | None, head_macs: float, batch: int
    ) -> None:
        """Active fraction over the tiles covering the image (padding excluded, so the budget sees the
        image), dense MACs over the padded map (what the dense path runs), MACs actually run."""
        unit, hw = self.recorder.units[level], tuple(out.shape[-2:])
        positions = batch * hw[0] * hw[1]
        if mask is None:
            self.recorder.record(level, 1.0, out_hw=hw, batch=batch)
            return
        fraction = (mask * valid).sum() / (valid.sum() * batch)
        ran = unit.macs_per_pixel * float(mask.detach().mean()) * positions
        self.recorder.record(
            level, fraction, out_hw=hw, batch=batch, actual_macs=ran, overhead_macs=head_macs
        )

    def forward(self, img0: Tensor, img1: Tensor, timestep: float | Tensor = 0.5) -> Tensor | dict:
        """Frame ``(B, 3, H, W)`` at the midpoint, pruned per ``execution_mode`` / ``threshold``.

        In training mode (``self.training``) returns :meth:`forward_train`'s dict with every output
        (frame, masks, uncertainty, the non-pruned branch), as the official network does.
        """
        check_image_pair(img0, img1, values="float images")
        _check_timestep(timestep)
        if self.training:
            return self.forward_train(img0, img1, timestep, pruned=True, non_pruned=True, uncertainty=True)
        height, width = img0.shape[-2:]
        self.recorder.reset(frames=img0.shape[0])
        trunk = self._trunk(img0, img1, self.pad_multiple)
        self._record_trunk(trunk)
        out = self._branch(trunk, self._mode(), record=True)
        return out["frame"][..., :height, :width]

    def forward_train(
        self,
        img0: Tensor,
        img1: Tensor,
        timestep: float | Tensor = 0.5,
        pruned: bool = True,
        non_pruned: bool = True,
        uncertainty: bool = False,
    ) -> dict:
        """Everything the shared UGSP objectives need (:mod:`dynskip.methods.ugsp.objective`).

        Inputs of any size, padded to a multiple of ``TRAIN_PAD_MULTIPLE`` (the objective's label grid)
        and cropped back. Returns a dict with (as requested):
            ``frame`` (pruned branch, current execution mode), ``masks`` / ``logits``
            ``{level: (B, 1 or 2, gh, gw)}`` on the padded tile grids, ``features`` ``{level: (B, C, h, w)}``
            (cropped to the image), ``report`` (its :class:`SkipReport`);
            ``frame_dense``, ``features_dense`` (the non-pruned branch: same weights, masks off, sharing
            the encoder and decoder16 with the pruned branch);
            ``uncertainty`` ``(B, 1, H, W)`` (log-scale ``U`` from the non-pruned ``decoder2`` features).
        The report records the pruned branch, or the non-pruned one when ``pruned`` is false.
        """
        check_image_pair(img0, img1, values="float images")
        _check_timestep(timestep)
        height, width = img0.shape[-2:]
        self.recorder.reset(frames=img0.shape[0])
        trunk = self._trunk(img0, img1, math.lcm(TRAIN_PAD_MULTIPLE, self.pad_multiple))
        self._record_trunk(trunk)
        out: dict = {}
        if non_pruned or uncertainty:
            dense = self._branch(trunk, "dense", record=not pruned)
            out["frame_dense"] = dense["frame"][..., :height, :width]
            out["features_dense"] = _crop_features(dense["features"], (height, width))
            if uncertainty:
                feat = dense["features"]["decoder2"].detach()
                u = self.uncertainty_head(feat, tuple(trunk.img0.shape[-2:]))
                out["uncertainty"] = u[..., :height, :width]
        if pruned:
            result = self._branch(trunk, self._mode(), record=True)
            out["frame"] = result["frame"][..., :height, :width]
            out["masks"], out["logits"] = result["masks"], result["logits"]
            out["features"] = _crop_features(result["features"], (height, width))
        out["report"] = self.skip_report()
        return out


def _crop_features(features: dict[str, Tensor], image_hw: tuple[int, int]) -> dict[str, Tensor]:
    """Features cropped to the positions covering the unpadded image (padding must not enter losses)."""
    cropped = {}
    for level, feat in features.items():
        # Features handed on by decoder k live at 1/(stride/2) after the x2 upsampling; decoder2's at 1/2.
        stride = LEVEL_STRIDE[level] // 2 if level != "decoder2" else 2
        h, w = -(-image_hw[0] // stride), -(-image_hw[1] // stride)
        cropped[level] = feat[..., :h, :w]
    return cropped


# Official module names -> ours (``flownet_*.pkl`` after stripping ``module.``); conv_mask has no twin.
_OFFICIAL_BLOCKS = {
    "glblock_first": "decoder16",
    "glblock_1": "decoder8",
    "glblock_2": "decoder4",
    "glblock_final": "decoder2",
}


def official_key(key: str) -> str | None:
    """Our parameter name of an official ``IFNet`` key (``None`` for its pixel-level ``conv_mask``).

    ``context.pyramidK.*`` -> ``encoder.pyramidK.*``; ``glblock_X.conv_head.{0,1}`` ->
    ``decoders.L.layers.0.{0,1}``; ``glblock_X.convblock_l.i`` -> ``decoders.L.layers.{i+1}.0``;
    ``glblock_X.prelu_l.i`` -> ``decoders.L.layers.{i+1}.1``; ``glblock_X.conv_last`` ->
    ``decoders.L.conv_last``; ``glblock_final.prelu_last`` -> ``final_act``; ``glblock_final.dconv_last`` ->
    ``final_upconv``.
    """
    key = key.removeprefix("module.")
    if key.startswith("context."):
        return "encoder." + key.removeprefix("context.")
    block, _, rest = key.partition(".")
    if block not in _OFFICIAL_BLOCKS:
        raise KeyError(f"not an official UGSP IFNet key: {key}")
    level = _OFFICIAL_BLOCKS[block]
    if rest.startswith("conv_mask."):
        return None
    if rest.startswith("prelu_last."):
        return "final_act." + rest.removeprefix("prelu_last.")
    if rest.startswith("dconv_last."):
        return "final_upconv." + rest.removeprefix("dconv_last.")
    if rest.startswith("conv_head."):
        return f"decoders.{level}.layers.0." + rest.removeprefix("conv_head.")
    for name, index in (("convblock_l.", 0), ("prelu_l.", 1)):
        if rest.startswith(name):
            i, _, param = rest.removeprefix(name).partition(".")
            return f"decoders.{level}.layers.{int(i) + 1}.{index}.{param}"
    if rest.startswith("conv_last."):
        return f"decoders.{level}.{rest}"
    raise KeyError(f"not an official UGSP IFNet key: {key}")
