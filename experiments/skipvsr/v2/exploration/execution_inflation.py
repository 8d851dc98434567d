"""Would SkipVSR v2 execute faster on coarser tiles than it decides on? The share coarser tiles compute.

Runs the default ``skipvsr-v2`` (8-px patches) on the held-out ranges of the train clips and, from the
per-step run masks it records (``frames/<trunk>``), computes what share of the trunk a 16-px or 32-px
execution tile would compute: a coarse tile runs if any 8-px patch in it runs. Steps that run every
patch are left out (they run densely whatever the tile). Executing 16-px tiles pays only if this
inflation stays below the engine's efficiency gain from 8-px to 16-px tiles.

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/exploration/execution_inflation.py --frames 20
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from dynskip.evaluation.footage import vsr_workload
from dynskip.models import build_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from curve import heldout_frames  # the held-out ranges and the footage-rule check


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", default="carphone,vtest,box,tree")
    ap.add_argument("--frames", type=int, default=20)
    args = ap.parse_args()
    model = build_model("skipvsr-v2", weights="reds4").eval()
    for clip in args.clips.split(","):
        work = vsr_workload(model, heldout_frames(clip, args.frames), "cpu")
        if work.prepare:
            work.prepare()
        work.run()
        for name, runs in model.recorder.maps.items():
            if not name.startswith("frames/"):
                continue
            runs = runs.float()  # (steps, 1, gh, gw), one per recurrent step
            partial = runs[runs.mean((1, 2, 3)) < 1.0]
            if not len(partial):
                print(f"{clip:9s} {name:22s} every step ran every patch")
                continue
            share = {k: F.max_pool2d(partial, k, ceil_mode=True).mean().item() for k in (1, 2, 4)}
            coarse = ", ".join(f"{8 * k}-px {share[k]:.3f} ({share[k] / share[1]:.2f}x)" for k in (2, 4))
            steps = f"{len(partial)}/{len(runs)}"
            print(f"{clip:9s} {name:22s} partial steps {steps}: 8-px {share[1]:.3f}, {coarse}")


if __name__ == "__main__":
    main()
