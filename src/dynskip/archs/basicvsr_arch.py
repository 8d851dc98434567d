"""BasicVSR (Chan et al., CVPR 2021), x4, with BasicSR module names for strict official-weight loading.

The forward pass is split into overridable steps so that variants (SkipVSR) can change how each trunk
runs its residual blocks without touching flows, propagation order or reconstruction:

``compute_flows`` -> ``propagate`` (backward, then forward; each step calls ``run_trunk``) ->
``reconstruct`` per frame.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynskip.archs.spynet_arch import SpyNet
from dynskip.archs.warp import flow_warp
from dynskip.utils.checks import check_choice

Direction = Literal["backward", "forward"]
SCALE = 4
MIN_LR_SIZE = 16
MIN_FRAMES = 2


class ResidualBlockNoBN(nn.Module):
    """``x + conv2(relu(conv1(x)))``, two 3x3 convs, no batch norm. ``(B, C, H, W) -> (B, C, H, W)``."""

    def __init__(self, num_feat: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=True)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        # BasicSR's initialisation: Kaiming normal scaled by 0.1, zero bias, so that a deep stack
        # of blocks starts close to the identity.
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_normal_(conv.weight)
            with torch.no_grad():
                conv.weight.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def residual(self, x: Tensor) -> Tensor:
        """The residual branch alone, ``conv2(relu(conv1(x)))``."""
        return self.conv2(self.relu(self.conv1(x)))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.residual(x)


class ConvResidualBlocks(nn.Module):
    """Input conv + LeakyReLU(0.1), then ``num_block`` residual blocks.

    ``main[0]`` conv ``num_in_ch -> num_out_ch``, ``main[1]`` LeakyReLU, ``main[2]`` the ``nn.Sequential``
    of ``ResidualBlockNoBN``. ``(B, num_in_ch, H, W) -> (B, num_out_ch, H, W)``.
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 64, num_block: int = 15) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(num_in_ch, num_out_ch, 3, 1, 1, bias=True),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Sequential(*(ResidualBlockNoBN(num_out_ch) for _ in range(num_block))),
        )

    def stem(self, x: Tensor) -> Tensor:
        """Input conv and activation: ``(B, num_in_ch, H, W) -> (B, num_out_ch, H, W)``."""
        return self.main[1](self.main[0](x))

    @property
    def residual_blocks(self) -> nn.Sequential:
        """The residual blocks, in order (``main[2]``)."""
        return self.main[2]

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x)


