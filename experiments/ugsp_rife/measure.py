"""Measure ugsp-rife against dense RIFE v3.9 on a video: PSNR, MACs saved, wall-clock, per threshold.

    python experiments/ugsp_rife/measure.py --video carphone --frames 41 --thresholds 0.3 0.5 0.7 \
        --timing-pairs 10 --json experiments/ugsp_rife/pareto_carphone.json

Triplets (i, i+1, i+2) for even i: the middle frame is predicted from its neighbours at t = 0.5.
PSNR is RGB on uint8-rounded predictions (as RIFE and UGSP report). ``dense`` is the same model in
execution mode ``dense`` (tested identical to ``build_model("rife", weights="rife-v3.9")``). Timing:
batch 1, dense and sparse interleaved per pair, medians over pairs and repeats. The helpers are
:mod:`dynskip.evaluation.triplets` (shared with ``synthetic_sweep.py``, ``rank_keep.py``,
``block3_damage.py``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from dynskip.cli.main import parse_model_arg
from dynskip.evaluation.triplets import command_line, dense_psnr, frame_psnr, read_frames, time_pairs
from dynskip.models import build_model
from dynskip.skip.protocol import execution_mode

ROOT = Path(__file__).resolve().parents[2]


@torch.no_grad()
def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    frames = read_frames(args.video, args.frames, args.start)
    triplets = [(frames[i], frames[i + 1], frames[i + 2]) for i in range(0, len(frames) - 2, 2)]
    model_args = {"active_halo_tiles": args.active_halo, **dict(args.model_arg)}
    model = build_model("ugsp-rife", weights=args.weights, **model_args).eval()
    results: dict = {
        "video": args.video,
        "start": args.start,
        "size": list(frames[0].shape[-2:]),
        "pairs": len(triplets),
        "weights": args.weights,
        "threads": args.threads,
        "mode": args.mode,
        "active_halo": args.active_halo,
        "model_args": model_args,
        "command": command_line(ROOT),
        "thresholds": {},
    }
    results.update(dense_psnr(model, triplets))
    for thr in args.thresholds:
        model.threshold = thr
        psnrs, saved, levels = [], [], {}
        with execution_mode(model, args.mode):
            for a, gt, b in triplets:
                psnrs.append(frame_psnr(model(a[None], b[None])[0], gt))
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
    p.add_argument(
        "--model-arg", type=parse_model_arg, action="append", default=[], help="KEY=VALUE (YAML), build_model"
    )
    p.add_argument("--json", default=None)
    args = p.parse_args()
    run(args)


if __name__ == "__main__":
    main()
