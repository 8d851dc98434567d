"""Where a skipvsr-v2 forward spends its time on a clip where every patch runs, beside dense BasicVSR.

A seeded random clip (every patch changes every step) goes through official dense BasicVSR and the
default ``skipvsr-v2`` (after ``calibrate()``), alternately in one process for ``--rounds`` rounds; each
forward after a warm-up pass is profiled with cProfile, and the cumulative seconds of the parts are
printed: SpyNet (``compute_flows``), both trunks with their policy (``propagate``), the decisions
(``decide``, occlusion included), all ``flow_warp`` calls, and reconstruction. Synthetic input only.

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/exploration/policy_profile.py --size 68 160 --frames 10
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

import torch

from dynskip.models import build_model

PARTS = ("forward", "compute_flows", "propagate", "decide", "flow_warp", "reconstruct")


def cumulative(profile: cProfile.Profile) -> dict[str, float]:
    """Largest cumulative seconds per function name in ``PARTS`` (outermost call when names repeat)."""
    out = dict.fromkeys(PARTS, 0.0)
    for (_, _, name), (_, _, _, cum, _) in pstats.Stats(profile).stats.items():
        if name in out:
            out[name] = max(out[name], cum)
    return out


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, nargs=2, default=[68, 160], help="LR h w")
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    lr = torch.rand(1, args.frames, 3, *args.size, generator=torch.Generator().manual_seed(0))
    models = {name: build_model(name, weights="reds4").eval() for name in ("basicvsr", "skipvsr-v2")}
    models["skipvsr-v2"].calibrate(lr)
    print("round model " + " ".join(PARTS))
    for r in range(args.rounds):
        for name, model in models.items():
            model(lr)
            profile = cProfile.Profile()
            profile.enable()
            model(lr)
            profile.disable()
            parts = cumulative(profile)
            print(f"{r} {name} " + " ".join(f"{parts[p]:.3f}" for p in PARTS))


if __name__ == "__main__":
    main()
