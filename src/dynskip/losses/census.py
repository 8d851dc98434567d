"""Ternary census ("geometry") loss of RIFE / IFRNet / UGSP on images or feature maps."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from dynskip.utils.checks import as_image_batch, check_same_shape

CHANNEL_MODES = ("mean", "per_channel")


def _census_transform(x: Tensor, patch_size: int) -> Tensor:
    """Soft ternary signature ``d / sqrt(0.81 + d^2)`` of ``d = neighbour - centre`` over a square patch.

    ``(N, C, H, W) -> (N, C * patch_size**2, H, W)``; zero padding as in the reference implementations.
    """
    n, c, h, w = x.shape
    neighbours = F.unfold(x, patch_size, padding=patch_size // 2).view(n, c, patch_size**2, h, w)
    offsets = neighbours - x.unsqueeze(2)
    return (offsets / (0.81 + offsets.square()).sqrt()).view(n, -1, h, w)


def ternary_census_loss(
    pred: Tensor, target: Tensor, patch_size: int = 7, channel_mode: str = "mean"
) -> Tensor:
    """Mean over pixels of the soft Hamming distance between census signatures of ``pred`` and ``target``.

    Per pixel, ``dist = mean_k (s_k^2 / (0.1 + s_k^2))`` with ``s = census(pred) - census(target)`` over
    the ``patch_size**2`` offsets (the centre included); a border of ``patch_size // 2`` pixels is zeroed,
    but still counts in the mean, as in the references.

    Channel handling:
        * ``"mean"``: channels are averaged into one map first (IFRNet's / UGSP's ``Ternary`` on images,
          7x7). RIFE's own ``Ternary`` uses grey weights 0.2989/0.5870/0.1140 instead: pass that grey image.
        * ``"per_channel"``: every channel gets its own signature and the distance is averaged over
          channels and offsets (IFRNet's / UGSP's ``Geometry`` on feature maps; UGSP uses ``patch_size=3``
          between pruned and non-pruned decoder features).

    Unlike IFRNet's ``Ternary``, ``target`` is not detached here: detach it at the call site where it is a
    teacher (e.g. UGSP's non-pruned features).

    Args:
        pred: ``(B, C, H, W)`` or ``(B, T, C, H, W)`` (time folded into the batch).
        target: same shape as ``pred``.
        patch_size: odd patch width; H and W must be at least this.
        channel_mode: ``"mean"`` or ``"per_channel"``.
    Returns:
        scalar.
    """
    caller = "ternary_census_loss"
    pred = as_image_batch(pred, "pred", caller)
    target = as_image_batch(target, "target", caller)
    check_same_shape(caller, pred=pred, target=target)
    is_int = isinstance(patch_size, int) and not isinstance(patch_size, bool)
    if not is_int or patch_size < 1 or patch_size % 2 == 0:
        raise ValueError(f"{caller}: patch_size must be an odd int >= 1, got {patch_size!r}")
    if channel_mode not in CHANNEL_MODES:
        raise ValueError(f"{caller}: channel_mode must be one of {CHANNEL_MODES}, got {channel_mode!r}")
    if min(pred.shape[-2:]) < patch_size:
        raise ValueError(f"{caller}: H and W must be >= patch_size={patch_size}, got {tuple(pred.shape)}")
    if channel_mode == "mean":
        pred, target = pred.mean(dim=1, keepdim=True), target.mean(dim=1, keepdim=True)
    diff = _census_transform(pred, patch_size) - _census_transform(target, patch_size)
    dist = (diff.square() / (0.1 + diff.square())).mean(dim=1)
    border = patch_size // 2
    h, w = dist.shape[-2:]
    # Summing the interior and dividing by the full pixel count = the references' (dist * valid_mask).mean().
    return dist[:, border : h - border, border : w - border].sum() / dist.numel()


class TernaryCensusLoss(nn.Module):
    """Module form of :func:`ternary_census_loss`."""

    def __init__(self, patch_size: int = 7, channel_mode: str = "mean") -> None:
        super().__init__()
        self.patch_size = patch_size
        self.channel_mode = channel_mode

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return ternary_census_loss(pred, target, patch_size=self.patch_size, channel_mode=self.channel_mode)
