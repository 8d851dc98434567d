"""``python -m dynskip.cli.skipvsr_export CKPT OUT.pt [--patch 16]``: a SkipVSR v2 training checkpoint
(Lightning) -> the small skipvsr-v2 format (fp16 deltas)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import torch

from dynskip.methods.skipvsr.models import export_skipvsr_v2_checkpoint
from dynskip.models import build_model


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dynskip.cli.skipvsr_export", description=__doc__)
    parser.add_argument("ckpt")
    parser.add_argument("out")
    parser.add_argument("--patch", type=int, default=16)
    args = parser.parse_args(argv)
    model = build_model("skipvsr-v2", weights=args.ckpt, patch=args.patch)
    step = int(torch.load(args.ckpt, map_location="cpu", weights_only=True).get("global_step", -1))
    path = export_skipvsr_v2_checkpoint(model, args.out, backbone="reds4", extra={"source_step": step})
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
