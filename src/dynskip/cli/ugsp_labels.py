"""``python -m dynskip.cli.ugsp_labels``: compute (or refresh) the UGSP mask-label cache of a video, synthetic
clips or a dataset config's split from a phase-1 model (the labels: :mod:`dynskip.methods.ugsp.labels`).

Examples::

    python -m dynskip.cli.ugsp_labels --weights RUN/checkpoints/last.ckpt --video carphone \
        --start 0 --count 90 --cache data/ugsp_labels --rule quantile --keep 0.6 0.4
    # a dataset config's split (whole frames; training crops and flips the labels like each sample):
    python -m dynskip.cli.ugsp_labels --model ugsp --weights PHASE1.ckpt --data vimeo90k_triplet \
        --split train --levels decoder8 decoder4 decoder2 --keep 0.6 0.45 0.35 --cell-px 16 \
        --override paths.data_dir=/datasets
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import torch

from dynskip.methods.ugsp.labels import (
    LabelCache,
    LabelSettings,
    build_label_cache,
    fingerprint_module,
    fingerprint_path,
)
from dynskip.models import build_model
from dynskip.zoo.checkpoint import load_state_dict_strict


def _config_dataset(name: str, split: str, overrides: Sequence[str]):
    """The ``split`` dataset of ``conf/data/<name>.yaml`` with whole frames (its augmentation removed):
    labels are cached per whole frame, and training cuts them like each crop."""
    import tempfile

    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from dynskip.config import compose_config

    with tempfile.TemporaryDirectory() as out:
        cfg = compose_config("train", [f"data={name}", *overrides], out)
    node = cfg.data.get(split)
    if node is None:
        raise ValueError(f"data={name} has no {split!r} dataset (its config sets data.{split} to null)")
    node = OmegaConf.to_container(node, resolve=True)
    node.pop("augment", None)
    data = instantiate(node)
    root = node.get("root")
    source = hashlib.sha256(json.dumps(node, sort_keys=True, default=str).encode()).hexdigest()[:16]
    if root is not None and Path(root).exists():
        source += "-" + fingerprint_path(root)
    return data, f"{name}-{split}", source


def _dataset(args: argparse.Namespace):
    if args.data:
        return _config_dataset(args.data, args.split, args.override)
    if args.synthetic:
        from dynskip.data.synthetic import SyntheticClips

        data = SyntheticClips(task="vfi", num_samples=args.synthetic, size=args.size, seed=args.seed)
        return data, f"synthetic-vfi-{args.synthetic}-{args.size}-{args.seed}", f"synthetic:{args.seed}"
    from dynskip.assets import ASSETS, asset_path
    from dynskip.data.video_clips import VideoClips

    path = asset_path(args.video) if args.video in ASSETS else Path(args.video)
    data = VideoClips(path, task="vfi", start=args.start, count=args.count)
    return data, f"video-{Path(path).stem}", fingerprint_path(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Compute (or refresh) the label cache of a dataset from a phase-1 UGSP model."""
    parser = argparse.ArgumentParser(
        prog="python -m dynskip.cli.ugsp_labels",
        description="UGSP mask labels: per-level keep labels from the phase-1 uncertainty, "
        "and their on-disk cache.",
    )
    parser.add_argument("--model", default="ugsp-rife", help="registered UGSP model")
    parser.add_argument("--weights", required=True, help="built-in name, checkpoint or Lightning ckpt")
    parser.add_argument("--video", default="carphone", help="asset name or video path")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--synthetic", type=int, default=0, help="use N synthetic clips instead of a video")
    parser.add_argument(
        "--data",
        default=None,
        help="a conf/data config (e.g. vimeo90k_triplet) instead of a video: its --split",
    )
    parser.add_argument("--split", default="train", choices=("train", "val", "test"))
    parser.add_argument(
        "--override", nargs="*", default=[], help="Hydra overrides for --data, e.g. paths.data_dir=/datasets"
    )
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default="data/ugsp_labels")
    parser.add_argument("--rule", default="quantile", choices=("quantile", "threshold"))
    parser.add_argument("--keep", type=float, nargs="+", default=[0.6, 0.4])
    parser.add_argument("--levels", nargs="+", default=["block2", "block3"])
    parser.add_argument("--cell-px", type=int, default=32)
    parser.add_argument("--pool", default="max", choices=("max", "mean"))
    args = parser.parse_args(argv)

    if str(args.weights).endswith(".ckpt"):
        model = build_model(args.model)
        state = torch.load(args.weights, map_location="cpu", weights_only=True)["state_dict"]
        state = {k.removeprefix("model."): v for k, v in state.items()}
        load_state_dict_strict(model, state, source=args.weights)
    else:
        model = build_model(args.model, weights=args.weights)
    data, dataset_id, source = _dataset(args)
    settings = LabelSettings(tuple(args.levels), tuple(args.keep), args.rule, args.cell_px, args.pool)
    cache = LabelCache(Path(args.cache), dataset_id, settings, source, fingerprint_module(model)).open()
    done = build_label_cache(model, (data[i] for i in range(len(data))), cache)
    print(f"labels: {done} computed, {len(data) - done} cached, in {cache.folder} (rebuilt={cache.rebuilt})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
