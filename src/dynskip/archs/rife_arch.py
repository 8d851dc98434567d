"""RIFE v3.9 IFNet (Practical-RIFE HD v3 line) in fast mode: coarse-to-fine intermediate flow + fusion mask.

Module names follow the official ``flownet.pkl`` (after stripping ``module.``): ``block{0..3}.conv0``,
``.convblock``, ``.lastconv``, so the official weights load strictly (see ``dynskip.zoo.rife``).
Fast mode is the reference inference path: no ContextNet/UNet refinement.

Subclasses (UGSP on RIFE) change how a block runs by overriding ``IFNet.run_block`` and can rebuild a
block's forward from ``IFBlock.encode`` / ``convblock`` / ``IFBlock.decode``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynskip.archs.warp import flow_warp
from dynskip.utils.checks import check_image_pair

PAD_MULTIPLE = 128  # the reference pads to 128 (scale 1.0); also covers the doubled scales of a restart
FLOW_SCALES = (8.0, 4.0, 2.0, 1.0)  # downsampling factor of each block's input
BLOCK_CHANNELS = (192, 128, 96, 64)
INFERENCE_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)  # Practical-RIFE's --scale choices
RESTART_FLOW_PX = 32.0  # block1 flow beyond this in both directions restarts at doubled scales
NUM_CONVBLOCK_LAYERS = 8


def conv_prelu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution (bias) followed by a per-channel PReLU; indices ``0`` / ``1`` as in the checkpoint."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.PReLU(out_channels))


def resize_bilinear(x: Tensor, factor: float) -> Tensor:
    """Bilinear resize ``(B, C, H, W)`` by ``factor`` (half-pixel centres, no antialias), as the reference.

    Factor 1 is the identity exactly, so it is skipped.
    """
    if factor == 1.0:
        return x
    return F.interpolate(
        x, scale_factor=factor, mode="bilinear", align_corners=False, recompute_scale_factor=False
    )


class IFBlock(nn.Module):
    """One IFNet level: flow and mask residuals from images at ``1/scale`` resolution.

    ``conv0`` (two stride-2 conv+PReLU, ``in -> c/2 -> c``) brings the resized input to ``1/(4 scale)``;
    ``convblock`` (eight conv+PReLU at ``c``) works there with a residual around it; ``lastconv``
    (``ConvTranspose2d(c, 5, 4, 2, 1)``) doubles the size and the result is resized back by ``2 scale``.
    """

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(
            conv_prelu(in_channels, channels // 2, stride=2), conv_prelu(channels // 2, channels, stride=2)
        )
        self.convblock = nn.Sequential(*(conv_prelu(channels, channels) for _ in range(NUM_CONVBLOCK_LAYERS)))
        self.lastconv = nn.ConvTranspose2d(channels, 5, 4, 2, 1)

    def encode_input(self, x: Tensor, flow: Tensor | None, scale: float) -> Tensor:
        """What ``conv0`` reads: ``x`` ``(B, C, H, W)`` and ``flow`` ``(B, 4, H, W)`` at ``1/scale``.

        The flow is resized with the images and its pixel values are divided by ``scale``.
        """
        x = resize_bilinear(x, 1.0 / scale)
        if flow is not None:
            x = torch.cat((x, resize_bilinear(flow, 1.0 / scale) * (1.0 / scale)), 1)
        return x

    def encode(self, x: Tensor, flow: Tensor | None, scale: float) -> Tensor:
        """Features ``(B, c, H/(4 scale), W/(4 scale))`` of ``x`` and ``flow`` (see :meth:`encode_input`)."""
        return self.conv0(self.encode_input(x, flow, scale))

    def decode(self, feat: Tensor, scale: float) -> tuple[Tensor, Tensor]:
        """``(B, c, h, w)`` -> flow ``(B, 4, 4 scale h, 4 scale w)`` in full-size pixels, mask logit."""
        out = resize_bilinear(self.lastconv(feat), scale * 2)
        return out[:, :4] * scale * 2, out[:, 4:5]

    def forward(self, x: Tensor, flow: Tensor | None = None, scale: float = 1.0) -> tuple[Tensor, Tensor]:
        """``x`` ``(B, C, H, W)``, ``flow`` ``(B, 4, H, W)`` or None -> ``(flow (B,4,H,W), mask (B,1,H,W))``.

        H and W must be multiples of ``4 * scale`` for the output to come back at ``(H, W)``.
        """
        feat = self.encode(x, flow, scale)
        feat = self.convblock(feat) + feat
        return self.decode(feat, scale)


def _timestep_column(timestep: float | Tensor, like: Tensor) -> Tensor:
    """``timestep`` (float, 0-d or ``(B,)`` tensor in [0, 1]) as ``(B, 1, 1, 1)`` like ``like``."""
    batch = like.shape[0]
    if isinstance(timestep, Tensor):
        if timestep.dim() > 1 or (timestep.dim() == 1 and timestep.shape[0] != batch):
            raise ValueError(f"timestep tensor must be 0-d or ({batch},), got shape {tuple(timestep.shape)}")
        column = timestep.to(like).reshape(-1, 1, 1, 1).expand(batch, 1, 1, 1)
    else:
        column = like.new_full((batch, 1, 1, 1), float(timestep))
    if bool(((column < 0) | (column > 1)).any()):
        raise ValueError(f"timestep must lie in [0, 1], got {timestep}")
    return column


def _merge_batch_groups(groups: list[tuple[Tensor, dict[str, Tensor]]], batch: int) -> dict[str, Tensor]:
    """Reassemble per-group outputs (batch-first tensors) at their sample indices into one batch."""
    merged: dict[str, Tensor] = {}
    for key, first in groups[0][1].items():
        out = first.new_empty((batch, *first.shape[1:]))
        for indices, outputs in groups:
            out[indices] = outputs[key]
        merged[key] = out
    return merged


class IFNet(nn.Module):
    """RIFE v3.9 IFNet, fast mode: ``forward(img0, img1, timestep) -> frame``, any size.

    Blocks: ``block0`` (in 7: img0, img1, timestep; c 192), ``block1..3`` (in 8 + 4: warped img0,
    warped img1, timestep, mask logit, and the flow; c 128 / 96 / 64) at scales 8 / 4 / 2 / 1. Flow
    (``[:, :2]`` from the target time to img0, ``[:, 2:4]`` to img1) and mask logits add up across
    blocks; the frame is ``warped0 * sigmoid(mask) + warped1 * (1 - sigmoid(mask))``, a convex
    combination of input pixels, so it stays in the inputs' range without clamping.

    In eval mode, a sample whose block1 flow residual exceeds ``RESTART_FLOW_PX`` in both directions is
    recomputed from block0 with every scale doubled (large motion), as in the reference. The reference
    decides this for the whole batch at once; here each sample decides for itself, which equals the
    reference on one pair at a time (how its inference runs) and keeps results independent of batching.
    """

    def __init__(self) -> None:
        super().__init__()
        self.block0 = IFBlock(7, BLOCK_CHANNELS[0])
        self.block1 = IFBlock(8 + 4, BLOCK_CHANNELS[1])
        self.block2 = IFBlock(8 + 4, BLOCK_CHANNELS[2])
        self.block3 = IFBlock(8 + 4, BLOCK_CHANNELS[3])
        self.scales = FLOW_SCALES
        self.pad_multiple = PAD_MULTIPLE

    def set_scale(self, scale: float) -> None:
        """Practical-RIFE's ``--scale``: run every block at ``1 / scale`` its usual resolution (0.5 for 4K
        footage, whose motion is large in pixels); inputs are then padded to ``128 / scale``."""
        if scale not in INFERENCE_SCALES:
            raise ValueError(f"RIFE scale must be one of {INFERENCE_SCALES} (Practical-RIFE's), got {scale}")
        self.scales = tuple(s / scale for s in FLOW_SCALES)
        self.pad_multiple = max(PAD_MULTIPLE, int(PAD_MULTIPLE / scale))

    @property
    def blocks(self) -> tuple[IFBlock, IFBlock, IFBlock, IFBlock]:
        return (self.block0, self.block1, self.block2, self.block3)

    def run_block(
        self, index: int, block: IFBlock, x_in: Tensor, flow: Tensor | None, scale: float
    ) -> tuple[Tensor, Tensor]:
        """Run block ``index``: ``x_in`` ``(B, 7 | 8, H, W)``, ``flow`` ``(B, 4, H, W)`` (None for block0).

        Returns the residuals ``(flow_delta (B, 4, H, W), mask_delta (B, 1, H, W))``. Override to change
        how a block computes (e.g. spatially pruned ``convblock``); it is called again for blocks 0 and 1
        when a sample restarts at doubled scales.
        """
        return block(x_in, flow, scale)

    def warp_images(
        self, index: int, img0: Tensor, img1: Tensor, flow: Tensor, warped0: Tensor, warped1: Tensor
    ) -> tuple[Tensor, Tensor]:
        """``img0`` / ``img1`` warped by ``flow`` ``(B, 4, H, W)`` after block ``index``.

        ``warped0`` / ``warped1`` are the previous block's (the images before block 0). Override to
        rewarp only where block ``index`` changed the flow.
        """
        return (
            flow_warp(img0, flow[:, :2], padding_mode="border"),
            flow_warp(img1, flow[:, 2:4], padding_mode="border"),
        )

    def predict(
        self, img0: Tensor, img1: Tensor, timestep: float | Tensor = 0.5, allow_restart: bool | None = None
    ) -> dict[str, Tensor]:
        """Intermediate frame and its flow on inputs whose H and W are multiples of ``PAD_MULTIPLE``.

        Args:
            img0, img1: ``(B, 3, H, W)`` float RGB in [0, 1].
            timestep: float, 0-d or ``(B,)`` tensor in [0, 1] (0 = img0).
            allow_restart: rerun large-motion samples at doubled scales; default: at inference only.
        Returns:
            ``frame (B, 3, H, W)``, ``flow (B, 4, H, W)`` (pixels), ``mask (B, 1, H, W)`` (weight of
            ``warped0``), ``warped0``, ``warped1`` ``(B, 3, H, W)``, ``restarted (B,)`` bool.
        """
        check_image_pair(img0, img1)
        height, width = img0.shape[-2:]
        if height % self.pad_multiple or width % self.pad_multiple:
            raise ValueError(
                f"predict needs H and W multiples of {self.pad_multiple}, got {height}x{width}; "
                "use forward() for any size"
            )
        column = _timestep_column(timestep, img0)
        timestep_map = column.expand(-1, 1, height, width)
        restart = not self.training if allow_restart is None else allow_restart
        return self._flow_pass(img0, img1, timestep_map, self.scales, allow_restart=restart)

    def _flow_pass(
        self,
        img0: Tensor,
        img1: Tensor,
        timestep_map: Tensor,
        scales: tuple[float, ...],
        allow_restart: bool,
        restarted: bool = False,
    ) -> dict[str, Tensor]:
        flow: Tensor | None = None
        mask: Tensor | None = None
        warped0, warped1 = img0, img1
        for index, (block, scale) in enumerate(zip(self.blocks, scales)):
            if flow is None:
                x_in = torch.cat((img0, img1, timestep_map), 1)
            else:
                x_in = torch.cat((warped0, warped1, timestep_map, mask), 1)
            flow_delta, mask_delta = self.run_block(index, block, x_in, flow, scale)
            if index == 1 and allow_restart:
                needs_restart = self._needs_restart(flow_delta)
                if bool(needs_restart.any()):
                    return self._restart(img0, img1, timestep_map, scales, needs_restart)
            flow = flow_delta if flow is None else flow + flow_delta
            mask = mask_delta if mask is None else mask + mask_delta
            warped0, warped1 = self.warp_images(index, img0, img1, flow, warped0, warped1)
        weight0 = torch.sigmoid(mask)
        return {
            "frame": warped0 * weight0 + warped1 * (1 - weight0),
            "flow": flow,
            "mask": weight0,
            "warped0": warped0,
            "warped1": warped1,
            # ones / zeros rather than torch.full(..., bool), which torch.jit.trace cannot record
            "restarted": (torch.ones if restarted else torch.zeros)(
                img0.shape[0], dtype=torch.bool, device=img0.device
            ),
        }

    @staticmethod
    def _needs_restart(flow_delta: Tensor) -> Tensor:
        """``(B,)`` bool: both flows of the residual ``(B, 4, H, W)`` exceed ``RESTART_FLOW_PX`` somewhere."""
        peak0 = flow_delta[:, :2].abs().amax(dim=(1, 2, 3))
        peak1 = flow_delta[:, 2:4].abs().amax(dim=(1, 2, 3))
        return (peak0 > RESTART_FLOW_PX) & (peak1 > RESTART_FLOW_PX)

    def _restart(
        self,
        img0: Tensor,
        img1: Tensor,
        timestep_map: Tensor,
        scales: tuple[float, ...],
        needs_restart: Tensor,
    ) -> dict[str, Tensor]:
        doubled = tuple(2 * s for s in scales)
        if bool(needs_restart.all()):
            return self._flow_pass(img0, img1, timestep_map, doubled, allow_restart=False, restarted=True)
        # Mixed batch: samples are independent, so each group runs on its own (rare; blocks 0-1 rerun).
        groups = []
        for indices, group_scales, restarted in (
            (needs_restart.nonzero().squeeze(1), doubled, True),
            ((~needs_restart).nonzero().squeeze(1), scales, False),
        ):
            outputs = self._flow_pass(
                img0[indices], img1[indices], timestep_map[indices], group_scales, False, restarted
            )
            groups.append((indices, outputs))
        return _merge_batch_groups(groups, img0.shape[0])

    def forward(
        self, img0: Tensor, img1: Tensor, timestep: float | Tensor = 0.5, allow_restart: bool | None = None
    ) -> Tensor:
        """Frame at ``timestep`` between ``img0`` and ``img1``, both ``(B, 3, H, W)`` in [0, 1], any H, W.

        Inputs are zero-padded right and bottom to multiples of ``PAD_MULTIPLE`` (as the reference
        inference does) and the result is cropped back to ``(B, 3, H, W)``. ``allow_restart``: as in
        :meth:`predict` (an exported graph has no data-dependent branch, so export passes False).
        """
        check_image_pair(img0, img1)
        height, width = img0.shape[-2:]
        padding = (0, -width % self.pad_multiple, 0, -height % self.pad_multiple)
        if any(padding):
            img0, img1 = F.pad(img0, padding), F.pad(img1, padding)
        return self.predict(img0, img1, timestep, allow_restart)["frame"][..., :height, :width]
