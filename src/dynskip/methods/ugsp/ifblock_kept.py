"""An IFBlock computed around its kept tiles only: ``conv0`` and ``lastconv`` on windows (inference).

``ugsp-rife`` prunes an IFBlock's ``convblock`` and zeroes the block's residuals outside the kept tiles.
Its ``conv0`` (two stride-2 3x3 convs) and ``lastconv`` (a stride-2 4x4 transposed conv, then a bilinear
resize) would still run on the whole frame, though only the kept tiles' surroundings are ever read.
When few tiles are kept, this module computes them there only:

- :func:`encode_kept`: ``conv0`` on windows of its input. Each window yields a tile's ``T x T``
  features plus a ring of :data:`FEATURE_RING` features, which is what the chain's first conv and
  ``lastconv`` read. Positions outside the frame are zeroed after each conv, as the dense convs' zero
  padding has them. Elsewhere the features are zero.
- :func:`decode_kept`: ``lastconv`` and the resize on feature windows around each kept tile; the
  tile's pixels are cut out and scattered into zero residuals.

Window geometry at tile ``i`` (``T`` features, ``R`` = ring): features ``[T i - R, T i + T + R)``;
the stride-2 conv before them reads ``[2 (T i - R) - 1, ...)``, ``2 (T + 2R) + 1`` positions, and so on
down to the input. The convs run unpadded on the windows, so every kept value equals the dense one.
The model's own execution (dense ``conv0``, masked ``convblock``, dense ``lastconv`` times the mask)
is reproduced on the kept tiles up to float rounding (tested).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from dynskip.archs.rife_arch import IFBlock, resize_bilinear

__all__ = [
    "FEATURE_RING",
    "KEPT_IO_MAX_FRACTION",
    "decode_kept",
    "decode_kept_macs",
    "encode_kept",
    "encode_kept_macs",
    "gather_windows",
]

FEATURE_RING = 2  # lastconv reads 2 features before a tile (and 1 after); the chain's conv reads 1
# Windows cost ((2(T+2R)+1) / 2T)^2 ~ 2.6x a tile's area in conv0's first layer (T = 8), so the
# window path pays only below ~0.38 of the tiles; 0.3 leaves room for the gathers.
KEPT_IO_MAX_FRACTION = 0.3


def _positions(start: Tensor, size: int) -> Tensor:
    """``(n, size)``: ``start[:, None] + arange(size)``."""
    return start[:, None] + torch.arange(size, device=start.device)


def _inside(rows: Tensor, cols: Tensor, hw: tuple[int, int]) -> Tensor:
    """``(n, 1, h, w)`` bool: window positions inside an ``hw`` frame."""
    r = (rows >= 0) & (rows < hw[0])
    c = (cols >= 0) & (cols < hw[1])
    return (r[:, :, None] & c[:, None, :])[:, None]


def gather_windows(x: Tensor, sample: Tensor, top: Tensor, left: Tensor, size: int) -> Tensor:
    """``(n, C, size, size)`` windows of ``x`` ``(B, C, H, W)`` at ``(sample, top, left)``; zero outside.

    ``top`` / ``left`` may be negative or reach past the frame (that part reads zeros).
    """
    height, width = x.shape[-2:]
    rows, cols = _positions(top, size), _positions(left, size)
    windows = x[
        sample[:, None, None], :, rows.clamp(0, height - 1)[:, :, None], cols.clamp(0, width - 1)[:, None, :]
    ].permute(0, 3, 1, 2)
    return windows * _inside(rows, cols, (height, width))


def _tile_size(h: int, w: int, grid: tuple[int, int], what: str) -> int:
    """Tile edge of a ``grid`` over an ``h x w`` map; raise unless it tiles the map exactly, square."""
    if h % grid[0] or w % grid[1] or h // grid[0] != w // grid[1]:
        raise ValueError(f"{what} {h}x{w} is not covered by square tiles of the grid {tuple(grid)}")
    return h // grid[0]


def _kept_tiles(mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(sample, row, col)`` of the kept tiles of a hard ``(B, 1, gh, gw)`` mask."""
    sample, _, row, col = (mask > 0.5).nonzero(as_tuple=True)
    return sample, row, col


def _conv_prelu(layer: torch.nn.Sequential, x: Tensor) -> Tensor:
    conv, act = layer[0], layer[1]
    return act(F.conv2d(x, conv.weight, conv.bias, stride=conv.stride, padding=0))


def encode_kept_macs(block: IFBlock, tiles: int, tile: int) -> float:
    """MACs of :func:`encode_kept` for ``tiles`` windows of ``tile x tile`` features."""
    size2 = tile + 2 * FEATURE_RING
    conv1, conv2 = block.conv0[0][0], block.conv0[1][0]
    per_window = (2 * size2 + 1) ** 2 * conv1.in_channels * conv1.out_channels * 9
    per_window += size2**2 * conv2.in_channels * conv2.out_channels * 9
    return float(tiles * per_window)


