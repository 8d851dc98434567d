"""Scene cuts between consecutive frames, as Practical-RIFE detects them: SSIM of 32x32 thumbnails.

Interpolating across a cut blends two unrelated shots; ``interpolate`` repeats the earlier frame
there instead (Practical-RIFE's ``inference_video.py`` does the same below SSIM 0.2).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from dynskip.metrics.ssim import ssim

DEFAULT_SCENE_THRESHOLD = 0.2  # Practical-RIFE's
THUMBNAIL = (32, 32)


def thumbnail_ssim(frame0: Tensor, frame1: Tensor) -> float:
    """SSIM (RIFE's ``ssim_matlab``) of ``(1, 3, H, W)`` frames in [0, 1] resized to 32x32."""
    small0 = F.interpolate(frame0.float(), THUMBNAIL, mode="bilinear", align_corners=False)
    small1 = F.interpolate(frame1.float(), THUMBNAIL, mode="bilinear", align_corners=False)
    return float(ssim(small0, small1, protocol="rife", round_uint8=False).mean())


def is_scene_cut(frame0: Tensor, frame1: Tensor, threshold: float = DEFAULT_SCENE_THRESHOLD) -> bool:
    """Whether ``frame1`` starts a new shot: thumbnail SSIM below ``threshold`` (0 disables)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"scene-cut threshold must lie in [0, 1] (an SSIM), got {threshold}")
    return threshold > 0 and thumbnail_ssim(frame0, frame1) < threshold
