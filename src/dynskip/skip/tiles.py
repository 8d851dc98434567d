"""Tile masks: which tiles of a feature map a skipping unit executes.

A tile mask is a per-sample tensor ``(B, Ht, Wt)`` on a grid of ``tile x tile`` pixel tiles laid from
the top-left corner, ``Ht = ceil(H / tile)``, ``Wt = ceil(W / tile)``: the last tile row and column
may be partial (odd sizes work). Hard masks are ``bool``; soft (float, in ``[0, 1]``) masks are
accepted wherever a differentiable answer makes sense (training), as noted per function.

Functions (all validate their input and name the offending value):

- :func:`tile_grid_shape` ``(h, w, tile) -> (Ht, Wt)``
- :func:`pixel_to_tile` pixel mask ``(B, H, W)``/``(B, 1, H, W)`` -> tile mask, rule ``"any"`` or
  ``"fraction"``
- :func:`tile_to_pixel` tile mask -> ``(B, 1, H, W)`` float pixel mask (soft values kept)
- :func:`dilate_tiles` grow a mask by ``radius`` tiles (8-neighbourhood)
- :func:`tile_statistics` per-tile ``mean``/``max`` of features ``(B, C, H, W) -> (B, C, Ht, Wt)``
- :func:`resize_tile_mask` between pyramid levels that keep the tile size in pixels
- :func:`active_fraction` ``(B,)`` fraction of active tiles (or of active pixels)
- :func:`random_tile_mask` exactly ``round(fraction * Ht * Wt)`` active tiles per sample (tests,
  benchmarks)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from dynskip.utils.checks import as_pixel_mask, check_choice, check_positive_int, check_size, check_tile_mask

__all__ = [
    "active_fraction",
    "check_tile_mask",
    "dilate_tiles",
    "pixel_to_tile",
    "random_tile_mask",
    "resize_tile_mask",
    "tile_grid_shape",
    "tile_statistics",
    "tile_to_pixel",
]


def tile_grid_shape(h: int, w: int, tile: int) -> tuple[int, int]:
    """Tile grid ``(ceil(h / tile), ceil(w / tile))`` covering an ``h x w`` map."""
    check_positive_int(h, "height")
    check_positive_int(w, "width")
    check_positive_int(tile, "tile")
    return math.ceil(h / tile), math.ceil(w / tile)


def pixel_to_tile(mask: Tensor, tile: int, rule: str = "any", min_fraction: float = 0.5) -> Tensor:
    """Tile mask ``(B, Ht, Wt)`` bool from a pixel mask ``(B, H, W)`` or ``(B, 1, H, W)``.

    A pixel is active when it is ``True`` (bool) or ``> 0.5`` (float). Rule ``"any"``: a tile is
    active when any of its pixels is; ``"fraction"``: when at least ``min_fraction`` of its in-image
    pixels are (a partial border tile is judged on the pixels it has).
    """
    mask = as_pixel_mask(mask)
    check_positive_int(tile, "tile")
    check_choice(rule, "rule", ("any", "fraction"))
    if not 0.0 < min_fraction <= 1.0:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}")
    active = (mask if mask.dtype == torch.bool else mask > 0.5).float()
    if rule == "any":
        return F.max_pool2d(active, tile, ceil_mode=True).squeeze(1) > 0
    # avg_pool2d with ceil_mode divides a partial window by its in-image size (padding is 0).
    share = F.avg_pool2d(active, tile, ceil_mode=True).squeeze(1)
    return share >= min_fraction - 1e-6


def tile_to_pixel(tile_mask: Tensor, tile: int, size: tuple[int, int]) -> Tensor:
    """Pixel mask ``(B, 1, H, W)`` float from a tile mask; soft values are kept (differentiable)."""
    check_tile_mask(tile_mask)
    check_positive_int(tile, "tile")
    h, w = check_size(size)
    grid = tile_grid_shape(h, w, tile)
    if tuple(tile_mask.shape[1:]) != grid:
        raise ValueError(
            f"tile_mask grid {tuple(tile_mask.shape[1:])} does not cover size {(h, w)} with tile {tile}: "
            f"expected grid {grid}"
        )
    dtype = tile_mask.dtype if tile_mask.is_floating_point() else torch.float32
    b, ht, wt = tile_mask.shape
    pixels = tile_mask.to(dtype)[:, :, None, :, None].expand(b, ht, tile, wt, tile)
    return pixels.reshape(b, 1, ht * tile, wt * tile)[:, :, :h, :w]


def _as_float(tile_mask: Tensor) -> Tensor:
    return tile_mask.to(torch.float32) if tile_mask.dtype == torch.bool else tile_mask


def dilate_tiles(tile_mask: Tensor, radius: int = 1) -> Tensor:
    """Grow active regions by ``radius`` tiles in the 8-neighbourhood (max filter; soft masks kept)."""
    check_tile_mask(tile_mask)
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 0:
        raise ValueError(f"radius must be an int >= 0, got {radius!r}")
    if radius == 0:
        return tile_mask.clone()
    values = _as_float(tile_mask).unsqueeze(1)
    grown = F.max_pool2d(values, 2 * radius + 1, stride=1, padding=radius).squeeze(1)
    return grown > 0 if tile_mask.dtype == torch.bool else grown


def tile_statistics(x: Tensor, tile: int, reduce: str = "mean") -> Tensor:
    """Per-tile ``mean`` or ``max`` of ``x`` ``(B, C, H, W) -> (B, C, Ht, Wt)`` over in-image pixels.

    Differentiable; a partial border tile is averaged over the pixels it has.
    """
    if not isinstance(x, Tensor) or x.dim() != 4:
        raise ValueError(f"x must be a (B, C, H, W) tensor, got {getattr(x, 'shape', type(x).__name__)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be floating, got dtype {x.dtype}")
    check_positive_int(tile, "tile")
    if reduce == "mean":
        return F.avg_pool2d(x, tile, ceil_mode=True)
    if reduce == "max":
        return F.max_pool2d(x, tile, ceil_mode=True)
    raise ValueError(f"reduce must be 'mean' or 'max', got {reduce!r}")


def resize_tile_mask(tile_mask: Tensor, factor: float, grid: tuple[int, int] | None = None) -> Tensor:
    """Move a tile mask between pyramid levels that keep the tile size in pixels.

    ``factor`` 2, 4, ... (to a finer level): each tile becomes ``factor x factor`` tiles (nearest).
    ``factor`` 1/2, 1/4, ... (to a coarser level): a coarse tile is active when any of the tiles it
    covers is (max, so nothing active is lost; soft masks keep the maximum). ``grid`` crops the
    result to the target level's grid ``(Ht, Wt)``, needed when the finer map has an odd size.
    """
    check_tile_mask(tile_mask)
    if isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 0:
        raise ValueError(f"factor must be a positive number, got {factor!r}")
    scale = round(factor) if factor >= 1 else round(1 / factor)
    if abs((scale if factor >= 1 else 1 / scale) - factor) > 1e-9:
        raise ValueError(f"factor must be an integer or the inverse of one (2, 4, 0.5, ...), got {factor}")
    b, ht, wt = tile_mask.shape
    if factor >= 1:
        out = tile_mask[:, :, None, :, None].expand(b, ht, scale, wt, scale)
        out = out.reshape(b, ht * scale, wt * scale)
    else:
        pooled = F.max_pool2d(_as_float(tile_mask).unsqueeze(1), scale, ceil_mode=True).squeeze(1)
        out = pooled > 0 if tile_mask.dtype == torch.bool else pooled
    if grid is None:
        return out
    gh, gw = check_size(grid)
    lo = 1 if factor < 1 else scale  # a valid target grid loses less than one source tile's worth
    if not (out.shape[1] - lo < gh <= out.shape[1] and out.shape[2] - lo < gw <= out.shape[2]):
        raise ValueError(
            f"grid {(gh, gw)} does not match a x{factor} resize of grid {(ht, wt)} "
            f"(got {tuple(out.shape[1:])})"
        )
    return out[:, :gh, :gw].contiguous()


def active_fraction(
    tile_mask: Tensor, tile: int | None = None, size: tuple[int, int] | None = None
) -> Tensor:
    """Per-sample active share ``(B,)``: of tiles, or, given ``tile`` and ``size``, of in-image pixels.

    Soft masks give their mean (differentiable).
    """
    check_tile_mask(tile_mask)
    if (tile is None) != (size is None):
        raise ValueError(
            f"give both tile and size for a pixel-weighted fraction, or neither (tile={tile}, size={size})"
        )
    values = _as_float(tile_mask)
    if tile is None:
        return values.flatten(1).mean(1)
    return tile_to_pixel(values, tile, size).flatten(1).mean(1)


def random_tile_mask(
    batch: int,
    grid: tuple[int, int],
    fraction: float,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Bool mask ``(batch, Ht, Wt)``, exactly ``round(fraction * Ht * Wt)`` random active tiles per sample."""
    check_positive_int(batch, "batch")
    ht, wt = check_size(grid)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    count = round(fraction * ht * wt)
    scores = torch.rand(batch, ht * wt, generator=generator)
    mask = torch.zeros(batch, ht * wt, dtype=torch.bool)
    if count:
        mask.scatter_(1, scores.topk(count, dim=1).indices, True)
    return mask.view(batch, ht, wt).to(device)
