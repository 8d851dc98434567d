"""Measuring the tile engine's sparse/dense cut-over and storing it where the engine reads it.

:func:`calibrate_fallback` times dense against sparse runs of the caller's own layers (the project's
one timer, :func:`dynskip.utils.timing.interleaved_median`) and stores the cut-over in
:data:`dynskip.skip.fallback.CUTOVERS`, which the engine's ``mode="auto"`` consults.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from dynskip.skip.engine import masked_chain, residual_skip_chain
from dynskip.skip.fallback import CUTOVERS, DEFAULT_DENSE_ABOVE, cutover_key
from dynskip.skip.plan import TilePlan
from dynskip.skip.tiles import random_tile_mask, tile_grid_shape
from dynskip.utils.timing import interleaved_median

__all__ = ["calibrate_fallback", "ensure_calibrated"]


def calibrate_fallback(
    kind: str,
    layers: nn.Module | Iterable[nn.Module],
    x: Tensor,
    tile: int,
    fractions: Sequence[float] = (1.0, 0.9, 0.8, 0.7, 0.6),
    repeats: int = 3,
    seed: int = 0,
    blocks: int = 1,
) -> float:
    """Measure and cache the cut-over for ``layers`` on inputs shaped like ``x``; returns it.

    ``kind`` is ``"residual"`` (``layers`` is one block's ``f``) or ``"masked"`` (a chain). Dense and
    sparse runs are interleaved, ``repeats`` each per fraction after one warm-up round, medians
    compared. The cut-over is where sparse/dense crosses 1 (linear between grid points); ``inf`` when
    sparse wins even at the highest fraction measured, the lowest fraction when it never wins.
    ``blocks > 1`` (``"residual"`` only) races a chain of that many applications of ``layers`` under
    one plan, as a model that runs one mask through many blocks does: the sparse path then pays its
    canvas entry and exit once per chain, not once per block.
    """
    if kind not in DEFAULT_DENSE_ABOVE:
        raise ValueError(f"kind must be one of {sorted(DEFAULT_DENSE_ABOVE)}, got {kind!r}")
    if repeats < 1 or not fractions or not all(0.0 < f <= 1.0 for f in fractions):
        raise ValueError(f"need repeats >= 1 and fractions in (0, 1], got {repeats}, {tuple(fractions)}")
    if blocks < 1 or (blocks > 1 and kind != "residual"):
        raise ValueError(f"blocks must be >= 1, and 1 unless kind is 'residual'; got {blocks} for {kind!r}")
    if kind == "masked":
        run = masked_chain
    else:

        def run(x: Tensor, layers, plan: TilePlan, mode: str) -> Tensor:
            return residual_skip_chain(x, [layers] * blocks, [plan] * blocks, mode)

    b, c, h, w = x.shape
    gen = torch.Generator().manual_seed(seed)
    ratios = []
    with torch.no_grad():
        for fraction in sorted(fractions, reverse=True):
            mask = random_tile_mask(b, tile_grid_shape(h, w, tile), fraction, gen, x.device)
            plan = TilePlan.from_mask(mask, tile, (h, w))
            variants = {mode: (lambda m=mode, p=plan: run(x, layers, p, m)) for mode in ("dense", "sparse")}
            seconds = interleaved_median(variants, repeats=repeats, warmup=1, device=x.device)
            ratios.append((fraction, seconds["sparse"] / seconds["dense"]))
    cutover = _crossing(ratios)
    CUTOVERS.store(cutover_key(kind, b, c, h, w, tile, x), cutover)
    return cutover


def ensure_calibrated(
    kind: str,
    layers: nn.Module | Iterable[nn.Module],
    x: Tensor,
    tile: int,
    fractions: Sequence[float] = (1.0, 0.9, 0.8, 0.7, 0.6),
    blocks: int = 1,
) -> float:
    """The cached cut-over for inputs shaped like ``x``, measured by :func:`calibrate_fallback` if new."""
    b, c, h, w = x.shape
    cutover = CUTOVERS.get(cutover_key(kind, b, c, h, w, tile, x))
    return calibrate_fallback(kind, layers, x, tile, fractions, blocks=blocks) if cutover is None else cutover


def _crossing(ratios: list[tuple[float, float]]) -> float:
    """``ratios`` (fraction, sparse/dense) by decreasing fraction -> lowest fraction where dense wins."""
    if ratios[0][1] < 1.0:
        return math.inf
    for (f_hi, r_hi), (f_lo, r_lo) in itertools.pairwise(ratios):
        if r_lo < 1.0:
            return f_lo + (f_hi - f_lo) * (1.0 - r_lo) / (r_hi - r_lo)
    return ratios[-1][0]
