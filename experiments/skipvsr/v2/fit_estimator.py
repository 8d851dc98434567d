"""Phase 1 of SkipVSR v2 on the real footage pool: fit the reuse-error estimator on the train ranges.

Windows of ``--frames`` frames, evenly spaced over each train clip's train range (never its held-out
range), BI x4 degraded; large clips are cropped to ``--crop`` HR pixels (top left) to bound the time.
Writes a ``skipvsr-v2`` checkpoint (official REDS4 backbone, no deltas, the fitted policy).

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/fit_estimator.py --out logs/skipvsr_v2/phase1.pt
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from dynskip.assets import asset_path, footage_names
from dynskip.data.degrade import degrade
from dynskip.data.footage import decoded_clip, split_range
from dynskip.methods.skipvsr.labels import fit_reuse_estimator, reuse_samples
from dynskip.methods.skipvsr.models import export_skipvsr_v2_checkpoint
from dynskip.models import build_model


def train_windows(clip: str, windows: int, frames: int, crop: int) -> list[torch.Tensor]:
    video = decoded_clip(asset_path(clip))
    start, count = split_range(video.shape[0], "train")
    starts = torch.linspace(start, start + count - frames, windows).round().long().tolist()
    out = []
    for s in starts:
        gt = video[s : s + frames, :crop, :crop].permute(0, 3, 1, 2).float().div(255.0)
        out.append(degrade(gt, "bi")[None])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--windows", type=int, default=3, help="windows per clip")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--crop", type=int, default=256, help="HR crop of each frame (top left), pixels")
    ap.add_argument("--patch", type=int, default=16)
    args = ap.parse_args()
    t0 = time.time()
    model = build_model("skipvsr-v2", weights="reds4", patch=args.patch).eval()
    clips = [
        w for c in footage_names("train") for w in train_windows(c, args.windows, args.frames, args.crop)
    ]
    features, errors = reuse_samples(model, clips)
    stats = fit_reuse_estimator(model, features, errors)
    stats |= {"seconds": time.time() - t0, "clips": footage_names("train"), **vars(args)}
    stats["out"] = str(args.out)
    stats["weights"] = model.policy.estimator.linear.weight.flatten().tolist()
    stats["bias"] = float(model.policy.estimator.linear.bias.detach())
    export_skipvsr_v2_checkpoint(model, args.out, extra={"phase1": stats})
    print(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()
