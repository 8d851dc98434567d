"""Shared preprocessing of (prediction, target) frame pairs for the image metrics (checked first)."""

from __future__ import annotations

from torch import Tensor

from dynskip.metrics.color import rgb_to_y, uint8_levels
from dynskip.utils.checks import check_frame_pair, check_scoring_options


def prepare_frame_pair(
    pred: Tensor, target: Tensor, *, channel: str, crop_border: int, round_uint8: bool, caller: str
) -> tuple[Tensor, Tensor]:
    """Validate, crop, quantise and convert a pair of ``(..., 3, H, W)`` frames, returned in float64.

    Order as in BasicSR: uint8 rounding of both images, border crop, then Y conversion (pointwise, so the
    last two commute). float64 so that PSNR/SSIM agree with the numpy references to many decimals.
    """
    check_frame_pair(pred, target, caller)
    check_scoring_options(channel, crop_border, caller)
    height, width = pred.shape[-2:]
    if 2 * crop_border >= min(height, width):
        raise ValueError(
            f"{caller}: crop_border={crop_border} removes the whole frame of shape {tuple(pred.shape)}"
        )
    prepared = []
    for image in (pred, target):
        image = image.detach()
        # Integer levels convert to float64 exactly, so k / 255 is then as exact as float64 allows.
        image = uint8_levels(image).double() / 255.0 if round_uint8 else image.double()
        if crop_border:
            image = image[..., crop_border : height - crop_border, crop_border : width - crop_border]
        if channel == "y":
            image = rgb_to_y(image)
        prepared.append(image)
    return prepared[0], prepared[1]
