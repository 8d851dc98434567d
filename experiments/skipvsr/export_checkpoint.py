"""Export a Lightning checkpoint of a SkipVSR run to the small shipped format.

python experiments/skipvsr/export_checkpoint.py RUN/checkpoints/last.ckpt OUT.pt [--no-align]
"""

from __future__ import annotations

import argparse

import torch

from dynskip.methods.skipvsr.v1.models import export_skipvsr_checkpoint
from dynskip.models import build_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("ckpt")
    parser.add_argument("out")
    parser.add_argument("--no-align", action="store_true", help="the run was temporal_align=false")
    parser.add_argument("--tile", type=int, default=8)
    args = parser.parse_args()
    model = build_model("skipvsr", weights=args.ckpt, temporal_align=not args.no_align, tile=args.tile)
    ckpt = torch.load(args.ckpt, map_location="cpu", weights_only=True)
    extra = {"source_step": int(ckpt.get("global_step", -1))}
    path = export_skipvsr_checkpoint(model, args.out, backbone="reds4", extra=extra)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
