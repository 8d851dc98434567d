"""``python -m dynskip.cli.ugsp_export LIGHTNING_CKPT OUT.pt``: a ugsp-rife run -> the shipped format."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from dynskip.methods.ugsp.models import DELTA_DTYPES, _state_from_lightning, export_checkpoint, ugsp_rife
from dynskip.zoo.checkpoint import load_state_dict_strict


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dynskip.cli.ugsp_export", description=__doc__)
    parser.add_argument("ckpt", help="Lightning checkpoint of a ugsp-rife run (or a full state dict)")
    parser.add_argument("out", help="output .pt: heads + backbone deltas against the official RIFE v3.9")
    parser.add_argument("--delta-tolerance", type=float, default=0.0)
    parser.add_argument(
        "--delta-dtype", choices=sorted(DELTA_DTYPES), default="float32", help="storage type of the deltas"
    )
    args = parser.parse_args(argv)
    model = ugsp_rife()
    load_state_dict_strict(model, _state_from_lightning(args.ckpt), source=args.ckpt)
    out = export_checkpoint(model, args.out, args.delta_tolerance, args.delta_dtype)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.3f} MB, {len(model.state_dict())} tensors in the model)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
