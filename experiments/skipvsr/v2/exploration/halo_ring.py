"""Exploration: running patches with a one-patch halo ring computed and thrown away (masked only).

A running patch amid reused ones reads reused states in its halos for 30 blocks (README, round 5).
Here the blocks run on the run mask dilated by one patch (3x3 patches), and only the patches the
policy chose keep the result; the ring keeps the reused state. The cost reported is the dilated
share (what tiles would compute). Held-out frames of train clips only.

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/exploration/halo_ring.py --clips box,vtest \\
        --configs frame:2:0.2,source:4:0.4 --json experiments/skipvsr/v2/results/halo_ring.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from curve import heldout_frames

from dynskip.evaluation.footage import quality, vsr_workload
from dynskip.methods.skipvsr.arch import SkipVSRv2
from dynskip.methods.skipvsr.policy import pixel_mask
from dynskip.models import build_model


class RingHalo(SkipVSRv2):
    """Masked execution on the run mask dilated by ``ring`` patches; the ring's results are discarded."""

    ring = 1
    computed: list[float]

    def _run_masked(self, trunk, stem: Tensor, feat_prop: Tensor, run: Tensor) -> Tensor:
        k = 2 * self.ring + 1
        wide = nn.functional.max_pool2d(run, k, 1, self.ring)
        self.computed.append(float((wide - run).mean()))  # the ring's extra share
        hw = tuple(stem.shape[-2:])
        m_wide, m_core = pixel_mask(wide, self.patch, hw), pixel_mask(run, self.patch, hw)
        x = m_wide * stem + (1 - m_wide) * feat_prop
        for block in trunk.residual_blocks:
            x = x + m_wide * block.residual(x)
        return m_core * x + (1 - m_core) * feat_prop


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
                model = build_model(
                    "skipvsr-v2", weights="reds4", change_reference=reference, max_stale=int(stale)
                )
                if ring:
                    model = RingHalo(**{"change_reference": reference, "max_stale": int(stale)}).eval()
                    model.load_state_dict(build_model("skipvsr-v2", weights="reds4").state_dict())
                    model.computed = []
                model.eval().execution_mode, model.threshold = "masked", float(thr)
                work = vsr_workload(model, gt, "cpu")
                work.prepare()
                q = quality(work.run(), gt)["psnr"]
                steps = [float(v) for v in model.frame_density]
                row = dict(clip=clip, reference=reference, max_stale=int(stale), threshold=float(thr))
                row |= dict(ring=ring, frames=len(gt), drop=base - q, chosen=sum(steps) / len(steps))
                # computed share: the chosen patches plus the ring, over all 2T recurrent steps
                extra = sum(model.computed) / (2 * len(gt)) if ring else 0.0
                row["computed"] = row["chosen"] + extra
                print(json.dumps(row), flush=True)
                rows.append(row)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
