"""RIFE's Laplacian-pyramid L1 loss (``LapLoss``), used by RIFE and UGSP for the interpolated frame."""

from __future__ import annotations

import torch
from kornia.filters import filter2d
from torch import Tensor, nn

from dynskip.utils.checks import as_image_batch, check_same_shape

# Binomial 5x5 kernel [1, 4, 6, 4, 1]^T [1, 4, 6, 4, 1] / 256.
_BINOMIAL_5 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])


def _blur(x: Tensor, gain: float = 1.0) -> Tensor:
    """Depthwise binomial blur with reflect padding (RIFE's ``conv_gauss``), scaled by ``gain``."""
    taps = _BINOMIAL_5.to(device=x.device, dtype=x.dtype)
    kernel = torch.outer(taps, taps).div(256.0 / gain).unsqueeze(0)
    return filter2d(x, kernel, border_type="reflect")


def _upsample_zero_insert(x: Tensor) -> Tensor:
    # Place x on the even pixels of a 2x grid, zeros elsewhere; the blur with gain 4 interpolates.
    up = x.new_zeros(*x.shape[:-2], 2 * x.shape[-2], 2 * x.shape[-1])
    up[..., ::2, ::2] = x
    return up


def _check_pyramid_size(x: Tensor, levels: int, caller: str) -> None:
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
        raise ValueError(f"{caller}: levels must be an int >= 1, got {levels!r}")
    multiple, minimum = 2**levels, 2 ** (levels + 1)
    height, width = x.shape[-2:]
    if height % multiple or width % multiple or min(height, width) < minimum:
        raise ValueError(
            f"{caller}: levels={levels} needs H and W divisible by {multiple} and at least {minimum} "
            f"(every level is halved exactly and reflect-padded by 2), got {tuple(x.shape)}"
        )


def laplacian_pyramid(image: Tensor, levels: int = 5) -> list[Tensor]:
    """Band-pass levels ``x_l - up(down(blur(x_l)))``, finest first, as RIFE's ``laplacian_pyramid``.

    ``down`` keeps every second pixel; ``up`` inserts zeros and blurs with 4x the kernel. The residual
    low-pass image is not part of the pyramid (RIFE drops it too). Not kornia's
    ``build_laplacian_pyramid``: its ``pyrdown`` / ``pyrup`` resample bilinearly, so values differ.

    Args:
        image: ``(N, C, H, W)``; H and W divisible by ``2**levels`` and at least ``2**(levels + 1)``.
    Returns:
        ``levels`` tensors, level ``l`` of shape ``(N, C, H / 2**l, W / 2**l)``.
    """
    if not isinstance(image, Tensor) or image.dim() != 4:
        shape = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise ValueError(f"laplacian_pyramid: image must be (N, C, H, W), got {shape}")
    _check_pyramid_size(image, levels, "laplacian_pyramid")
    pyramid = []
    current = image
    for _ in range(levels):
        down = _blur(current)[..., ::2, ::2]
        pyramid.append(current - _blur(_upsample_zero_insert(down), gain=4.0))
        current = down
    return pyramid


def laplacian_pyramid_l1(pred: Tensor, target: Tensor, levels: int = 5) -> Tensor:
    """Sum over pyramid levels of the mean absolute difference of :func:`laplacian_pyramid` levels.

    Args:
        pred: ``(B, C, H, W)`` or ``(B, T, C, H, W)`` (time folded into the batch); any ``C``.
        target: same shape as ``pred``.
        levels: pyramid depth (RIFE/UGSP: 5, which needs H, W divisible by 32 and >= 64).
    Returns:
        scalar.
    """
    caller = "laplacian_pyramid_l1"
    pred = as_image_batch(pred, "pred", caller)
    target = as_image_batch(target, "target", caller)
    check_same_shape(caller, pred=pred, target=target)
    _check_pyramid_size(pred, levels, caller)
    # One pyramid pass over both images: the operators are linear, so pyr(pred) - pyr(target) = pyr(diff).
    return sum(level.abs().mean() for level in laplacian_pyramid(pred - target, levels))


class LaplacianPyramidL1Loss(nn.Module):
    """Module form of :func:`laplacian_pyramid_l1` (RIFE's ``LapLoss``)."""

    def __init__(self, levels: int = 5) -> None:
        super().__init__()
        self.levels = levels

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return laplacian_pyramid_l1(pred, target, levels=self.levels)
