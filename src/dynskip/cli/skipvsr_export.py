"""``python -m dynskip.cli.skipvsr_export CKPT OUT.pt [--model skipvsr-v2|skipvsr]``: a SkipVSR training
checkpoint (Lightning) -> the small shipped format of its model (official backbone name, the fitted
policy or estimator, backbone deltas).

``skipvsr-v2`` (default) reads ``--patch`` and ``--delta-format`` (``int8``, default, or ``float16``);
``skipvsr`` (the first design) reads ``--tile`` and
``--no-align`` (a run trained with ``temporal_align=false``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from dynskip.methods.skipvsr.models import DELTA_FORMATS, export_skipvsr_v2_checkpoint
from dynskip.methods.skipvsr.v1.models import export_skipvsr_checkpoint
from dynskip.models import build_model


def _architecture(args: argparse.Namespace) -> dict:
    """The constructor arguments the run was trained with (a checkpoint loads strictly into them)."""
    if args.model == "skipvsr":
        return {"tile": args.tile, "temporal_align": not args.no_align}
    return {"patch": args.patch}


def _export(model: nn.Module, args: argparse.Namespace, extra: dict) -> Path:
    if args.model == "skipvsr":
        return export_skipvsr_checkpoint(model, args.out, backbone="reds4", extra=extra)
    return export_skipvsr_v2_checkpoint(model, args.out, "reds4", extra, delta_format=args.delta_format)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dynskip.cli.skipvsr_export", description=__doc__)
    parser.add_argument("ckpt")
    parser.add_argument("out")
    parser.add_argument("--model", choices=("skipvsr-v2", "skipvsr"), default="skipvsr-v2")
    parser.add_argument("--patch", type=int, default=16, help="skipvsr-v2: LR patch size")
    parser.add_argument(
        "--delta-format",
        choices=DELTA_FORMATS,
        default="int8",
        help="skipvsr-v2: how backbone deltas are stored",
    )
    parser.add_argument("--tile", type=int, default=8, help="skipvsr: LR tile size")
    parser.add_argument("--no-align", action="store_true", help="skipvsr: the run was temporal_align=false")
    args = parser.parse_args(argv)
    model = build_model(args.model, weights=args.ckpt, **_architecture(args))
    step = int(torch.load(args.ckpt, map_location="cpu", weights_only=True).get("global_step", -1))
    path = _export(model, args, {"source_step": step})
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
