"""Measure ugsp-rife against dense RIFE v3.9 on a video: PSNR, MACs saved, wall-clock, per threshold.

    python experiments/ugsp_rife/measure.py --video carphone --frames 41 --thresholds 0.3 0.5 0.7 \
        --timing-pairs 10 --json experiments/ugsp_rife/pareto_carphone.json

Triplets (i, i+1, i+2) for even i: the middle frame is predicted from its neighbours at t = 0.5.
PSNR is RGB on uint8-rounded predictions (as RIFE and UGSP report). ``dense`` is the same model in
execution mode ``dense`` (tested identical to ``build_model("rife", weights="rife-v3.9")``). Timing:
batch 1, dense and sparse interleaved per pair, medians over pairs and repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from dynskip.assets import ASSETS, asset_path
from dynskip.data.synthetic import SyntheticClips
from dynskip.data.video import read_video
from dynskip.models import build_model
from dynskip.skip.protocol import execution_mode


def read_frames(video: str, count: int, start: int = 0) -> list[torch.Tensor]:
    """Frames ``start .. start+count-1`` of an asset name or a path, float ``(3, H, W)`` in [0, 1]."""
    path = asset_path(video) if video in ASSETS else Path(video)
    frames = torch.from_numpy(read_video(path, start, count)).permute(0, 3, 1, 2).float() / 255
    return list(frames.unbind(0))


def psnr_u8(pred: torch.Tensor, gt: torch.Tensor) -> float:
    pred = (pred.clamp(0, 1) * 255).round()
    mse = float(((pred - (gt * 255).round()) ** 2).mean())
    return 10 * np.log10(255**2 / max(mse, 1e-10))


def command_line() -> str:
    """This process's command, the script named from the repository root (rows of the results tables)."""
    script = os.path.relpath(Path(sys.argv[0]).resolve(), Path(__file__).resolve().parents[2])
    return shlex.join(["python", script, *sys.argv[1:]])


Triplet = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (img0, gt, img1), each (3, H, W)


# FlyingChairs-like synthetic scenes (seventh session): sprites moving, rotating and zooming on their own
SPRITES = {"num_objects": 6, "max_rotation": 5.0, "max_zoom": 0.05}


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


@torch.no_grad()
def dense_psnr(model: torch.nn.Module, triplets: list[Triplet]) -> dict:
    """Mean PSNR of the dense baseline on ``(img0, gt, img1)`` triplets, and of ``model``'s own dense mode.

    The baseline is official RIFE v3.9: ``model.dense_reference`` when its backbone was fine-tuned,
    else its own dense mode (then both figures are equal).
    """

    def mean_psnr(net: torch.nn.Module) -> float:
        return statistics.fmean(psnr_u8(net(a[None], b[None])[0], gt) for a, gt, b in triplets)

    with execution_mode(model, "dense"):
        own = mean_psnr(model)
    reference = model.dense_reference
    baseline = own if reference is None else mean_psnr(reference().eval())
    return {"dense_psnr": baseline, "own_dense_psnr": own, "baseline": str(reference or "own dense mode")}


@torch.no_grad()
def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    frames = read_frames(args.video, args.frames, args.start)
    triplets = [(frames[i], frames[i + 1], frames[i + 2]) for i in range(0, len(frames) - 2, 2)]
    model = build_model("ugsp-rife", weights=args.weights, active_halo_tiles=args.active_halo).eval()
    results: dict = {
        "video": args.video,
        "start": args.start,
        "size": list(frames[0].shape[-2:]),
        "pairs": len(triplets),
        "weights": args.weights,
        "threads": args.threads,
        "mode": args.mode,
        "active_halo": args.active_halo,
        "command": command_line(),
        "thresholds": {},
    }
    results.update(dense_psnr(model, triplets))
    for thr in args.thresholds:
        model.threshold = thr
        psnrs, saved, levels = [], [], {}
        with execution_mode(model, args.mode):
            for a, gt, b in triplets:
                psnrs.append(psnr_u8(model(a[None], b[None])[0], gt))
                report = model.skip_report()
                saved.append(report.macs_saved_fraction())
                for name, unit in report.units.items():
                    if unit.unit.prunable:
                        levels.setdefault(name, []).append(float(unit.fraction))
        entry = {
            "psnr": statistics.fmean(psnrs),
            "psnr_drop": results["dense_psnr"] - statistics.fmean(psnrs),
            "macs_saved": statistics.fmean(saved),
            "gmacs_dense": report.gmacs_dense(),
            "level_active_fraction": {k: statistics.fmean(v) for k, v in levels.items()},
        }
        if args.timing_pairs:
            entry.update(time_pairs(model, triplets[: args.timing_pairs], args.repeats))
        results["thresholds"][str(thr)] = entry
        print(thr, json.dumps(entry), flush=True)
        if args.json:  # written after every threshold: a long run keeps what it measured
            Path(args.json).write_text(json.dumps(results, indent=1))
    return results


def time_pairs(model, triplets, repeats: int) -> dict:
    """Wall-clock and process CPU time (all threads; robust to other jobs on the machine), medians."""
    wall: dict[str, list[float]] = {"dense": [], "sparse": []}
    cpu: dict[str, list[float]] = {"dense": [], "sparse": []}
    for _ in range(repeats):
        for a, _, b in triplets:
            for mode in ("dense", "sparse"):
                with execution_mode(model, mode):
                    w0, c0 = time.perf_counter(), time.process_time()
                    model(a[None], b[None])
                    wall[mode].append(time.perf_counter() - w0)
                    cpu[mode].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in wall.items()}
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    return {
        "dense_s": med["dense"],
        "sparse_s": med["sparse"],
        "speedup": med["dense"] / med["sparse"],
        "dense_cpu_s": cmed["dense"],
        "sparse_cpu_s": cmed["sparse"],
        "cpu_speedup": cmed["dense"] / cmed["sparse"],
        "load_avg_1min": os.getloadavg()[0],
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--video", default="carphone")
    p.add_argument("--frames", type=int, default=41)
    p.add_argument("--start", type=int, default=0, help="first frame (carphone 90: its held-out frames)")
    p.add_argument("--weights", default="rife-v3.9")
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.0, 0.3, 0.5, 0.7, 0.9])
    p.add_argument("--mode", default="sparse", help="sparse (real skipping) or masked (same numbers)")
    p.add_argument("--timing-pairs", type=int, default=0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--active-halo", type=int, default=0, help="model.active_halo_tiles")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    run(args)


if __name__ == "__main__":
    main()
