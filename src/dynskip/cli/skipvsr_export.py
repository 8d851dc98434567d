"""``python -m dynskip.cli.skipvsr_export CKPT OUT.pt [--model skipvsr-v2|skipvsr]``: a SkipVSR training
checkpoint (Lightning) -> the small shipped format of its model (official backbone name, the fitted
policy or estimator, backbone deltas).

``skipvsr-v2`` (default) reads ``--patch`` (default: ``model.patch`` of the run's Hydra config,
``<run>/.hydra/config.yaml`` beside ``<run>/checkpoints/``, else the model's default) and ``--delta-format``
(``int8``, default, or ``float16``);
``skipvsr`` (the first design) reads ``--tile`` and
``--no-align`` (a run trained with ``temporal_align=false``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch
from omegaconf import OmegaConf
from torch import nn

from dynskip.methods.skipvsr.models import DELTA_FORMATS, export_skipvsr_v2_checkpoint
from dynskip.methods.skipvsr.v1.models import export_skipvsr_checkpoint
from dynskip.models import build_model


def run_patch(ckpt: Path) -> int | None:
    """``model.patch`` of the Hydra config of the run that wrote ``ckpt`` (None: no config, or no patch
    in it). A Lightning checkpoint holds tensors only, so the patch a run trained with lives there."""
    config = ckpt.resolve().parent.parent / ".hydra" / "config.yaml"
    if not config.is_file():
        return None
    patch = OmegaConf.select(OmegaConf.load(config), "model.patch", default=None)
    return None if patch is None else int(patch)


def _patch(args: argparse.Namespace) -> tuple[int | None, str]:
    """The patch the run trained with (None: the model's default) and where it came from."""
    if args.patch is not None:
        return args.patch, "from --patch"
    patch = run_patch(Path(args.ckpt))
    if patch is not None:
        return patch, "from the run's .hydra/config.yaml"
    return None, "the model's default: no --patch and no model.patch in a run config"


def _architecture(args: argparse.Namespace) -> tuple[dict, str]:
    """The constructor arguments the run was trained with (a checkpoint loads strictly into them) and,
    for the message, where the granularity came from (a wrong one stays visible)."""
    if args.model == "skipvsr":
        return {"tile": args.tile, "temporal_align": not args.no_align}, f"tile {args.tile}"
    patch, source = _patch(args)
    return ({} if patch is None else {"patch": patch}), source


def _export(model: nn.Module, args: argparse.Namespace, extra: dict) -> Path:
    if args.model == "skipvsr":
        return export_skipvsr_checkpoint(model, args.out, backbone="reds4", extra=extra)
    return export_skipvsr_v2_checkpoint(model, args.out, "reds4", extra, delta_format=args.delta_format)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dynskip.cli.skipvsr_export", description=__doc__)
    parser.add_argument("ckpt")
    parser.add_argument("out")
    parser.add_argument("--model", choices=("skipvsr-v2", "skipvsr"), default="skipvsr-v2")
    parser.add_argument(
        "--patch", type=int, default=None, help="skipvsr-v2: LR patch size (default: the run's, see above)"
    )
    parser.add_argument(
        "--delta-format",
        choices=DELTA_FORMATS,
        default="int8",
        help="skipvsr-v2: how backbone deltas are stored",
    )
    parser.add_argument("--tile", type=int, default=8, help="skipvsr: LR tile size")
    parser.add_argument("--no-align", action="store_true", help="skipvsr: the run was temporal_align=false")
    args = parser.parse_args(argv)
    architecture, source = _architecture(args)
    model = build_model(args.model, weights=args.ckpt, **architecture)
    step = int(torch.load(args.ckpt, map_location="cpu", weights_only=True).get("global_step", -1))
    path = _export(model, args, {"source_step": step})
    shape = f"patch {model.patch}, {source}" if args.model == "skipvsr-v2" else source
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {shape})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
