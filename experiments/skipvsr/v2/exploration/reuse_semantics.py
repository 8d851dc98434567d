"""Headroom of whole-trunk temporal reuse per LR patch on the frozen official BasicVSR (exploration).

The script as it ran for experiments/skipvsr/v2/README.md ("Design"): what a reused patch receives
(``residual``: stem + warped previous trunk residual; ``hidden``: the warped hidden state, dense
everywhere then blended) and what running patches' halos read (``masked``: the stem; ``fill``: the
reused state). Held-out frames of train clips only; PSNR on uint8-rounded RGB (its own helper, as run).

    OMP_NUM_THREADS=2 python reuse_semantics.py carphone,tree 12 residual,hidden 0.005,0.01,0.02 out.json
    OMP_NUM_THREADS=2 python reuse_semantics.py carphone,tree 12 masked,fill 0.005,0.01,0.02 out.json
"""

import json
import math
import sys

import torch

from dynskip.archs.basicvsr_arch import BasicVSR
from dynskip.archs.warp import flow_warp
from dynskip.assets import asset_path
from dynskip.data.degrade import degrade
from dynskip.data.footage import decoded_clip, split_range
from dynskip.models import build_model
from dynskip.skip.tiles import tile_statistics, tile_to_pixel

torch.set_num_threads(2)


class Reuse(BasicVSR):
    def setup(self, patch, tau, mode, max_stale, occ):
        self.patch, self.tau, self.mode, self.max_stale, self.occ = patch, tau, mode, max_stale, occ

    def forward(self, lr):
        self.lr = lr
        self.skipped = []
        return super().forward(lr)

    def propagate(self, lr, flows, direction):
        self.flows = flows
        self.prev = None
        self.prev_res = None
        self.stale = None
        return super().propagate(lr, flows, direction)

    def run_trunk(self, trunk, x_i, feat_prop, i, direction):
        stem = trunk.stem(self.trunk_input(x_i, feat_prop))
        dense = trunk.residual_blocks(stem)
        if self.prev is None or self.mode != "masked":
            pass
        self._skipmask = None
        if self.prev is None:
            out = dense
            gh, gw = math.ceil(x_i.shape[-2] / self.patch), math.ceil(x_i.shape[-1] / self.patch)
            self.stale = x_i.new_zeros(x_i.shape[0], 1, gh, gw)
        else:
            flow = self.flows[:, i] if direction == "backward" else self.flows[:, i - 1]
            prev_lr = flow_warp(self.lr[:, self.prev], flow)
            diff = tile_statistics((x_i - prev_lr).abs().mean(1, keepdim=True), self.patch)
            crit = diff
            if self.mode == "oracle":
                reuse = stem + flow_warp(self.prev_res, flow)
                crit = tile_statistics((dense - reuse).abs().mean(1, keepdim=True), self.patch)
            skip = (crit < self.tau) & (self.stale < self.max_stale)
            m = tile_to_pixel((~skip).float().flatten(0, 1), self.patch, x_i.shape[-2:]).view(
                x_i.shape[0], 1, *x_i.shape[-2:]
            )
            if self.mode in ("masked", "fill"):
                x = stem if self.mode == "masked" else m * stem + (1 - m) * feat_prop
                for blk in trunk.residual_blocks:
                    x = x + m * blk.residual(x)
                dense = x
            if self.mode in ("residual", "oracle"):
                reuse = stem + flow_warp(self.prev_res, flow)
            else:
                reuse = feat_prop
            out = m * dense + (1 - m) * reuse
            self.stale = torch.where(skip, self.stale + 1, torch.zeros_like(self.stale))
            self.skipped.append(skip.float().mean().item())
        self.prev_res = out - stem
        self.prev = i
        return out


def psnr(a, b):
    a = (a.clamp(0, 1) * 255).round()
    b = (b * 255).round()
    return (10 * torch.log10(255**2 / ((a - b) ** 2).mean(dim=(-1, -2, -3)))).mean().item()


def clip(name, n, crop=None):
    v = decoded_clip(asset_path(name))
    s, c = split_range(v.shape[0], "heldout")
    gt = v[s : s + min(c, n)].permute(0, 3, 1, 2).float() / 255
    if crop:
        gt = gt[..., : crop[0], : crop[1]]
    lr = degrade(gt, "bi").clamp(0, 1)
    lr = (lr * 255).round() / 255
    return lr[None], gt[None]


if __name__ == "__main__":
    dense_m = build_model("basicvsr", weights="reds4").eval()
    m = Reuse().eval()
    m.load_state_dict(dense_m.state_dict())
    res = []
    for name in sys.argv[1].split(","):
        lr, gt = clip(name, int(sys.argv[2]))
        with torch.no_grad():
            m.setup(16, -1, "residual", 0, False)
            base = psnr(m(lr), gt)
            for mode in sys.argv[3].split(","):
                for patch in (16, 32):
                    for tau in [float(t) for t in sys.argv[4].split(",")]:
                        for ms in (2, 4):
                            m.setup(patch, tau, mode, ms, False)
                            p = psnr(m(lr), gt)
                            sk = sum(m.skipped) / (2 * lr.shape[1])
                            r = dict(
                                clip=name,
                                mode=mode,
                                patch=patch,
                                tau=tau,
                                max_stale=ms,
                                skipped=round(sk, 3),
                                drop=round(base - p, 3),
                            )
                            print(r, flush=True)
                            res.append(r)
    with open(sys.argv[5], "w") as out:
        json.dump(res, out)
