"""Where a skipvsr-v2 forward spends its time on a clip where every patch runs (cProfile, one pass).

A seeded random clip (every patch changes every step) through the default ``skipvsr-v2`` after
``calibrate()`` and one warm-up pass; prints the functions by cumulative time, so the policy's share
(``decide``, ``patch_occlusion``, the reference's extra ``flow_warp`` calls) can be read beside the convs.
Synthetic input only: no footage is read.

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/exploration/policy_profile.py --size 68 160 --frames 10
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

import torch

from dynskip.models import build_model


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, nargs=2, default=[68, 160], help="LR h w")
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--rows", type=int, default=35, help="functions to print")
    args = ap.parse_args()
    lr = torch.rand(1, args.frames, 3, *args.size, generator=torch.Generator().manual_seed(0))
    model = build_model("skipvsr-v2", weights="reds4").eval()
    model.calibrate(lr)
    model(lr)
    profile = cProfile.Profile()
    profile.enable()
    model(lr)
    profile.disable()
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.rows)


if __name__ == "__main__":
    main()
