"""How fast is BasicVSR's reconstruction on patch windows against the dense one?

Times ``BasicVSR.reconstruct_residual`` (official REDS4 weights) on the whole LR map against
:func:`dynskip.methods.skipvsr.reconstruct.reconstruct_patches` on a random share of 8-px patches
(exact windows, ``RECONSTRUCT_REACH`` px around each), alternating, median of ``--repeats``.
Efficiency = dense time x share / windows time. This sets ``RECONSTRUCT_DENSE_ABOVE``.

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/exploration/reconstruct_windows.py --json OUT.json
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import torch

from dynskip.methods.skipvsr.reconstruct import reconstruct_patches
from dynskip.models import build_model
from dynskip.utils.timing import interleaved_median


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="36x44,68x160,144x192", help="LR HxW, comma-separated")
    ap.add_argument("--fractions", default="1.0,0.8,0.6,0.4,0.2")
    ap.add_argument("--patch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    net = build_model("basicvsr", weights="reds4").eval()
    gen = torch.Generator().manual_seed(0)
    rows = []
    for size in args.sizes.split(","):
        h, w = (int(v) for v in size.split("x"))
        fb, ff = (torch.randn(1, 64, h, w, generator=gen) for _ in range(2))
        gh, gw = -(-h // args.patch), -(-w // args.patch)
        for fraction in (float(f) for f in args.fractions.split(",")):
            chosen = torch.zeros(gh * gw, dtype=torch.bool)
            chosen[torch.randperm(gh * gw, generator=gen)[: max(1, round(fraction * gh * gw))]] = True
            sample, row, col = chosen.view(1, gh, gw).nonzero(as_tuple=True)
            runs = {
                "dense": partial(net.reconstruct_residual, fb, ff),
                "windows": partial(reconstruct_patches, net, fb, ff, sample, row, col, args.patch),
            }
            times = interleaved_median(runs, repeats=args.repeats, warmup=1)  # warm-up: oneDNN's kernels
            dense, windows = times["dense"], times["windows"]
            share = len(sample) / (gh * gw)
            row_ = dict(size=[h, w], patch=args.patch, share=share, dense_ms=dense * 1e3)
            row_ |= dict(windows_ms=windows * 1e3, efficiency=dense * share / windows)
            rows.append(row_)
            print(f"{h}x{w} share {share:.2f}: dense {dense * 1e3:.1f} ms, windows {windows * 1e3:.1f} ms, "
                  f"efficiency {row_['efficiency']:.2f}", flush=True)  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
