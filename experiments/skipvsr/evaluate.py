"""SkipVSR vs dense official BasicVSR: PSNR, active fraction and wall-clock over thresholds.

Times are interleaved (dense, then every threshold, repeated) and the median per setting is kept, so
load changes on a shared machine hit all settings alike. PSNR: RGB, outputs clamped and rounded to
uint8 levels, mean over frames; LR made with the project's BI x4 (MATLAB bicubic, uint8 levels).

    OMP_NUM_THREADS=2 .venv/bin/python experiments/skipvsr/evaluate.py --video carphone --start 90 \
        --frames 30 --thresholds 0,0.3,0.5,0.7 --json experiments/skipvsr/results/pareto_carphone.json

``--clock process`` times with ``time.process_time`` (CPU seconds; use it with OMP_NUM_THREADS=1).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from dynskip.assets import ASSETS, asset_path
from dynskip.data.degrade import bi_degrade
from dynskip.data.synthetic import SyntheticClips
from dynskip.data.video import read_video
from dynskip.models import build_model
from dynskip.skip.protocol import execution_mode

SYNTHETIC_SIZE = (272, 640)  # HR; LR 68x160, bikes' LR size, with more motion and texture than carphone


def load_clip(
    video: str, start: int, frames: int, size: tuple[int, int] = SYNTHETIC_SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(lq, gt)``, ``(1, T, 3, h, w)`` and ``(1, T, 3, 4h, 4w)``: a video's frames or, for ``"synthetic"``
    / ``"synthetic<seed>"`` (noise texture) or ``"deadleaves<seed>"``, a synthetic clip of HR ``size``
    (tuning footage; ``start`` is ignored)."""
    for prefix, texture in (("synthetic", "noise"), ("deadleaves", "dead_leaves")):
        if video.startswith(prefix):
            seed = int(video.removeprefix(prefix) or 3)
            clips = SyntheticClips(
                task="vsr", num_samples=1, size=size, num_frames=frames, seed=seed, texture=texture
            )
            return clips[0]["lq"][None], clips[0]["gt"][None]
    path = asset_path(video) if video in ASSETS else Path(video)
    raw = read_video(path, start=start, count=frames)
    gt = torch.from_numpy(raw).permute(0, 3, 1, 2).float() / 255.0
    h, w = gt.shape[-2:]
    gt = gt[..., : h // 4 * 4, : w // 4 * 4][None]
    return bi_degrade(gt), gt


def psnr(pred: torch.Tensor, gt: torch.Tensor) -> float:
    pred = (pred.clamp(0, 1) * 255).round() / 255
    mse = ((pred - gt) ** 2).flatten(2).mean(-1)  # (B, T)
    return float((10 * torch.log10(1.0 / mse.clamp_min(1e-12))).mean())


CLOCK = time.perf_counter


def timed(fn) -> tuple[float, torch.Tensor]:
    t0 = CLOCK()
    out = fn()
    return CLOCK() - t0, out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--video", default="carphone", help="asset name, video path, synthetic[<seed>] or deadleaves[<seed>]"
    )
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--weights", default="reds4", help="SkipVSR weights (built-in name or file)")
    p.add_argument("--no-align", action="store_true")
    p.add_argument("--no-refresh", action="store_true", help="let a (tile, block) skip on consecutive steps")
    p.add_argument(
        "--max-stale", type=int, default=1, help="with refresh: consecutive skips allowed per unit"
    )
    p.add_argument("--thresholds", default="0,0.3,0.4,0.5,0.6,0.7,0.8,0.9")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--mode", default="sparse", choices=["sparse", "masked"])
    p.add_argument("--no-timing", action="store_true", help="quality and density only (masked mode)")
    p.add_argument(
        "--clock", default="wall", choices=["wall", "process"], help="perf_counter or process_time (CPU)"
    )
    p.add_argument("--json", required=True)
    args = p.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "process" else time.perf_counter
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    lq, gt = load_clip(args.video, args.start, args.frames)
    dense = build_model("basicvsr", weights="reds4").eval()
    skip = build_model(
        "skipvsr",
        weights=args.weights,
        temporal_align=not args.no_align,
        refresh=not args.no_refresh,
        max_stale=args.max_stale,
    ).eval()
    thresholds = [float(t) for t in args.thresholds.split(",")]
    mode = "masked" if args.no_timing else args.mode
    rows: dict[float, dict] = {}
    dense_times: list[float] = []
    times: dict[float, list[float]] = {t: [] for t in thresholds}
    repeats = 1 if args.no_timing else args.repeats
    with torch.inference_mode(), execution_mode(skip, mode):
        skip.calibrate(lq)  # the engine's cut-over for this clip's shape, untimed (sparse mode only)
        dense_out = None
        for _ in range(repeats):
            if not args.no_timing or dense_out is None:
                dt, dense_out = timed(lambda: dense(lq))
                dense_times.append(dt)
            for thr in thresholds:
                skip.threshold = thr
                dt, out = timed(lambda: skip(lq))
                times[thr].append(dt)
                if thr not in rows:
                    report = skip.skip_report()
                    rows[thr] = {
                        "threshold": thr,
                        "psnr": psnr(out, gt),
                        "density": float(report.density(prunable_only=True)),
                        "group_density": {
                            g: float(v) for g, v in report.group_densities().items() if g != "stem"
                        },
                        "unit_density": {
                            n: float(u.fraction) for n, u in report.units.items() if u.unit.prunable
                        },
                        "frame_density": [round(float(v), 4) for v in skip.frame_density],
                        "gmacs_trunk_dense_per_frame": report.gmacs_dense(),
                        "gmacs_trunk_actual_per_frame": report.gmacs_actual(),
                        "max_abs_diff_vs_dense": float((out - dense_out).abs().max()),
                    }
    dense_psnr = psnr(dense_out, gt)
    t_dense = statistics.median(dense_times)
    for thr, row in rows.items():
        row["psnr_drop"] = dense_psnr - row["psnr"]
        row["seconds"] = statistics.median(times[thr])
        row["speedup"] = t_dense / row["seconds"]
    result = {
        "video": args.video,
        "start": args.start,
        "frames": args.frames,
        "lr_size": list(lq.shape[-2:]),
        "weights": args.weights,
        "temporal_align": not args.no_align,
        "mode": mode,
        "threads": torch.get_num_threads(),
        "clock": args.clock,
        "loadavg_at_end": os.getloadavg(),
        "dense_psnr": dense_psnr,
        "dense_seconds": t_dense,
        "dense_times": dense_times,
        "rows": list(rows.values()),
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"{args.video} {tuple(lq.shape)} dense {dense_psnr:.3f} dB {t_dense:.2f}s")
    for row in rows.values():
        print(
            f"thr {row['threshold']:.2f}: density {row['density']:.3f} psnr {row['psnr']:.3f} "
            f"drop {row['psnr_drop']:+.3f} dB speed-up {row['speedup']:.2f}x ({row['seconds']:.2f}s)"
        )


if __name__ == "__main__":
    main()
