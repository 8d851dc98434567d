"""What running patches' halos read at each block, masked emulation (exploration, as it ran).

``state``: the reused hidden state (the model's semantics); ``ramp``: stem blended towards it by depth;
``previous``: the previous step's intermediate features of that block, warped. Held-out train frames.

    OMP_NUM_THREADS=2 python halo_fill.py carphone 10 state,ramp,previous 0.3,0.4
"""

import json
import sys

import torch

from dynskip.archs.warp import flow_warp
from dynskip.assets import asset_path
from dynskip.data.footage import decoded_clip, split_range
from dynskip.evaluation.footage import quality, skip_fields, vsr_workload
from dynskip.methods.skipvsr.arch import SkipVSRv2
from dynskip.methods.skipvsr.policy import pixel_mask
from dynskip.models import build_model


def heldout_frames(clip, frames):
    video = decoded_clip(asset_path(clip))
    start, count = split_range(video.shape[0], "heldout")
    return video[start : start + min(count, frames)].permute(0, 3, 1, 2).float().div(255.0)


torch.set_num_threads(2)


class Fill(SkipVSRv2):
    fill = "state"

    def propagate(self, lr, flows, direction):
        self._prev_inter = None
        return super().propagate(lr, flows, direction)

    def _run_masked(self, trunk, stem, feat_prop, run):
        m = pixel_mask(run, self.patch, tuple(stem.shape[-2:]))
        n = len(trunk.residual_blocks)
        prev = self._prev_inter
        x = stem if self.fill != "state" else m * stem + (1 - m) * feat_prop
        inter = []
        for k, block in enumerate(trunk.residual_blocks):
            if self.fill == "ramp":
                fillk = stem + (k / n) * (feat_prop - stem)
                x = m * x + (1 - m) * fillk
            elif self.fill == "previous" and prev is not None:
                x = m * x + (1 - m) * flow_warp(prev[k], self._step["flow"])
            x = x + m * block.residual(x)
            inter.append(x)
        x = m * x + (1 - m) * feat_prop
        self._prev_inter = inter
        return x

    def run_trunk(self, trunk, x_i, feat_prop, frame_index, direction):
        if self._step["prev"] is not None:
            self._step["flow"] = self._flows_to_previous(frame_index, direction)[0]
        self._step["cur"] = frame_index
        out = super().run_trunk(trunk, x_i, feat_prop, frame_index, direction)
        if self._step.get("full"):
            pass
        return out

    def _run_all(self, trunk, stem):
        inter = []
        x = stem
        for block in trunk.residual_blocks:
            x = block(x)
            inter.append(x)
        self._prev_inter = inter
        return x


dense = build_model("basicvsr", weights="reds4").eval()
with torch.inference_mode():
    for clip in sys.argv[1].split(","):
        gt = heldout_frames(clip, int(sys.argv[2]))
        work = vsr_workload(dense, gt, "cpu")
        base = quality(work.run(), work.targets)["psnr"]
        for fill in sys.argv[3].split(","):
            for thr in [float(t) for t in sys.argv[4].split(",")]:
                m = Fill(max_stale=4)
                m.load_state_dict(build_model("skipvsr-v2", weights="reds4").state_dict())
                m.eval()
                m.fill = fill
                m.execution_mode = "masked"
                m.threshold = thr
                work = vsr_workload(m, gt, "cpu")
                q = quality(work.run(), work.targets)["psnr"]
                print(
                    json.dumps(
                        dict(
                            clip=clip,
                            fill=fill,
                            thr=thr,
                            drop=round(base - q, 4),
                            active=round(skip_fields(work.reports)["active_fraction"], 4),
                        )
                    ),
                    flush=True,
                )
