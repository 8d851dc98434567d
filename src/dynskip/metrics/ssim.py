"""Per-frame SSIM, two protocols (Wang et al., Gaussian window 11, sigma 1.5):

- ``"basicsr"``: BasicSR's ``calculate_ssim`` (VSR papers): a 2-D window per channel, valid region only.
- ``"rife"``: the ``ssim_matlab`` of RIFE's benchmark scripts, which the VFI papers built on it (RIFE,
  UGSP) report: the RGB frame is one 3 x H x W volume under an 11x11x11 window, replicate-padded.
  The two differ by several hundredths on the same frames, so published VFI SSIM needs this one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.metrics import ssim as kornia_ssim_map
from torch import Tensor

from dynskip.metrics._prepare import prepare_frame_pair

WINDOW_SIZE = 11  # kornia fixes sigma = 1.5 for this window


SSIM_PROTOCOLS = ("basicsr", "rife")


def ssim(
    pred: Tensor,
    target: Tensor,
    *,
    channel: str = "rgb",
    crop_border: int = 0,
    round_uint8: bool = True,
    protocol: str = "basicsr",
) -> Tensor:
    """SSIM of every frame on the ``[0, 255]`` scale: ``C1 = (0.01 * 255)^2``, ``C2 = (0.03 * 255)^2``.

    The SSIM map is taken over the valid region only (no padding: 5 pixels lost per side), averaged over
    pixels and then over channels (RGB) - BasicSR's ``calculate_ssim``. kornia's map with
    ``padding="valid"`` and ``eps=0`` is exactly that map.

    Args:
        pred: ``(..., 3, H, W)`` RGB in ``[0, 1]``; after ``crop_border`` H and W must be at least 11.
        target: same shape as ``pred``.
        channel: ``"rgb"`` or ``"y"`` (BT.601 studio-range luma).
        crop_border: pixels dropped on every side before scoring.
        round_uint8: quantise both images to uint8 levels first.
        protocol: ``"basicsr"`` or ``"rife"`` (module doc); ``"rife"`` needs ``channel="rgb"``.
    Returns:
        float64 tensor of shape ``pred.shape[:-3]``.
    """
    if protocol not in SSIM_PROTOCOLS:
        raise ValueError(f"ssim: protocol must be one of {SSIM_PROTOCOLS}, got {protocol!r}")
    if protocol == "rife" and channel != "rgb":
        raise ValueError(f"ssim: protocol 'rife' scores the RGB volume, got channel={channel!r}")
    pred, target = prepare_frame_pair(
        pred, target, channel=channel, crop_border=crop_border, round_uint8=round_uint8, caller="ssim"
    )
    if min(pred.shape[-2:]) < WINDOW_SIZE:
        raise ValueError(
            f"ssim: frames must be at least {WINDOW_SIZE}x{WINDOW_SIZE} after crop_border={crop_border}, "
            f"got {tuple(pred.shape[-2:])}"
        )
    leading, frame_shape = pred.shape[:-3], pred.shape[-3:]
    if protocol == "rife":
        return _ssim_volume(pred.reshape(-1, *frame_shape), target.reshape(-1, *frame_shape)).reshape(leading)
    ssim_map = kornia_ssim_map(
        (pred * 255.0).reshape(-1, *frame_shape),
        (target * 255.0).reshape(-1, *frame_shape),
        WINDOW_SIZE,
        max_val=255.0,
        eps=0.0,
        padding="valid",
    )
    # Every channel has the same pixel count, so the mean over (C, H, W) is the mean of channel means.
    return ssim_map.mean(dim=(-3, -2, -1)).reshape(leading)


def _gaussian_window(
    size: int = WINDOW_SIZE, sigma: float = 1.5, dtype: torch.dtype = torch.float64
) -> Tensor:
    x = torch.arange(size, dtype=dtype) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _ssim_volume(pred: Tensor, target: Tensor) -> Tensor:
    """``(N, 3, H, W)`` in [0, 1] -> ``(N,)``: SSIM over each frame as a 3 x H x W volume (L = 1),
    11x11x11 Gaussian, replicate padding of 5 on every axis (channels included), mean of the map."""
    g = _gaussian_window()
    # The 11x11x11 window is separable: three 1-D passes over the padded volume, 33 taps instead of 1331.
    axes = (g.view(1, 1, -1, 1, 1), g.view(1, 1, 1, -1, 1), g.view(1, 1, 1, 1, -1))

    def blur(x: Tensor) -> Tensor:
        x = F.pad(x, (5,) * 6, mode="replicate")
        for kernel in axes:
            x = F.conv3d(x, kernel)
        return x

    x, y = pred.double()[:, None], target.double()[:, None]  # (N, 1, 3, H, W): channels as depth
    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y, cov = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2, blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.mean(dim=(1, 2, 3, 4))
