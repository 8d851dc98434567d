"""Pixel conversions the restoration benchmarks apply before scoring: uint8 rounding and studio-range Y."""

from __future__ import annotations

import torch
from torch import Tensor

from dynskip.utils.checks import check_float_image

# BT.601 studio-range luma for RGB in [0, 1], out of 255 (MATLAB rgb2ycbcr, BasicSR's bgr2ycbcr).
# Not kornia.color.rgb_to_ycbcr: that is the full-range JPEG variant (Y in [0, 1], no 16 offset).
_Y_WEIGHTS = (65.481, 128.553, 24.966)
_Y_OFFSET = 16.0


def rgb_to_y(image: Tensor) -> Tensor:
    """BT.601 studio-range luma of an RGB image in ``[0, 1]``, returned on the same ``[0, 1]`` scale.

    ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255``, so white maps to 235/255 and black to 16/255.
    Y is not rounded, as in BasicSR's ``to_y_channel`` on rounded RGB.

    Args:
        image: ``(..., 3, H, W)`` RGB in ``[0, 1]``.
    Returns:
        ``(..., 1, H, W)``.
    """
    check_float_image(image, "rgb_to_y")
    if image.dim() < 3 or image.shape[-3] != 3:
        raise ValueError(f"rgb_to_y expects an RGB image of shape (..., 3, H, W), got {tuple(image.shape)}")
    weights = torch.tensor(_Y_WEIGHTS, dtype=image.dtype, device=image.device).view(3, 1, 1)
    return ((image * weights).sum(dim=-3, keepdim=True) + _Y_OFFSET) / 255.0


def uint8_levels(image: Tensor) -> Tensor:
    """``round(255 * clamp(x, 0, 1))``: the uint8 level of every value, as a float tensor.

    Computed at float32 or wider (half types cannot hold every level exactly); the multiply happens in
    that precision as in the reference scripts (float32 there), and ``torch.round`` rounds halves to even
    as numpy does.
    """
    check_float_image(image, "uint8_levels")
    wide = image.to(torch.promote_types(image.dtype, torch.float32))
    return (wide.clamp(0.0, 1.0) * 255.0).round()


def quantize_uint8(image: Tensor) -> Tensor:
    """Snap ``[0, 1]`` values to the 256 uint8 levels: ``round(255 * clamp(x, 0, 1)) / 255``, same dtype."""
    check_float_image(image, "quantize_uint8")
    return (uint8_levels(image) / 255.0).to(image.dtype)