def decode_kept_macs(block: IFBlock, tiles: int, tile: int) -> float:
    """MACs of :func:`decode_kept` for ``tiles`` windows of ``tile x tile`` features."""
    conv = block.lastconv
    return float(tiles * (tile + 2 * FEATURE_RING) ** 2 * conv.in_channels * conv.out_channels * 16)


def encode_kept(block: IFBlock, x: Tensor, tiles: Tensor) -> tuple[Tensor, float]:
    """``conv0`` features ``(B, c, H/4, W/4)`` of ``x`` ``(B, C, H, W)`` around the kept ``tiles``.

    ``tiles`` ``(B, 1, gh, gw)`` (hard) lies on the feature map's tile grid. The result equals
    ``block.conv0(x)`` on every kept tile plus :data:`FEATURE_RING` features around it, and is zero
    elsewhere. Also returns the MACs run.
    """
    height, width = x.shape[-2:]
    if height % 4 or width % 4:
        raise ValueError(f"encode_kept needs an input size divisible by 4, got {height}x{width}")
    h, w = height // 4, width // 4
    tile, ring = _tile_size(h, w, tuple(tiles.shape[-2:]), "conv0 output"), FEATURE_RING
    sample, row, col = _kept_tiles(tiles)
    size2 = tile + 2 * ring  # conv0 output window (features)
    size1, size0 = 2 * size2 + 1, 4 * size2 + 3  # the stride-2 convs' input windows
    top2, left2 = row * tile - ring, col * tile - ring
    top1, left1 = 2 * top2 - 1, 2 * left2 - 1
    first, second = block.conv0[0], block.conv0[1]
    y = gather_windows(x, sample, 2 * top1 - 1, 2 * left1 - 1, size0)
    y = _conv_prelu(first, y)
    y = y * _inside(_positions(top1, size1), _positions(left1, size1), (height // 2, width // 2))
    y = _conv_prelu(second, y)
    rows, cols = _positions(top2, size2), _positions(left2, size2)
    y = y * _inside(rows, cols, (h, w))
    padded = y.new_zeros((x.shape[0], y.shape[1], h + 2 * ring, w + 2 * ring))
    # Windows of neighbouring tiles overlap on their rings and hold the same values there.
    padded[sample[:, None, None], :, (rows + ring)[:, :, None], (cols + ring)[:, None, :]] = y.permute(
        0, 2, 3, 1
    )
    macs = encode_kept_macs(block, sample.numel(), tile)
    return padded[:, :, ring : ring + h, ring : ring + w], macs


def decode_kept(block: IFBlock, feat: Tensor, mask: Tensor, scale: float) -> tuple[Tensor, Tensor, float]:
    """``block.decode`` on the kept tiles of ``mask`` ``(B, 1, gh, gw)``, zero elsewhere.

    ``feat`` ``(B, c, h, w)`` must equal the block's features on each kept tile plus
    :data:`FEATURE_RING` features around it. Returns ``(flow (B, 4, H, W), mask logit (B, 1, H, W),
    MACs run)`` at ``H = 4 scale h``.
    """
    h, w = feat.shape[-2:]
    gh, gw = mask.shape[-2:]
    tile, ring = _tile_size(h, w, (gh, gw), "feature map"), FEATURE_RING
    up = round(2 * scale)  # lastconv doubles, the resize multiplies by 2 scale
    sample, row, col = _kept_tiles(mask)
    size = tile + 2 * ring
    windows = gather_windows(feat, sample, row * tile - ring, col * tile - ring, size)
    conv = block.lastconv
    y = F.conv_transpose2d(windows, conv.weight, conv.bias, stride=2, padding=1)
    # The dense resize clamps at the frame's edges: repeat the edge values where a window overhangs.
    top, left = 2 * (row * tile - ring), 2 * (col * tile - ring)
    rows, cols = _positions(top, 2 * size), _positions(left, 2 * size)
    rows = rows.clamp(0, 2 * h - 1) - top[:, None]
    cols = cols.clamp(0, 2 * w - 1) - left[:, None]
    index = torch.arange(y.shape[0], device=y.device)[:, None, None]
    y = y[index, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    y = resize_bilinear(y, 2 * scale)
    px, crop = 2 * tile * up, 2 * ring * up
    y = y[:, :, crop : crop + px, crop : crop + px]
    out = feat.new_zeros((feat.shape[0], 5, gh, px, gw, px))
    out.permute(0, 2, 4, 1, 3, 5)[sample, row, col] = y
    out = out.view(feat.shape[0], 5, gh * px, gw * px)
    return out[:, :4] * (2 * scale), out[:, 4:5], decode_kept_macs(block, sample.numel(), tile)
