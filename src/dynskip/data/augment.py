"""Training augmentation shared by every dataset: random crop, flips, transpose, temporal reversal.

Randomness is drawn per sample from ``(seed, epoch, index)``, so a run is repeatable whatever the number
of loader workers or their order, and each epoch sees new draws. The datamodule's training sampler calls
``set_epoch`` on the dataset (which forwards it here); a dataset used on its own stays at epoch 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class AugmentDraw:
    """One sample's random choices; ``top``/``left`` are in the (LQ) grid the crop is drawn on."""

    top: int
    left: int
    hflip: bool
    vflip: bool
    transpose: bool
    reverse: bool

    def as_tensor(self) -> Tensor:
        """``(top, left, hflip, vflip, transpose, reverse)`` as int64, for a sample dict (collates)."""
        fields = (self.top, self.left, self.hflip, self.vflip, self.transpose, self.reverse)
        return torch.tensor([int(f) for f in fields], dtype=torch.long)

    @classmethod
    def from_tensor(cls, values: Tensor) -> AugmentDraw:
        if values.shape != (6,):
            raise ValueError(f"an augmentation record is 6 values, got shape {tuple(values.shape)}")
        top, left, hflip, vflip, transpose, reverse = (int(v) for v in values.tolist())
        return cls(top, left, bool(hflip), bool(vflip), bool(transpose), bool(reverse))


