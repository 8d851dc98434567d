"""Where does SkipVSR v2 lose quality: the fine-tune or the reuse? Checked on synthetic clips only.

For seeded synthetic VSR clips (allowed data), PSNR against GT of: official dense BasicVSR, the given
weights with every patch running (threshold 0: the fine-tune alone), and the given weights at each
threshold (masked = sparse outputs, calibrated first as ``dynskip evaluate`` does). Drops are against
official dense BasicVSR.

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/exploration/synthetic_check.py \
        --weights src/dynskip/checkpoints/skipvsr_v2_footage.pt --json OUT.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from dynskip.data.synthetic import SyntheticClips
from dynskip.evaluation.footage import quality, skip_fields, vsr_workload
from dynskip.models import build_model


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="footage")
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.3])
    ap.add_argument("--textures", nargs="+", default=["noise", "dead_leaves"])
    ap.add_argument("--speeds", type=float, nargs="+", default=[0.0, 1.0, 4.0])
    ap.add_argument("--size", type=int, nargs=2, default=[144, 256], help="GT h w")
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--max-stale", type=int, default=None, help="policy knob (default: the model's)")
    ap.add_argument("--change-reference", default=None, help="frame or source (default: the model's)")
    ap.add_argument("--halo-ring", type=int, default=None, help="patches (default: the model's)")
    ap.add_argument("--patch", type=int, default=None, help="LR px (default: the model's)")
    ap.add_argument("--reuse-output", type=int, choices=(0, 1), default=None, help="(default: the model's)")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    knob_args = {
        "max_stale": args.max_stale,
        "change_reference": args.change_reference,
        "halo_ring": args.halo_ring,
        "patch": args.patch,
        "reuse_output": None if args.reuse_output is None else bool(args.reuse_output),
    }
    knobs = {name: value for name, value in knob_args.items() if value is not None}
    dense = build_model("basicvsr", weights="reds4").eval()
    rows = []
    for texture in args.textures:
        for speed in args.speeds:
            data = SyntheticClips(
                "vsr",
                1,
                tuple(args.size),
                args.frames,
                seed=7,
                max_speed=speed,
                texture=texture,
                num_objects=3,
            )
            gt = data[0]["gt"]
            base = quality(vsr_workload(dense, gt, "cpu").run(), gt)["psnr"]
            for thr in [0.0, *args.thresholds]:
                model = build_model("skipvsr-v2", weights=args.weights, threshold=thr, **knobs).eval()
                model.execution_mode = "masked"
                work = vsr_workload(model, gt, "cpu")
                work.prepare()
                q = quality(work.run(), gt)["psnr"]
                row = dict(
                    texture=texture,
                    speed=speed,
                    threshold=thr,
                    max_stale=model.policy.max_stale,
                    change_reference=model.policy.change_reference,
                    halo_ring=model.halo_ring,
                    patch=model.patch,
                    reuse_output=model.reuse_output,
                    dense_psnr=base,
                    psnr=q,
                    drop=base - q,
                )
                row["active"] = skip_fields(work.reports)["active_fraction"]
                rows.append(row)
                print(f"{texture} speed {speed} threshold {thr}: ", end="")
                print(f"drop {base - q:+.3f} dB, active {row['active']:.3f}", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
