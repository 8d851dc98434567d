"""Build the sample dicts every dataset returns, with shape checks and optional augmentation.

VSR: ``{"lq": (T, 3, h, w), "gt": (T, 3, scale*h, scale*w), "key": str}``, plus ``"clip": str`` (the
clip a window belongs to) from datasets that cut clips into windows, so that scores average over the
frames of a clip, then over clips (not over windows).
VFI: ``{"img0", "img1", "gt": (3, H, W), "timestep": float32 scalar tensor, "key": str}``, plus
``"augment"`` (``AugmentDraw.as_tensor()``) when augmented, so that data cached per whole frame (UGSP's
mask labels) can be cropped and flipped like the frames.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynskip.data.augment import Augment
from dynskip.data.errors import CorruptDataError


def vsr_sample(
    lq: Tensor,
    gt: Tensor,
    key: str,
    scale: int = 4,
    augment: Augment | None = None,
    index: int = 0,
    clip: str | None = None,
) -> dict:
    if lq.dim() != 4 or gt.dim() != 4 or lq.shape[:2] != gt.shape[:2]:
        raise CorruptDataError(
            f"sample {key}: lq {tuple(lq.shape)} and gt {tuple(gt.shape)} are not (T, 3, h, w) pairs"
        )
    if gt.shape[-2] != lq.shape[-2] * scale or gt.shape[-1] != lq.shape[-1] * scale:
        raise CorruptDataError(
            f"sample {key}: gt frames are {tuple(gt.shape[-2:])}, "
            f"expected {scale} x the lq frames {tuple(lq.shape[-2:])}"
        )
    if augment is not None:
        lq, gt = augment.vsr(lq, gt, index, scale, key)
    sample = {"lq": lq, "gt": gt, "key": key}
    if clip is not None:
        sample["clip"] = clip
    return sample


def vfi_sample(
    img0: Tensor,
    img1: Tensor,
    gt: Tensor,
    key: str,
    timestep: float = 0.5,
    augment: Augment | None = None,
    index: int = 0,
) -> dict:
    if not (img0.shape == img1.shape == gt.shape) or img0.dim() != 3:
        raise CorruptDataError(
            f"sample {key}: img0 {tuple(img0.shape)}, img1 {tuple(img1.shape)} and gt {tuple(gt.shape)} "
            "must be (3, H, W) of one size"
        )
    if not 0.0 <= timestep <= 1.0:
        raise ValueError(f"sample {key}: timestep {timestep} outside [0, 1]")
    draw = None
    if augment is not None:
        img0, img1, gt, timestep, draw = augment.vfi(img0, img1, gt, timestep, index, key)
    sample = {
        "img0": img0,
        "img1": img1,
        "gt": gt,
        "timestep": torch.tensor(timestep, dtype=torch.float32),
        "key": key,
    }
    if draw is not None:
        sample["augment"] = draw.as_tensor()
    return sample
