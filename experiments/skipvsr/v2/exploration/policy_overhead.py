"""What the reuse policy costs on a clip where every step ends up running every patch.

A seeded random clip (every patch changes every step, so the policy runs everything, or the
computed share reaches the cut-over) is super-resolved by official dense BasicVSR and by the default
``skipvsr-v2`` (sparse, calibrated as ``dynskip evaluate`` does), interleaved in one process, median
of the repeats. Synthetic input only: no footage is read.

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/exploration/policy_overhead.py --size 68 160 --frames 10 \
        --json experiments/skipvsr/v2/results/policy_overhead_68x160.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from dynskip.models import build_model
from dynskip.utils.timing import interleaved_median


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, nargs=2, default=[68, 160], help="LR h w")
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the row here")
    args = ap.parse_args()
    lr = torch.rand(1, args.frames, 3, *args.size, generator=torch.Generator().manual_seed(0))
    dense = build_model("basicvsr", weights="reds4").eval()
    skip = build_model("skipvsr-v2", weights="reds4").eval()
    skip.calibrate(lr)
    skip(lr)
    computed = float(skip.skip_report().density(prunable_only=True))
    seconds = interleaved_median({"dense": lambda: dense(lr), "skip": lambda: skip(lr)}, args.repeats)
    row = {"size": args.size, "frames": args.frames, "computed": computed, **seconds}
    row["skip_over_dense"] = seconds["skip"] / seconds["dense"]
    print(json.dumps(row))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
