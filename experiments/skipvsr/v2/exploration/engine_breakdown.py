"""Where the tile engine's residual path spends its time: one block loop re-timed phase by phase.

Re-implements :func:`dynskip.skip.sparse.residual_block_sparse` (same calls, same order) with a clock
between phases, on a ``dynskip bench engine`` workload and mask, and times the dense blocks alongside.
Phases: plan (splitting the active tiles into groups), gather (tile + halo windows), conv1 (+ ReLU),
zero (border zeroing), conv2, add (the block's skip), scatter (the put into the canvas).

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/exploration/engine_breakdown.py --fraction 0.5
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections import defaultdict

import torch

from dynskip.benchmarks.engine import DEFAULT_TILE, WORKLOAD_SPECS, _Workload
from dynskip.skip.plan import TileCanvas, TilePlan
from dynskip.skip.sparse import conv_step
from dynskip.skip.steps import parse_steps


def timed_chain(bench: _Workload, masks: list[torch.Tensor], phases: dict[str, float]) -> None:
    """The sparse residual chain of ``bench`` under ``masks``, adding each phase's seconds to ``phases``."""
    clock = time.perf_counter
    plans = [TilePlan.from_mask(m, bench.tile, bench.size) for m in masks]
    parsed = [parse_steps(block) for block in bench.blocks]
    halo = sum(s.reach for s in parsed[0])
    canvas = TileCanvas(plans[0], bench.x.shape[1], halo, bench.x.dtype, bench.x.device)
    canvas.dense().copy_(bench.x)
    for steps, plan in zip(parsed, plans, strict=True):
        t = clock()
        groups = plan.groups
        phases["plan"] += clock() - t
        results = []
        for group in groups:
            marks = [clock()]
            window = y = canvas.gather(group, halo)
            marks.append(clock())
            y = steps[0].activate(conv_step(steps[0], y, 0))
            marks.append(clock())
            group.zero_outside(y, halo - steps[0].reach)
            marks.append(clock())
            y = conv_step(steps[1], y, 0)
            marks.append(clock())
            results.append(y.add_(window[:, :, halo : halo + y.shape[2], halo : halo + y.shape[3]]))
            marks.append(clock())
            for name, (a, b) in zip(("gather", "conv1", "zero", "conv2", "add"), itertools.pairwise(marks)):
                phases[name] += b - a
        t = clock()
        for group, y in zip(groups, results, strict=True):
            canvas.scatter(group, y)
        phases["scatter"] += clock() - t


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="basicvsr-trunk", choices=["basicvsr-trunk", "skipvsr-v2-trunk"])
    ap.add_argument("--fraction", type=float, default=0.5)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    bench = _Workload(WORKLOAD_SPECS[args.workload], torch.device("cpu"), DEFAULT_TILE[args.workload], 0)
    masks = bench.masks(args.fraction, torch.Generator().manual_seed(0))
    phases: dict[str, float] = defaultdict(float)
    for _ in range(2):  # warm-up: allocator, oneDNN primitives
        bench.dense()
        timed_chain(bench, masks, defaultdict(float))
    dense = []
    for _ in range(args.rounds):
        t = time.perf_counter()
        bench.dense()
        dense.append(time.perf_counter() - t)
        timed_chain(bench, masks, phases)
    total = sum(phases.values()) / args.rounds
    conv = (phases["conv1"] + phases["conv2"]) / args.rounds
    d = statistics.median(dense)
    print(f"{args.workload} at {args.fraction}: dense {d * 1e3:.0f} ms, tile path {total * 1e3:.0f} ms")
    print(f"efficiency {d * args.fraction / total:.3f}; convs alone {d * args.fraction / conv:.3f}")
    for name, seconds in phases.items():
        print(f"  {name:8s} {seconds / args.rounds * 1e3:7.1f} ms  {seconds / args.rounds / total:6.1%}")


if __name__ == "__main__":
    main()
