"""Outputs of two skipvsr-v2 checkpoints against each other (every patch running), 10 held-out frames of
carphone, tree and box: how much the int8 repacking of the shipped fp16 deltas changed the network.

    python experiments/skipvsr/v2/exploration/int8_check.py FP16.pt INT8.pt
"""

import sys

import torch

from dynskip.assets import asset_path
from dynskip.data.footage import decoded_clip, split_range
from dynskip.evaluation.footage import vsr_workload
from dynskip.metrics.psnr import psnr
from dynskip.models import build_model

torch.set_num_threads(2)
a = build_model("skipvsr-v2", weights=sys.argv[1], threshold=0.0).eval()
b = build_model("skipvsr-v2", weights=sys.argv[2], threshold=0.0).eval()
for clip in ["carphone", "tree", "box"]:
    v = decoded_clip(asset_path(clip))
    s, n = split_range(v.shape[0], "heldout")
    gt = v[s : s + 10].permute(0, 3, 1, 2).float().div(255)
    with torch.inference_mode():
        oa, ob = vsr_workload(a, gt, "cpu").run(), vsr_workload(b, gt, "cpu").run()
    ra, rb = (oa * 255).round(), (ob * 255).round()
    print(
        clip,
        "PSNR fp16 vs int8 output:",
        float(psnr(ob, oa).mean()),
        "uint8 levels differing:",
        float((ra != rb).float().mean()),
        "max",
        float((ra - rb).abs().max()),
        flush=True,
    )
