"""Build the sample dicts every dataset returns, with shape checks and optional augmentation.

VSR: ``{"lq": (T, 3, h, w), "gt": (T, 3, scale*h, scale*w), "key": str, "clip": str}``; ``clip`` names
the clip a window belongs to (the key itself for whole clips), so that scores average over the frames
of a clip, then over clips (not over windows).
VFI: ``{"img0", "img1", "gt": (3, H, W), "timestep": float32 scalar tensor, "key": str, "clip": str,
"augment": (6,)}`` (``clip``: the clip a triplet comes from, the key itself for lone triplets);
``augment`` is the augmentation record (``AugmentDraw.as_tensor()``; all zeros when not augmented), so
that data cached per whole frame (UGSP's mask labels) can be cut and flipped like the frames.

Every sample of a task has the same keys, so datasets can be concatenated and collated together.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynskip.data.augment import Augment, AugmentDraw
from dynskip.data.errors import CorruptDataError

# The record of a sample that was not augmented: the whole frame, as it is.
NO_AUGMENT = AugmentDraw(top=0, left=0, hflip=False, vflip=False, transpose=False, reverse=False)


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
    return {"lq": lq, "gt": gt, "key": key, "clip": key if clip is None else clip}


def vfi_sample(
    img0: Tensor,
    img1: Tensor,
    gt: Tensor,
    key: str,
    timestep: float = 0.5,
    augment: Augment | None = None,
    index: int = 0,
    clip: str | None = None,
) -> dict:
    if not (img0.shape == img1.shape == gt.shape) or img0.dim() != 3:
        raise CorruptDataError(
            f"sample {key}: img0 {tuple(img0.shape)}, img1 {tuple(img1.shape)} and gt {tuple(gt.shape)} "
            "must be (3, H, W) of one size"
        )
    if not 0.0 <= timestep <= 1.0:
        raise ValueError(f"sample {key}: timestep {timestep} outside [0, 1]")
    draw = NO_AUGMENT
    if augment is not None:
        img0, img1, gt, timestep, draw = augment.vfi(img0, img1, gt, timestep, index, key)
    return {
        "img0": img0,
        "img1": img1,
        "gt": gt,
        "timestep": torch.tensor(timestep, dtype=torch.float32),
        "key": key,
        "clip": key if clip is None else clip,
        "augment": draw.as_tensor(),
    }
