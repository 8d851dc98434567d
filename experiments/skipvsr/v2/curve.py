"""Quality and density of SkipVSR v2 against dense BasicVSR on the held-out ranges of the train clips.

Masked execution (the same outputs as sparse, see tests), so no timing here: speed comes from
``dynskip evaluate --compare-dense``. Only train-role clips are accepted (footage rules).

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/curve.py --json out.json   # 20 frames per range
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import torch

from dynskip.assets import asset_path, footage_names
from dynskip.data.footage import decoded_clip, split_range
from dynskip.evaluation.footage import quality, skip_fields, vsr_workload
from dynskip.models import build_model


def heldout_frames(clip: str, frames: int) -> torch.Tensor:
    if clip not in footage_names("train"):
        raise SystemExit(f"{clip!r} is not a train-role clip {footage_names('train')}: not measured here")
    video = decoded_clip(asset_path(clip))
    start, count = split_range(video.shape[0], "heldout")
    return video[start : start + min(count, frames)].permute(0, 3, 1, 2).float().div(255.0)


def csv_list(kind):
    return lambda text: [kind(v) for v in text.split(",")]


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=csv_list(str), default=footage_names("train"))
    # 20 = what heldout_speed.sh times: reuse losses build up along the recurrence (round 4: box +0.08 dB
    # over 10 frames, +0.23 dB over 20), so a shorter screen passes what the timed run fails.
    ap.add_argument("--frames", type=int, default=20, help="first frames of each held-out range")
    ap.add_argument("--weights", default="reds4", help="skipvsr-v2 weights (built-in name or checkpoint)")
    ap.add_argument("--patches", type=csv_list(int), default=[16, 32])
    ap.add_argument("--max-stale", type=csv_list(int), default=[4])
    ap.add_argument("--occlusion-bounds", type=csv_list(float), default=[1.0])
    ap.add_argument("--error-refs", type=csv_list(float), default=[0.01])
    ap.add_argument("--change-references", type=csv_list(str), default=["frame"], help="frame and/or source")
    ap.add_argument("--halo-rings", type=csv_list(int), default=[0], help="SkipVSRv2 halo_ring values")
    ap.add_argument("--reuse-output", type=csv_list(int), default=[0], help="reuse_output: 0 and/or 1")
    ap.add_argument("--thresholds", type=csv_list(float), default=[0.5, 0.7, 0.85, 0.95])
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    dense = build_model("basicvsr", weights="reds4").eval()
    rows = []
    for clip in args.clips:
        gt = heldout_frames(clip, args.frames)
        work = vsr_workload(dense, gt, "cpu")
        base = quality(work.run(), work.targets)["psnr"]
        grid = itertools.product(
            args.patches,
            args.max_stale,
            args.occlusion_bounds,
            args.error_refs,
            args.change_references,
            args.halo_rings,
            args.reuse_output,
            args.thresholds,
        )
        for patch, stale, bound, ref, reference, ring, reuse, thr in grid:
            model = build_model(
                "skipvsr-v2",
                weights=args.weights,
                patch=patch,
                max_stale=stale,
                occlusion_bound=bound,
                error_ref=ref,
                change_reference=reference,
                halo_ring=ring,
                reuse_output=bool(reuse),
            )
            model.eval().execution_mode, model.threshold = "masked", thr
            work = vsr_workload(model, gt, "cpu")
            work.prepare()  # calibrate(): decisions read the measured cut-over, as in dynskip evaluate
            q = quality(work.run(), work.targets)["psnr"]
            row = dict(
                clip=clip, frames=len(gt), patch=patch, max_stale=stale, occlusion_bound=bound, error_ref=ref
            )
            row["change_reference"], row["halo_ring"], row["reuse_output"] = reference, ring, bool(reuse)
            row |= dict(threshold=thr, dense_psnr=base, psnr=q, drop=base - q)
            fields = skip_fields(work.reports)
            row["active"] = fields["active_fraction"]  # cost-weighted over every prunable unit
            row["active_per_group"] = fields["active_fraction_per_group"]
            print(
                json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}),
                flush=True,
            )
            rows.append(row)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