def _as_hw(crop_size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if crop_size is None:
        return None
    if isinstance(crop_size, int):
        return crop_size, crop_size
    size = tuple(int(s) for s in crop_size)
    if len(size) != 2:
        raise ValueError(f"crop_size must be an int or (height, width), got {crop_size}")
    return size


def apply_geometric(x: Tensor, draw: AugmentDraw) -> Tensor:
    """Flips and transpose on the last two (H, W) dimensions, in the order the augmentation applies them
    (also for data that rides along with a sample, such as cached mask labels)."""
    if draw.hflip:
        x = x.flip(-1)
    if draw.vflip:
        x = x.flip(-2)
    if draw.transpose:
        x = x.transpose(-1, -2)
    return x


class Augment:
    """Random crop, horizontal / vertical flips, optional transpose (90-degree rotations with the flips),
    temporal reversal.

    Args:
        crop_size: patch size, int or ``(h, w)``; for VSR in GT pixels (a multiple of the scale, the LQ
            patch is ``crop_size / scale`` at the aligned position); None keeps whole frames.
        hflip, vflip: flip with probability 0.5 each.
        transpose: swap H and W with probability ``transpose_prob`` (needs a square crop, so batches keep
            one shape).
        transpose_prob: probability of the transpose (UGSP: 0.05).
        reverse: reverse time with probability 0.5 (VSR: frame order; VFI: swap ``img0``/``img1`` and
            ``timestep -> 1 - timestep``).
        seed: base seed of the per-sample generators.
    """

    def __init__(
        self,
        crop_size: int | Sequence[int] | None = None,
        hflip: bool = True,
        vflip: bool = True,
        transpose: bool = False,
        reverse: bool = True,
        seed: int = 0,
        transpose_prob: float = 0.5,
    ) -> None:
        self.crop_size = _as_hw(crop_size)
        if self.crop_size is not None and min(self.crop_size) < 1:
            raise ValueError(f"crop_size must be positive, got {crop_size}")
        if transpose and (self.crop_size is None or self.crop_size[0] != self.crop_size[1]):
            raise ValueError(
                f"transpose=True needs a square crop_size so batch shapes agree, got {crop_size}"
            )
        if not 0.0 <= transpose_prob <= 1.0:
            raise ValueError(f"transpose_prob must lie in [0, 1], got {transpose_prob}")
        self.hflip, self.vflip, self.transpose, self.reverse = hflip, vflip, transpose, reverse
        self.transpose_prob = float(transpose_prob)
        self.seed = int(seed)
        self.epoch = 0

    def __repr__(self) -> str:
        return (
            f"Augment(crop_size={self.crop_size}, hflip={self.hflip}, vflip={self.vflip}, "
            f"transpose={self.transpose}, transpose_prob={self.transpose_prob}, reverse={self.reverse}, "
            f"seed={self.seed})"
        )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def draw(
        self, index: int, height: int, width: int, crop: tuple[int, int] | None, key: str
    ) -> AugmentDraw:
        """Random choices of sample ``index`` for a ``height x width`` grid and a ``crop`` in that grid."""
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        top = left = 0
        if crop is not None:
            if crop[0] > height or crop[1] > width:
                raise ValueError(
                    f"sample {key}: crop {crop[0]}x{crop[1]} is larger than its frames {height}x{width}"
                )
            top = int(rng.integers(0, height - crop[0] + 1))
            left = int(rng.integers(0, width - crop[1] + 1))
        coins = rng.random(4)
        return AugmentDraw(
            top=top,
            left=left,
            hflip=self.hflip and bool(coins[0] < 0.5),
            vflip=self.vflip and bool(coins[1] < 0.5),
            transpose=self.transpose and bool(coins[2] < self.transpose_prob),
            reverse=self.reverse and bool(coins[3] < 0.5),
        )

    def vsr(self, lq: Tensor, gt: Tensor, index: int, scale: int, key: str) -> tuple[Tensor, Tensor]:
        """Augment an LQ ``(T, C, h, w)`` / GT ``(T, C, h*scale, w*scale)`` pair with one draw."""
        draw = self.vsr_draw(index, lq.shape[-2], lq.shape[-1], scale, key)
        return self.apply_vsr(lq, gt, draw, scale)

    def lq_crop(self, scale: int) -> tuple[int, int] | None:
        """The crop in LQ pixels (``crop_size / scale``), or None for whole frames."""
        if self.crop_size is None:
            return None
        if self.crop_size[0] % scale or self.crop_size[1] % scale:
            raise ValueError(f"VSR crop_size {self.crop_size} must be a multiple of the scale {scale}")
        return self.crop_size[0] // scale, self.crop_size[1] // scale

    def vsr_draw(self, index: int, height: int, width: int, scale: int, key: str) -> AugmentDraw:
        """The draw :meth:`vsr` makes for sample ``index`` with ``height x width`` LQ frames (so a dataset
        can cut the crop before degrading whole frames; see ``VideoClips``)."""
        return self.draw(index, height, width, self.lq_crop(scale), key)

    def apply_vsr(self, lq: Tensor, gt: Tensor, draw: AugmentDraw, scale: int) -> tuple[Tensor, Tensor]:
        """Crop at ``draw``'s LQ offset, then flips, transpose and reversal."""
        lq_crop = self.lq_crop(scale)
        if lq_crop is not None:
            lq = lq[..., draw.top : draw.top + lq_crop[0], draw.left : draw.left + lq_crop[1]]
            gt = gt[
                ...,
                draw.top * scale : (draw.top + lq_crop[0]) * scale,
                draw.left * scale : (draw.left + lq_crop[1]) * scale,
            ]
        lq, gt = apply_geometric(lq, draw), apply_geometric(gt, draw)
        if draw.reverse:
            lq, gt = lq.flip(0), gt.flip(0)
        return lq.contiguous(), gt.contiguous()

    def vfi(
        self, img0: Tensor, img1: Tensor, gt: Tensor, timestep: float, index: int, key: str
    ) -> tuple[Tensor, Tensor, Tensor, float, AugmentDraw]:
        """Augment a ``(C, H, W)`` triplet with one draw; returns ``(img0, img1, gt, timestep, draw)``."""
        draw = self.draw(index, gt.shape[-2], gt.shape[-1], self.crop_size, key)
        frames = []
        for image in (img0, img1, gt):
            if self.crop_size is not None:
                image = image[
                    ..., draw.top : draw.top + self.crop_size[0], draw.left : draw.left + self.crop_size[1]
                ]
            frames.append(apply_geometric(image, draw).contiguous())
        img0, img1, gt = frames
        if draw.reverse:
            img0, img1, timestep = img1, img0, 1.0 - timestep
        return img0, img1, gt, timestep, draw