class BasicVSR(nn.Module):
    """Bidirectional recurrent x4 video super-resolution with SpyNet alignment.

    Args:
        num_feat: hidden-state channels (64 in the official models).
        num_block: residual blocks per propagation trunk (30 in the official models).
    """

    def __init__(self, num_feat: int = 64, num_block: int = 30) -> None:
        super().__init__()
        self.num_feat = num_feat
        self.spynet = SpyNet()
        self.backward_trunk = ConvResidualBlocks(num_feat + 3, num_feat, num_block)
        self.forward_trunk = ConvResidualBlocks(num_feat + 3, num_feat, num_block)
        # Trunk weights channels-last like their inputs (see trunk_input), so that oneDNN does not
        # reorder them on every call (the sparse engine makes many small tile-batch calls). Loading a
        # state dict keeps the layout.
        for trunk in (self.backward_trunk, self.forward_trunk):
            trunk.to(memory_format=torch.channels_last)
        self.fusion = nn.Conv2d(num_feat * 2, num_feat, 1, 1, 0, bias=True)
        self.upconv1 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1, bias=True)
        self.upconv2 = nn.Conv2d(num_feat, 64 * 4, 3, 1, 1, bias=True)
        self.conv_hr = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv_last = nn.Conv2d(64, 3, 3, 1, 1)
        self.pixel_shuffle = nn.PixelShuffle(2)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)

    @staticmethod
    def check_input(lr: Tensor) -> None:
        """Raise ``ValueError`` unless ``lr`` is a float ``(B, T, 3, h, w)`` with T >= 2 and h, w >= 16."""
        if lr.dim() != 5 or lr.shape[2] != 3:
            raise ValueError(f"BasicVSR expects lr of shape (B, T, 3, h, w), got {tuple(lr.shape)}")
        if not lr.is_floating_point():
            raise ValueError(f"BasicVSR expects a float tensor in [0, 1], got dtype {lr.dtype}")
        _, t, _, h, w = lr.shape
        if t < MIN_FRAMES:
            raise ValueError(f"BasicVSR needs at least {MIN_FRAMES} frames, got T={t} in {tuple(lr.shape)}")
        if h < MIN_LR_SIZE or w < MIN_LR_SIZE:
            raise ValueError(
                f"BasicVSR needs LR frames of at least {MIN_LR_SIZE}x{MIN_LR_SIZE} (h, w), got h={h}, w={w}"
            )

    def compute_flows(self, lr: Tensor) -> tuple[Tensor, Tensor]:
        """Flows between neighbouring frames.

        Args:
            lr: ``(B, T, 3, h, w)``.
        Returns:
            ``(flows_forward, flows_backward)``, each ``(B, T-1, 2, h, w)``. ``flows_backward[:, i]``
            warps frame i+1's features onto frame i; ``flows_forward[:, i]`` warps frame i onto i+1.
        """
        b, t, c, h, w = lr.shape
        earlier = lr[:, :-1].reshape(-1, c, h, w)
        later = lr[:, 1:].reshape(-1, c, h, w)
        flows_backward = self.spynet(earlier, later).view(b, t - 1, 2, h, w)
        flows_forward = self.spynet(later, earlier).view(b, t - 1, 2, h, w)
        return flows_forward, flows_backward

    def run_trunk(
        self,
        trunk: ConvResidualBlocks,
        x_i: Tensor,
        feat_prop: Tensor,
        frame_index: int,
        direction: Direction,
    ) -> Tensor:
        """One recurrent step: ``trunk(cat(x_i, feat_prop))``.

        Args:
            trunk: ``self.backward_trunk`` or ``self.forward_trunk``.
            x_i: ``(B, 3, h, w)`` LR frame ``frame_index``.
            feat_prop: ``(B, num_feat, h, w)`` hidden state, already warped onto this frame.
            frame_index: index of the frame in the clip (subclasses may key per-frame state on it).
            direction: ``"backward"`` or ``"forward"``.
        Returns:
            ``(B, num_feat, h, w)`` new hidden state.
        """
        return trunk(self.trunk_input(x_i, feat_prop))

    @staticmethod
    def trunk_input(x_i: Tensor, feat_prop: Tensor) -> Tensor:
        """``cat(x_i, feat_prop)`` ``(B, 3 + num_feat, h, w)``, channels-last.

        The trunks take ~60% of the time, and oneDNN's CPU kernels run their 3x3 convs faster on
        channels-last inputs (conv outputs and the residual adds keep the layout): unseen bikes at
        68x160 LR went from 0.922 to 0.757 s/frame with the same outputs (``experiments/skipvsr/README.md``).
        """
        return torch.cat([x_i, feat_prop], dim=1).contiguous(memory_format=torch.channels_last)

    def propagate(self, lr: Tensor, flows: Tensor, direction: Direction) -> list[Tensor]:
        """Recurrent propagation over the clip in one direction, from a zero hidden state.

        Args:
            lr: ``(B, T, 3, h, w)``.
            flows: ``(B, T-1, 2, h, w)``: ``flows_backward`` for ``"backward"``, ``flows_forward`` for
                ``"forward"`` (see ``compute_flows``).
            direction: ``"backward"`` visits frames T-1 .. 0, ``"forward"`` visits 0 .. T-1.
        Returns:
            ``T`` hidden states ``(B, num_feat, h, w)``, indexed by frame.
        """
        check_choice(direction, "direction", ("backward", "forward"))
        b, t, _, h, w = lr.shape
        backward = direction == "backward"
        trunk = self.backward_trunk if backward else self.forward_trunk
        order = range(t - 1, -1, -1) if backward else range(t)
        feats: list[Tensor] = []
        feat_prop = lr.new_zeros(b, self.num_feat, h, w)
        for step, i in enumerate(order):
            if step > 0:
                flow = flows[:, i] if backward else flows[:, i - 1]
                feat_prop = flow_warp(feat_prop, flow, padding_mode="zeros")
            feat_prop = self.run_trunk(trunk, lr[:, i], feat_prop, i, direction)
            feats.append(feat_prop)
        if backward:
            feats.reverse()
        return feats

    def reconstruct(self, lr_i: Tensor, feat_backward: Tensor, feat_forward: Tensor) -> Tensor:
        """Fuse both hidden states and upsample x4, plus the bilinear upsampled frame.

        Args:
            lr_i: ``(B, 3, h, w)`` LR frame.
            feat_backward: ``(B, num_feat, h, w)``.
            feat_forward: ``(B, num_feat, h, w)``.
        Returns:
            ``(B, 3, 4h, 4w)``.
        """
        return self.reconstruct_residual(feat_backward, feat_forward) + self.upsample_image(lr_i)

    def reconstruct_residual(self, feat_backward: Tensor, feat_forward: Tensor) -> Tensor:
        """The learned part of :meth:`reconstruct`: ``(B, num_feat, h, w)`` x 2 -> ``(B, 3, 4h, 4w)``."""
        out = self.lrelu(self.fusion(torch.cat([feat_backward, feat_forward], dim=1)))
        out = self.lrelu(self.pixel_shuffle(self.upconv1(out)))
        out = self.lrelu(self.pixel_shuffle(self.upconv2(out)))
        out = self.lrelu(self.conv_hr(out))
        return self.conv_last(out)

    @staticmethod
    def upsample_image(lr_i: Tensor) -> Tensor:
        """``(B, 3, h, w)`` -> ``(B, 3, 4h, 4w)`` bilinear: the base the learned residual is added to."""
        return F.interpolate(lr_i, scale_factor=SCALE, mode="bilinear", align_corners=False)

    def reconstruct_clip(
        self, lr: Tensor, feats_backward: list[Tensor], feats_forward: list[Tensor]
    ) -> Tensor:
        """Every frame's :meth:`reconstruct`: ``(B, T, 3, h, w)`` and ``T`` states each way
        -> ``(B, T, 3, 4h, 4w)``."""
        b, t, c, h, w = lr.shape
        # Written frame by frame into one buffer rather than stacked: no second copy of the output.
        out = lr.new_empty(b, t, c, SCALE * h, SCALE * w)
        for i in range(t):
            out[:, i] = self.reconstruct(lr[:, i], feats_backward[i], feats_forward[i])
        return out

    def forward(self, lr: Tensor) -> Tensor:
        """Super-resolve a clip.

        Args:
            lr: ``(B, T, 3, h, w)`` RGB in ``[0, 1]``, T >= 2, h, w >= 16.
        Returns:
            ``(B, T, 3, 4h, 4w)`` (not clamped).
        """
        self.check_input(lr)
        flows_forward, flows_backward = self.compute_flows(lr)
        feats_backward = self.propagate(lr, flows_backward, "backward")
        feats_forward = self.propagate(lr, flows_forward, "forward")
        return self.reconstruct_clip(lr, feats_backward, feats_forward)
