"""Backward warping by optical flow, shared by BasicVSR/SpyNet, RIFE and UGSP."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from dynskip.utils.checks import check_flow_pair

_GRID_CACHE: dict[tuple, Tensor] = {}


def _base_grid(h: int, w: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Pixel-centre coordinates ``(1, 2, h, w)``, x then y, cached per shape/device/dtype."""
    key = (h, w, device, dtype)
    grid = _GRID_CACHE.get(key)
    if grid is None:
        ys, xs = torch.meshgrid(
            torch.arange(h, device=device, dtype=dtype),
            torch.arange(w, device=device, dtype=dtype),
            indexing="ij",
        )
        grid = torch.stack((xs, ys), 0).unsqueeze(0)
        if len(_GRID_CACHE) > 64:  # bounded: shapes vary with crops
            _GRID_CACHE.clear()
        _GRID_CACHE[key] = grid
    return grid


def _normalised(coords: Tensor, h: int, w: int) -> Tensor:
    """Pixel coordinates ``(B, 2, ...)`` (x, y) -> grid_sample's ``(B, ..., 2)`` in [-1, 1], align_corners.

    ``max(..., 1)`` keeps 1-pixel-wide inputs finite.
    """
    gx = 2.0 * coords[:, 0] / max(w - 1, 1) - 1.0
    gy = 2.0 * coords[:, 1] / max(h - 1, 1) - 1.0
    return torch.stack((gx, gy), dim=-1)


def flow_warp(
    x: Tensor, flow: Tensor, padding_mode: str = "zeros", interpolation: str = "bilinear"
) -> Tensor:
    """Sample ``x`` at ``p + flow(p)`` (backward warp), ``align_corners=True`` as BasicVSR and RIFE do.

    Args:
        x: ``(B, C, H, W)`` features or image.
        flow: ``(B, 2, H, W)`` displacement in pixels, channel 0 horizontal (u), 1 vertical (v).
        padding_mode: ``"zeros"`` (BasicVSR propagation) or ``"border"`` (SpyNet inner warps, RIFE).
    Returns:
        ``(B, C, H, W)``.
    """
    check_flow_pair("flow_warp", x, flow)
    _, _, h, w = x.shape
    grid = _normalised(_base_grid(h, w, flow.device, flow.dtype) + flow, h, w)
    return F.grid_sample(x, grid, mode=interpolation, padding_mode=padding_mode, align_corners=True)


def flow_warp_at(x: Tensor, flow: Tensor, index: Tensor, padding_mode: str = "zeros") -> Tensor:
    """:func:`flow_warp` read only at some positions: ``(B, C, N)`` at flat indices ``index`` ``(N,)``.

    The same per-position arithmetic as ``flow_warp(x, flow)`` (bilinear, ``align_corners=True``), so
    the values equal its ``.flatten(2)[:, :, index]``; the cost scales with ``N``, not ``H * W``.
    Used where only a few positions need a warped value (SkipVSR's reused residuals on skipped tiles).
    """
    check_flow_pair("flow_warp_at", x, flow)
    if index.dim() != 1:
        raise ValueError(f"flow_warp_at expects a flat index (N,), got {tuple(index.shape)}")
    _, _, h, w = x.shape
    coords = _base_grid(h, w, flow.device, flow.dtype).flatten(2)[:, :, index] + flow.flatten(2)[:, :, index]
    grid = _normalised(coords, h, w)[:, None]  # (B, 1, N, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)[:, :, 0]
