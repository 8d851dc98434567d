"""Threshold sweep of ugsp-rife on synthetic VFI clips (allowed for tuning): PSNR drop vs dense, MACs saved.

python experiments/ugsp_rife/synthetic_sweep.py --size 272 480 --speed 8 --samples 16
OMP_NUM_THREADS=2 python experiments/ugsp_rife/synthetic_sweep.py --size 720 1280 --samples 2 \
    --thresholds 0.1 --timing-pairs 2 --repeats 5 --threads 2    # + wall-clock speed-up of sparse
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from dynskip.evaluation.triplets import command_line, dense_psnr, frame_psnr, synthetic_triplets, time_pairs
from dynskip.models import build_model
from dynskip.skip.protocol import execution_mode

ROOT = Path(__file__).resolve().parents[2]


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, nargs=2, default=[272, 480])
    p.add_argument("--speed", type=float, default=8.0)
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.0, 0.02, 0.05, 0.1, 0.3, 0.5])
    p.add_argument("--weights", default="rife-v3.9")
    p.add_argument("--keep-padding", action="store_true", help="do not prune the padding tiles")
    p.add_argument("--active-halo", type=int, default=0, help="model.active_halo_tiles")
    p.add_argument("--timing-pairs", type=int, default=0, help="also time dense vs sparse on this many")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats per pair (medians)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--texture", default="noise", help="noise or dead_leaves (dynskip.data.synthetic)")
    p.add_argument("--sprites", action="store_true", help="FlyingChairs-like scenes (triplets.SPRITES)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    size = tuple(args.size)
    triplets = synthetic_triplets(args.samples, args.speed, args.texture, size, args.sprites)
    model = build_model(
        "ugsp-rife",
        weights=args.weights,
        prune_padding=not args.keep_padding,
        active_halo_tiles=args.active_halo,
    ).eval()
    out = {"size": args.size, "speed": args.speed, "texture": args.texture, "sprites": args.sprites}
    out.update(
        samples=args.samples,
        threads=args.threads,
        weights=args.weights,
        mode="masked",
        active_halo=args.active_halo,
    )
    out["command"] = command_line(ROOT)
    out.update(dense_psnr(model, triplets), thresholds={})
    print({k: v for k, v in out.items() if k != "thresholds"}, flush=True)
    for thr in args.thresholds:
        model.threshold = thr
        psnr, saved, b3 = [], [], []
        with execution_mode(model, "masked"):  # same numbers as sparse (tested), cheaper here
            for img0, gt, img1 in triplets:
                psnr.append(frame_psnr(model(img0[None], img1[None])[0], gt))
                rep = model.skip_report()
                saved.append(rep.macs_saved_fraction())
                b3.append(float(rep.units["block3.convblock"].fraction))
        out["thresholds"][thr] = {
            "psnr_drop": out["dense_psnr"] - statistics.fmean(psnr),
            "macs_saved": statistics.fmean(saved),
            "block3_active": statistics.fmean(b3),
        }
        if args.timing_pairs:  # dense vs sparse, interleaved (triplets.time_pairs)
            out["thresholds"][thr].update(time_pairs(model, triplets[: args.timing_pairs], args.repeats))
        print(thr, out["thresholds"][thr], flush=True)
    print(json.dumps(out))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
