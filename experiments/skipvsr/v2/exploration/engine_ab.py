"""Two tile-engine variants against each other and dense, alternating in one process (nineteenth session).

Variants (the engine's code is unchanged; the alternatives live here):

- ``gather``: the window gather as it was until the nineteenth session (advanced indexing of the 6-D
  window view, one value at a time) against today's (``index_select`` of window rows);
- ``runs``: one window per active tile (today's) against windows over runs of horizontally adjacent
  active tiles, cut into power-of-two pieces (shared inner halos, wider convs, more conv calls);
- ``prefetch``: ``residual_skip_chain`` splitting every plan into groups before its first conv
  (today's) against each plan split just before its block, as until the nineteenth session.

Masks are the bench's (``random``: a fresh random mask per block, or one for all blocks where the
workload shares it) or ``blobs``: random seeds grown by one tile in every direction until the share is
reached, one mask for all blocks (what SkipVSR v2's one-patch ring makes). Prints the median
efficiency (fraction x dense / variant, per round) of both variants per fraction.

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/exploration/engine_ab.py --variant gather \
        --workload basicvsr-trunk
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from itertools import compress

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from dynskip.benchmarks.engine import DEFAULT_TILE, WORKLOAD_SPECS, WORKLOADS, _Workload
from dynskip.skip import engine
from dynskip.skip.engine import residual_skip_chain
from dynskip.skip.plan import TileCanvas, TileGroup, TilePlan
from dynskip.skip.tiles import tile_grid_shape

ROW_GATHER = TileCanvas.gather


def index_gather(
    self: TileCanvas, group: TileGroup, halo: int, shape: tuple[int, int] | None = None
) -> Tensor:
    """The gather until the nineteenth session: advanced indexing of the overlapping window view."""
    windows = self._windows(halo, shape or group.shape)
    return windows[group.sample, group.row, group.col].permute(0, 3, 1, 2)


def run_pieces(sample: np.ndarray, row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(first, length)``: runs of adjacent tiles in a row (row-major indices), in power-of-two pieces."""
    new = np.ones(col.size, dtype=bool)
    new[1:] = (sample[1:] != sample[:-1]) | (row[1:] != row[:-1]) | (col[1:] != col[:-1] + 1)
    starts = np.flatnonzero(new)
    lengths = np.diff(np.append(starts, col.size))
    firsts, sizes, offset = [], [], np.zeros_like(lengths)
    for bit in reversed(range(int(lengths.max()).bit_length())):
        has = (lengths >> bit) & 1 == 1
        firsts.append(starts[has] + offset[has])
        sizes.append(np.full(int(has.sum()), 1 << bit))
        offset += has * (1 << bit)
    return np.concatenate(firsts), np.concatenate(sizes)


def run_groups(plan: TilePlan) -> list[TileGroup]:
    """The plan's active tiles as run windows, grouped by in-image shape."""
    sample, row, col = (t.numpy() for t in (plan.sample, plan.row, plan.col))
    first, length = run_pieces(sample, row, col)
    sample, row, col = sample[first], row[first], col[first]
    (ht, wt), t = plan.grid, plan.tile
    end = col + length - 1
    th = np.where(row == ht - 1, plan.height - (ht - 1) * t, t)
    tw = (length - 1) * t + np.where(end == wt - 1, plan.width - (wt - 1) * t, t)
    groups = []
    for h, w in sorted(set(zip(th.tolist(), tw.tolist(), strict=True)), reverse=True):
        where = np.flatnonzero((th == h) & (tw == w))
        s, r, c, e = sample[where], row[where], col[where], end[where]
        flags = {"top": r == 0, "bottom": r == ht - 1, "left": c == 0, "right": e == wt - 1}
        edges = {k: (torch.from_numpy(np.flatnonzero(v)) if v.any() else None) for k, v in flags.items()}
        cells = np.stack((s, r, c)).astype(np.int64)
        # ``last`` = the window's own in-image size: what zero_outside needs at the bottom / right edge.
        groups.append(TileGroup(*(torch.from_numpy(a) for a in cells), (h, w), edges, (h, w), cells))
    return groups


def blob_masks(bench: _Workload, fraction: float, gen: torch.Generator) -> list[Tensor]:
    grid = tile_grid_shape(*bench.size, bench.tile)
    seeds = torch.zeros(1, 1, *grid)
    grown = seeds
    for i in torch.randperm(grid[0] * grid[1], generator=gen).tolist():
        seeds.view(-1)[i] = 1
        grown = F.max_pool2d(seeds, 3, 1, 1)
        if grown.mean() >= fraction:
            break
    return [grown[:, 0] > 0.5] * bench.units


def engine_with(bench: _Workload, masks: list[Tensor], variant: str, current: bool) -> Callable[[], Tensor]:
    def run() -> Tensor:
        if variant == "prefetch":
            if current:
                return bench.engine(masks, "sparse")
            engine.compress = lambda plans, tiled: ()  # the chain's up-front split loop then splits nothing
            try:
                return bench.engine(masks, "sparse")
            finally:
                engine.compress = compress
        if variant == "gather":
            TileCanvas.gather = ROW_GATHER if current else index_gather
            try:
                return bench.engine(masks, "sparse")
            finally:
                TileCanvas.gather = ROW_GATHER
        plans = [TilePlan.from_mask(m, bench.tile, bench.size) for m in masks]
        if not current:
            for plan in plans:
                plan._cache["groups"] = run_groups(plan)
        return residual_skip_chain(bench.x, bench.blocks, plans, "sparse")

    return run


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", choices=["gather", "runs", "prefetch"], required=True)
    ap.add_argument("--workload", choices=WORKLOADS, default="basicvsr-trunk")
    ap.add_argument("--masks", choices=["random", "blobs"], default="random")
    ap.add_argument("--fractions", default="0.5,0.25")
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    if args.variant != "gather" and WORKLOAD_SPECS[args.workload].kind != "residual":
        ap.error(f"--variant {args.variant} times residual workloads only")
    bench = _Workload(WORKLOAD_SPECS[args.workload], torch.device("cpu"), DEFAULT_TILE[args.workload], 0)
    other = {"gather": "index gather", "runs": "run windows", "prefetch": "split inline"}[args.variant]
    for fraction in (float(f) for f in args.fractions.split(",")):
        gen = torch.Generator().manual_seed(0)
        masks = bench.masks(fraction, gen) if args.masks == "random" else blob_masks(bench, fraction, gen)
        runs = {
            "dense": bench.dense,
            "current": engine_with(bench, masks, args.variant, True),
            other: engine_with(bench, masks, args.variant, False),
        }
        assert torch.allclose(runs["current"](), runs[other](), atol=1e-4)
        times: dict[str, list[float]] = {k: [] for k in runs}
        for r in range(args.rounds + 1):  # round 0 warms up
            for name, fn in runs.items():
                t = time.perf_counter()
                fn()
                if r:
                    times[name].append(time.perf_counter() - t)
        share = float(masks[0].float().mean())
        eff = {
            k: statistics.median(share * d / x for d, x in zip(times["dense"], times[k], strict=True))
            for k in runs
            if k != "dense"
        }
        cells = ", ".join(f"{k} {v:.3f}" for k, v in eff.items())
        print(f"{args.workload} {args.masks} {share:.2f}: {cells}", flush=True)


if __name__ == "__main__":
    main()
