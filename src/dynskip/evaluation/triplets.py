"""VFI triplet measurements of a skipping model against its dense baseline (the scripts of
``experiments/ugsp_rife/``): triplets from a video or the held-out synthetic clips, mean PSNR of the
dense baseline, and dense-vs-sparse timing with the one timer (:mod:`dynskip.utils.timing`).

A triplet is ``(img0, gt, img1)``, each ``(3, H, W)`` float in [0, 1]; the model predicts ``gt`` at
t = 0.5. PSNR is :func:`dynskip.metrics.psnr.psnr` (RGB, uint8-rounded, as RIFE and UGSP report).
"""

from __future__ import annotations

import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import Tensor, nn

from dynskip.assets import ASSETS, asset_path
from dynskip.data.synthetic import SyntheticClips
from dynskip.evaluation.footage import load_frames
from dynskip.metrics.psnr import psnr
from dynskip.skip.protocol import execution_mode
from dynskip.utils.timing import interleaved_samples

Triplet = tuple[Tensor, Tensor, Tensor]  # (img0, gt, img1), each (3, H, W)

# FlyingChairs-like synthetic scenes (seventh session): sprites moving, rotating and zooming on their own
SPRITES = {"num_objects": 6, "max_rotation": 5.0, "max_zoom": 0.05}


def read_frames(video: str, count: int, start: int = 0) -> list[Tensor]:
    """Frames ``start .. start+count-1`` of an asset name or a path, float ``(3, H, W)`` in [0, 1]."""
    path = asset_path(video) if video in ASSETS else Path(video)
    return list(load_frames(path, count, start).unbind(0))


def synthetic_triplets(
    samples: int,
    speed: float = 8.0,
    texture: str = "noise",
    size: tuple[int, int] = (272, 480),
    sprites: bool = False,
) -> list[Triplet]:
    """The held-out synthetic VFI triplets (seed 7; training clips use other seeds); ``sprites``: the
    FlyingChairs-like scenes (``SPRITES``) instead of global translation + one disc."""
    scene = SPRITES if sprites else {}
    data = SyntheticClips(
        task="vfi", num_samples=samples, size=size, seed=7, max_speed=speed, texture=texture, **scene
    )
    return [(s["img0"], s["gt"], s["img1"]) for s in (data[i] for i in range(samples))]


def frame_psnr(pred: Tensor, gt: Tensor) -> float:
    """PSNR (dB) of one predicted frame, RGB on uint8-rounded values."""
    return float(psnr(pred, gt))


@torch.no_grad()
def dense_psnr(model: nn.Module, triplets: list[Triplet]) -> dict:
    """Mean PSNR of the dense baseline on ``(img0, gt, img1)`` triplets, and of ``model``'s own dense mode.

    The baseline is official RIFE v3.9: ``model.dense_reference`` when its backbone was fine-tuned,
    else its own dense mode (then both figures are equal).
    """

    def mean_psnr(net: nn.Module) -> float:
        return statistics.fmean(frame_psnr(net(a[None], b[None])[0], gt) for a, gt, b in triplets)

    with execution_mode(model, "dense"):
        own = mean_psnr(model)
    reference = model.dense_reference
    baseline = own if reference is None else mean_psnr(reference().eval())
    return {"dense_psnr": baseline, "own_dense_psnr": own, "baseline": str(reference or "own dense mode")}


@torch.no_grad()
def time_pairs(model: nn.Module, triplets: list[Triplet], repeats: int) -> dict:
    """Dense vs sparse seconds per triplet (batch 1), medians: wall-clock and process CPU time (all
    threads; robust to other jobs on the machine), each timed interleaved by
    :func:`~dynskip.utils.timing.interleaved_samples`, ``repeats`` rounds over the triplets."""

    def run(mode: str, a: Tensor, b: Tensor):
        def call() -> None:
            with execution_mode(model, mode):
                model(a[None], b[None])

        return call

    medians: dict[str, dict[str, float]] = {}
    for clock_name, clock in (("wall", time.perf_counter), ("cpu", time.process_time)):
        samples: dict[str, list[float]] = {"dense": [], "sparse": []}
        for _ in range(repeats):
            for a, _, b in triplets:
                variants = {mode: run(mode, a, b) for mode in samples}
                for mode, seconds in interleaved_samples(variants, 1, warmup=0, clock=clock).items():
                    samples[mode] += seconds
        medians[clock_name] = {mode: statistics.median(v) for mode, v in samples.items()}
    wall, cpu = medians["wall"], medians["cpu"]
    return {
        "dense_s": wall["dense"],
        "sparse_s": wall["sparse"],
        "speedup": wall["dense"] / wall["sparse"],
        "dense_cpu_s": cpu["dense"],
        "sparse_cpu_s": cpu["sparse"],
        "cpu_speedup": cpu["dense"] / cpu["sparse"],
        "load_avg_1min": os.getloadavg()[0],
    }


def command_line(root: str | Path) -> str:
    """This process's command, the script named relative to ``root`` (rows of the results tables)."""
    script = os.path.relpath(Path(sys.argv[0]).resolve(), Path(root).resolve())
    return shlex.join(["python", script, *sys.argv[1:]])
