"""When to run a masked unit densely: the calibrated sparse/dense cut-over of the tile engine.

At high active fractions the gathers, scatters and halo recomputation of the sparse path cost more
than they save. :func:`calibrate_fallback` measures the cut-over once per (kind, batch, channels,
size, tile, device, dtype, threads) on the caller's own layers and caches it;
:func:`dense_above` answers the engine's ``mode="auto"`` question from that cache, or from
:data:`DEFAULT_DENSE_ABOVE` (measured in ``experiments/engine_bench.md``) when nothing was calibrated.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn

from dynskip.skip.tiles import random_tile_mask, tile_grid_shape

__all__ = [
    "DEFAULT_DENSE_ABOVE",
    "calibrate_fallback",
    "clear_fallback_cache",
    "dense_above",
    "ensure_calibrated",
]

# Cut-overs measured on 2 CPU cores (see experiments/engine_bench.md): sparse stays ahead up to here.
DEFAULT_DENSE_ABOVE: dict[str, float] = {"residual": 0.85, "masked": 0.92}
_CUTOVER: dict[tuple, float] = {}


def _key(kind: str, batch: int, channels: int, h: int, w: int, tile: int, x: Tensor) -> tuple:
    return (kind, batch, channels, h, w, tile, x.device.type, x.dtype, torch.get_num_threads())


def dense_above(kind: str, plan, channels: int, x: Tensor) -> float:
    """Active fraction at or above which ``mode="auto"`` runs ``kind`` densely."""
    key = _key(kind, plan.batch, channels, plan.height, plan.width, plan.tile, x)
    return _CUTOVER.get(key, DEFAULT_DENSE_ABOVE[kind])


def clear_fallback_cache() -> None:
    _CUTOVER.clear()


def _time(fn: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def calibrate_fallback(
    kind: str,
    layers: nn.Module | Iterable[nn.Module],
    x: Tensor,
    tile: int,
    fractions: Sequence[float] = (1.0, 0.9, 0.8, 0.7, 0.6),
    repeats: int = 3,
    seed: int = 0,
) -> float:
    """Measure and cache the cut-over for ``layers`` on inputs shaped like ``x``; returns it.

    ``kind`` is ``"residual"`` (``layers`` is one block's ``f``) or ``"masked"`` (a chain). Dense and
    sparse runs are interleaved, ``repeats`` each per fraction, medians compared. The cut-over is
    where sparse/dense crosses 1 (linear between grid points); ``inf`` when sparse wins even at the
    highest fraction measured, the lowest fraction when it never wins.
    """
    from dynskip.skip.engine import masked_chain, residual_skip  # the engine imports this module
    from dynskip.skip.plan import TilePlan

    if kind not in DEFAULT_DENSE_ABOVE:
        raise ValueError(f"kind must be one of {sorted(DEFAULT_DENSE_ABOVE)}, got {kind!r}")
    if repeats < 1 or not fractions or not all(0.0 < f <= 1.0 for f in fractions):
        raise ValueError(f"need repeats >= 1 and fractions in (0, 1], got {repeats}, {tuple(fractions)}")
    run = residual_skip if kind == "residual" else masked_chain
    b, c, h, w = x.shape
    gen = torch.Generator().manual_seed(seed)
    ratios = []
    with torch.no_grad():
        for fraction in sorted(fractions, reverse=True):
            mask = random_tile_mask(b, tile_grid_shape(h, w, tile), fraction, gen, x.device)
            plan = TilePlan.from_mask(mask, tile, (h, w))
            times: dict[str, list[float]] = {"dense": [], "sparse": []}
            for _ in range(repeats + 1):  # the first round warms up
                for mode in ("dense", "sparse"):
                    times[mode].append(_time(lambda m=mode, p=plan: run(x, layers, p, m), x.device))
            dense, sparse = (statistics.median(times[m][1:]) for m in ("dense", "sparse"))
            ratios.append((fraction, sparse / dense))
    cutover = _crossing(ratios)
    _CUTOVER[_key(kind, b, c, h, w, tile, x)] = cutover
    return cutover


def ensure_calibrated(
    kind: str,
    layers: nn.Module | Iterable[nn.Module],
    x: Tensor,
    tile: int,
    fractions: Sequence[float] = (1.0, 0.9, 0.8, 0.7, 0.6),
) -> float:
    """The cached cut-over for inputs shaped like ``x``, measured by :func:`calibrate_fallback` if new."""
    b, c, h, w = x.shape
    cutover = _CUTOVER.get(_key(kind, b, c, h, w, tile, x))
    return calibrate_fallback(kind, layers, x, tile, fractions) if cutover is None else cutover


def _crossing(ratios: list[tuple[float, float]]) -> float:
    """``ratios`` (fraction, sparse/dense) by decreasing fraction -> lowest fraction where dense wins."""
    if ratios[0][1] < 1.0:
        return math.inf
    for (f_hi, r_hi), (f_lo, r_lo) in itertools.pairwise(ratios):
        if r_lo < 1.0:
            return f_lo + (f_hi - f_lo) * (1.0 - r_lo) / (r_hi - r_lo)
    return ratios[-1][0]
