"""When to run a masked unit densely: the sparse/dense cut-over of the tile engine, read from a cache.

At high active fractions the gathers, scatters and halo recomputation of the sparse path cost more
than they save. :func:`dense_above` answers the engine's ``mode="auto"`` question from
:data:`CUTOVERS`, keyed per (kind, batch, channels, size, tile, device, dtype, threads), or from
:data:`DEFAULT_DENSE_ABOVE` (measured in ``experiments/engine_bench.md``) when nothing was stored.
This module only reads and stores values; measuring them (timing loops) lives above the core, in
:mod:`dynskip.benchmarks.calibration`.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = [
    "CUTOVERS",
    "DEFAULT_DENSE_ABOVE",
    "CutoverCache",
    "clear_fallback_cache",
    "cutover_for",
    "cutover_key",
    "dense_above",
]

# Cut-overs measured on 2 CPU cores (see experiments/engine_bench.md): sparse stays ahead up to here.
DEFAULT_DENSE_ABOVE: dict[str, float] = {"residual": 0.85, "masked": 0.92}


def cutover_key(kind: str, batch: int, channels: int, h: int, w: int, tile: int, x: Tensor) -> tuple:
    """The cache key of a cut-over: what the sparse/dense race depends on."""
    return (kind, batch, channels, h, w, tile, x.device.type, x.dtype, torch.get_num_threads())


class CutoverCache:
    """Measured cut-overs by :func:`cutover_key`; the engine reads it, a calibrator fills it."""

    def __init__(self) -> None:
        self._values: dict[tuple, float] = {}

    def get(self, key: tuple) -> float | None:
        return self._values.get(key)

    def store(self, key: tuple, cutover: float) -> None:
        self._values[key] = cutover

    def clear(self) -> None:
        self._values.clear()

    def items(self) -> Iterator[tuple[tuple, float]]:
        return iter(list(self._values.items()))

    def __len__(self) -> int:
        return len(self._values)


CUTOVERS = CutoverCache()


def cutover_for(kind: str, batch: int, channels: int, h: int, w: int, tile: int, x: Tensor) -> float:
    """Active fraction at or above which ``mode="auto"`` runs ``kind`` densely on such inputs."""
    cutover = CUTOVERS.get(cutover_key(kind, batch, channels, h, w, tile, x))
    return DEFAULT_DENSE_ABOVE[kind] if cutover is None else cutover


def dense_above(kind: str, plan, channels: int, x: Tensor) -> float:
    """:func:`cutover_for` the inputs of ``plan`` (a :class:`~dynskip.skip.plan.TilePlan`)."""
    return cutover_for(kind, plan.batch, channels, plan.height, plan.width, plan.tile, x)


def clear_fallback_cache() -> None:
    CUTOVERS.clear()
