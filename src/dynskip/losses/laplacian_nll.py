"""UGSP's uncertainty loss: Laplacian negative log-likelihood with a predicted per-pixel log-scale."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dynskip.utils.checks import as_image_batch, check_same_shape


def laplacian_nll(pred: Tensor, target: Tensor, log_scale: Tensor) -> Tensor:
    """``mean(exp(-U) * |target - pred| + 2 U)`` over batch, channels and pixels (UGSP's ``L_su``).

    ``U = log_scale`` is one value per pixel, ``(B, 1, H, W)``, broadcast over the channels (both terms,
    so the result is the per-pixel ``exp(-U) * mean_c |target - pred| + 2U`` averaged over pixels);
    a per-channel ``(B, C, H, W)`` is accepted too. For a fixed error ``e`` the minimum is at
    ``U = log(e / 2)``.

    Args:
        pred: ``(B, C, H, W)`` or ``(B, T, C, H, W)``.
        target: same shape as ``pred``.
        log_scale: ``(B, 1, H, W)`` / ``(B, T, 1, H, W)``, or ``pred``'s shape.
    Returns:
        scalar.
    """
    caller = "laplacian_nll"
    pred = as_image_batch(pred, "pred", caller)
    target = as_image_batch(target, "target", caller)
    log_scale = as_image_batch(log_scale, "log_scale", caller)
    check_same_shape(caller, pred=pred, target=target)
    n, c, h, w = pred.shape
    if log_scale.shape not in ((n, 1, h, w), (n, c, h, w)):
        raise ValueError(
            f"{caller}: log_scale must have one channel or pred's channels, i.e. {(n, 1, h, w)} or "
            f"{(n, c, h, w)} (time folded), got {tuple(log_scale.shape)} for pred {tuple(pred.shape)}"
        )
    per_element = torch.exp(-log_scale) * (target - pred).abs() + 2.0 * log_scale
    return per_element.mean()


class LaplacianNLLLoss(nn.Module):
    """Module form of :func:`laplacian_nll`."""

    def forward(self, pred: Tensor, target: Tensor, log_scale: Tensor) -> Tensor:
        return laplacian_nll(pred, target, log_scale)
