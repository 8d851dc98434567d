"""Exploration: SkipVSR v2 without and with a one-patch halo ring (``halo_ring`` 0 and 1), masked.

A running patch amid reused ones reads reused states in its halos for 30 blocks (README, round 5).
With ``halo_ring=1`` the blocks also run on the 3x3 patches around each chosen patch, and only the
chosen patches keep the result. ``active`` is the recorder's share of computed patches, ring included
(what tiles compute). Held-out frames of train clips only (``curve.heldout_frames`` refuses others).

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/exploration/halo_ring.py --clips box,vtest \\
        --configs frame:2:0.2,source:4:0.4 --json experiments/skipvsr/v2/results/halo_ring.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from curve import heldout_frames

from dynskip.evaluation.footage import quality, skip_fields, vsr_workload
from dynskip.models import build_model


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", default="box,vtest")
    ap.add_argument("--configs", default="frame:2:0.2,source:4:0.4", help="reference:max_stale:threshold,...")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    dense = build_model("basicvsr", weights="reds4").eval()
    rows = []
    for clip in args.clips.split(","):
        gt = heldout_frames(clip, args.frames)
        base = quality(vsr_workload(dense, gt, "cpu").run(), gt)["psnr"]
        for config in args.configs.split(","):
            reference, stale, thr = config.split(":")
            for ring in (0, 1):
                knobs = dict(change_reference=reference, max_stale=int(stale), halo_ring=ring)
                model = build_model("skipvsr-v2", weights="reds4", threshold=float(thr), **knobs).eval()
                model.execution_mode = "masked"
                work = vsr_workload(model, gt, "cpu")
                work.prepare()  # calibrate(), as dynskip evaluate does
                q = quality(work.run(), gt)["psnr"]
                row = dict(clip=clip, frames=len(gt), threshold=float(thr), **knobs, drop=base - q)
                row["active"] = skip_fields(work.reports)["active_fraction"]
                print(json.dumps(row), flush=True)
                rows.append(row)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
