"""Per-frame PSNR under the restoration benchmarks' protocol (uint8 rounding, optional Y channel and crop)."""

from __future__ import annotations

import torch
from torch import Tensor

from dynskip.metrics._prepare import prepare_frame_pair


def psnr(
    pred: Tensor, target: Tensor, *, channel: str = "rgb", crop_border: int = 0, round_uint8: bool = True
) -> Tensor:
    """PSNR in dB of every frame, with data range 1 (i.e. 255 on the uint8 scale).

    One value per frame, never pooled over a batch (kornia's ``psnr`` pools the MSE over the batch, and
    torchmetrics' does too unless told ``dim``; the one-line formula here needs neither). An exact match
    (MSE 0) gives ``inf``, as BasicSR, mmagic and torchmetrics do; averages that include it are ``inf``.

    Args:
        pred: ``(..., 3, H, W)`` RGB in ``[0, 1]``.
        target: same shape as ``pred``.
        channel: ``"rgb"`` (MSE over the three channels) or ``"y"`` (BT.601 studio-range luma).
        crop_border: pixels dropped on every side before scoring.
        round_uint8: quantise both images to uint8 levels first (RIFE/UGSP/BasicSR protocol).
    Returns:
        float64 tensor of shape ``pred.shape[:-3]``.
    """
    pred, target = prepare_frame_pair(
        pred, target, channel=channel, crop_border=crop_border, round_uint8=round_uint8, caller="psnr"
    )
    mse = (pred - target).square().mean(dim=(-3, -2, -1))
    return -10.0 * torch.log10(mse)
