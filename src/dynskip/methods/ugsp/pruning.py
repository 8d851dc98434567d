"""UGSP pruning modules shared by every backbone (``ugsp-rife`` now, the paper network ``ugsp`` later).

Backbone-agnostic pieces:

- :class:`MaskHead`: features of one level -> keep / prune logits (2 classes, UGSP's softmax form) on
  the tile grid of the next finer level.
- :class:`UncertaintyHead`: features -> per-pixel Laplacian log-scale ``U`` (phase 1 only; inference
  never runs it).
- :func:`sample_mask`: logits -> mask for an execution mode (Gumbel-softmax while training, hard
  ``p_keep >= threshold`` otherwise, ones when dense); :func:`hierarchical_mask` (a finer level may
  only run where its coarser level ran); :func:`valid_tile_mask` (tiles lying wholly in inference
  padding are switched off: their output is cropped away anyway); :func:`residual_guard_mask` (a
  test-time guard: tiles where the two warped inputs of a block still disagree stay on).
- :func:`run_pruned_chain`: a chain of ``conv3x3 + activation`` layers with masked-feature semantics
  (every layer's output is zero outside the active tiles), executed by the shared tile engine
  (:mod:`dynskip.skip.engine`): its dense emulation for training, its tile path for inference.

Masks live on a *tile grid* ``(B, 1, gh, gw)``; a level's features ``(B, C, h, w)`` need ``h, w``
multiples of the tile size. Keeping the same grid in image pixels across levels makes the hierarchy a
plain product.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynskip.skip.engine import masked_chain, masked_chain_dense
from dynskip.skip.plan import TilePlan
from dynskip.skiptrain.relax import gumbel_softmax

KEEP = 1  # index of the "keep" class of the 2-logit heads (class 0 = prune), as UGSP's argmax
_INIT_KEEP_LOGIT = 3.0  # heads start with p_keep ~ 0.998: an untrained model behaves as dense


class MaskHead(nn.Module):
    """``conv3x3(C, hidden) + PReLU + conv1x1(hidden, 2)``, logits average-pooled to a tile grid.

    Args:
        in_channels: channels of the level's features the head reads.
        hidden: width of the hidden layer (UGSP uses a single 3x3 conv; a small hidden layer is as
            cheap and lets a frozen backbone's features be read non-linearly).
    """

    def __init__(self, in_channels: int, hidden: int = 16) -> None:
        super().__init__()
        self.in_channels, self.hidden = in_channels, hidden
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, 1, 1), nn.PReLU(hidden), nn.Conv2d(hidden, 2, 1)
        )
        with torch.no_grad():
            last = self.body[2]
            last.weight.mul_(0.1)
            last.bias.copy_(torch.tensor([-_INIT_KEEP_LOGIT, _INIT_KEEP_LOGIT]) / 2)

    def logits(self, feat: Tensor, grid: tuple[int, int]) -> Tensor:
        """``feat`` ``(B, C, h, w)`` -> logits ``(B, 2, gh, gw)`` (class ``KEEP`` = run the tile); the
        :class:`~dynskip.skip.protocol.MaskPolicy` entry."""
        return F.adaptive_avg_pool2d(self.body(feat), grid)

    def forward(self, feat: Tensor, grid: tuple[int, int]) -> Tensor:
        return self.logits(feat, grid)

    def macs_per_pixel(self) -> float:
        """MACs per position of its input features."""
        return self.in_channels * self.hidden * 9 + self.hidden * 2


class UncertaintyHead(nn.Module):
    """``conv3x3(C, hidden) + PReLU + conv3x3(hidden, 1)``: log-scale ``U`` resized to ``out_hw``."""

    def __init__(self, in_channels: int, hidden: int = 32) -> None:
        super().__init__()
        self.in_channels, self.hidden = in_channels, hidden
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, 1, 1), nn.PReLU(hidden), nn.Conv2d(hidden, 1, 3, 1, 1)
        )
        with torch.no_grad():  # start at U = log(0.02): a typical RIFE L1 error on [0, 1] images
            self.body[2].bias.fill_(math.log(0.02))
            self.body[2].weight.mul_(0.1)

    def forward(self, feat: Tensor, out_hw: tuple[int, int]) -> Tensor:
        """``feat`` ``(B, C, h, w)`` -> ``U`` ``(B, 1, *out_hw)``."""
        u = self.body(feat)
        if tuple(u.shape[-2:]) != tuple(out_hw):
            u = F.interpolate(u, size=out_hw, mode="bilinear", align_corners=False)
        return u

    def macs_per_pixel(self) -> float:
        return self.in_channels * self.hidden * 9 + self.hidden * 9


def keep_probability(logits: Tensor) -> Tensor:
    """``(B, 2, gh, gw)`` logits -> ``(B, 1, gh, gw)`` probability of keeping each tile."""
    return torch.softmax(logits, dim=1)[:, KEEP : KEEP + 1]


def sample_mask(
    logits: Tensor, mode: str, temperature: float = 1.0, threshold: float = 0.5, training: bool = False
) -> Tensor:
    """Tile mask ``(B, 1, gh, gw)`` from head logits for an execution mode.

    ``train`` while ``training``: soft Gumbel-softmax sample (UGSP's relaxation, differentiable);
    ``dense``: ones; otherwise hard ``p_keep >= threshold`` (``threshold`` 0.5 is UGSP's argmax).
    """
    if mode == "dense":
        return logits.new_ones((logits.shape[0], 1, *logits.shape[-2:]))
    if mode == "train" and training:
        return gumbel_softmax(logits, tau=temperature, hard=False, dim=1)[:, KEEP : KEEP + 1]
    return (keep_probability(logits) >= threshold).to(logits.dtype)


def resize_grid(mask: Tensor, grid: tuple[int, int]) -> Tensor:
    """Nearest resize of a tile mask ``(B, 1, gh, gw)`` to ``grid`` (identity when equal)."""
    if tuple(mask.shape[-2:]) == tuple(grid):
        return mask
    return F.interpolate(mask, size=grid, mode="nearest")


def hierarchical_mask(child: Tensor, parent: Tensor | None) -> Tensor:
    """A finer level runs only where its coarser level ran: ``child * nearest(parent)``."""
    return child if parent is None else child * resize_grid(parent, tuple(child.shape[-2:]))


def expand_mask(mask: Tensor, size: tuple[int, int]) -> Tensor:
    """Tile mask ``(B, 1, gh, gw)`` -> per-position ``(B, 1, *size)`` (multiples of the grid)."""
    gh, gw = mask.shape[-2:]
    if size[0] % gh or size[1] % gw:
        raise ValueError(f"feature size {tuple(size)} is not a multiple of the tile grid {(gh, gw)}")
    if (gh, gw) == tuple(size):
        return mask
    return mask.repeat_interleave(size[0] // gh, dim=2).repeat_interleave(size[1] // gw, dim=3)


def valid_tile_mask(
    grid: tuple[int, int], padded_hw: tuple[int, int], valid_hw: tuple[int, int], like: Tensor
) -> Tensor:
    """``(1, 1, gh, gw)``: 1 for tiles overlapping the unpadded top-left ``valid_hw`` of ``padded_hw``."""
    rows = torch.arange(grid[0], device=like.device) * (padded_hw[0] / grid[0]) < valid_hw[0]
    cols = torch.arange(grid[1], device=like.device) * (padded_hw[1] / grid[1]) < valid_hw[1]
    return (rows[:, None] & cols[None, :]).to(like.dtype)[None, None]


# The guard's cost per image pixel: |warped0 - warped1| summed over 3 channels, then the tile average.
RESIDUAL_GUARD_MACS_PER_PIXEL = 4.0


def residual_guard_mask(warped0: Tensor, warped1: Tensor, grid: tuple[int, int], bound: float) -> Tensor:
    """``(B, 1, gh, gw)`` 1 where the mean ``|warped0 - warped1|`` over a tile exceeds ``bound``.

    ``warped0`` / ``warped1``: ``(B, 3, H, W)`` images warped by the flow so far, ``H, W`` multiples of
    ``grid``. Where they still disagree the finer block has flow left to correct, so its tile is kept
    whatever the mask head says (a tile-wise, training-free quality guard).
    """
    if warped0.shape != warped1.shape or warped0.dim() != 4:
        shapes = f"{tuple(warped0.shape)} and {tuple(warped1.shape)}"
        raise ValueError(f"warped images must share one (B, C, H, W) shape, got {shapes}")
    h, w = warped0.shape[-2:]
    if h % grid[0] or w % grid[1]:
        raise ValueError(f"image size {(h, w)} is not a multiple of the tile grid {tuple(grid)}")
    residual = (warped0 - warped1).abs().mean(1, keepdim=True)
    return (F.avg_pool2d(residual, (h // grid[0], w // grid[1])) > bound).to(warped0.dtype)


def run_pruned_chain(x: Tensor, layers: nn.Sequential, mask: Tensor, mode: str) -> Tensor:
    """Run ``layers`` on ``x`` ``(B, C, H, W)`` under tile mask ``mask`` ``(B, 1, gh, gw)`` in ``mode``.

    ``dense``: the plain chain (mask ignored). ``train`` / ``masked``: the shared engine's dense
    emulation (differentiable; soft masks allowed). ``sparse``: the engine's tile path on the active
    tiles only, with exact fall-backs (all tiles active -> the plain chain, none -> zeros).
    """
    if mode == "dense":
        return layers(x)
    size = tuple(x.shape[-2:])
    if mode != "sparse":
        return masked_chain_dense(x, list(layers), expand_mask(mask, size))
    active = mask > 0.5
    if bool(active.all()):
        return layers(x)
    tile = x.shape[-1] // mask.shape[-1]
    plan = TilePlan.from_mask(active[:, 0], tile, size)
    return masked_chain(x, list(layers), plan, mode="sparse")
