"""Clip-averaged PSNR and SSIM metrics for VFI and VSR evaluation."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from dynskip.metrics.clip_average import ClipAveragedMetric
from dynskip.metrics.psnr import psnr
from dynskip.metrics.ssim import SSIM_PROTOCOLS, ssim


class VideoPSNR(ClipAveragedMetric):
    """PSNR (dB) per frame via :func:`~dynskip.metrics.psnr`, mean over frames of a clip, then over clips.

    Args:
        channel: ``"rgb"`` (REDS4, VFI benchmarks) or ``"y"`` (Vid4, Vimeo-90K-T, UDM10).
        crop_border: pixels dropped on every side before scoring.
        round_uint8: quantise predictions and targets to uint8 levels first.
        kwargs: passed to ``torchmetrics.Metric`` (``dist_sync_on_step``, ``sync_on_compute``, ...).
    """

    def score_frames(self, preds: Tensor, target: Tensor) -> Tensor:
        return psnr(
            preds, target, channel=self.channel, crop_border=self.crop_border, round_uint8=self.round_uint8
        )


class VideoSSIM(ClipAveragedMetric):
    """SSIM per frame via :func:`~dynskip.metrics.ssim`, mean over frames of a clip, then over clips.

    Same arguments as :class:`VideoPSNR`, plus ``protocol``: ``"basicsr"`` (VSR) or ``"rife"`` (the VFI
    benchmarks' RGB-volume SSIM; see :mod:`dynskip.metrics.ssim`).
    """

    def __init__(self, *args: Any, protocol: str = "basicsr", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if protocol not in SSIM_PROTOCOLS:
            raise ValueError(f"VideoSSIM: protocol must be one of {SSIM_PROTOCOLS}, got {protocol!r}")
        if protocol == "rife" and self.channel != "rgb":
            raise ValueError(
                f"VideoSSIM: protocol 'rife' scores the RGB volume, got channel={self.channel!r}"
            )
        self.protocol = protocol

    def score_frames(self, preds: Tensor, target: Tensor) -> Tensor:
        return ssim(
            preds,
            target,
            channel=self.channel,
            crop_border=self.crop_border,
            round_uint8=self.round_uint8,
            protocol=self.protocol,
        )
