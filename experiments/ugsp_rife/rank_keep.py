"""Do the mask heads rank block-3 tiles usefully, even where their absolute calibration is off?

Instead of ``p_keep >= threshold``, keep a fixed fraction ``q`` of each frame's valid block-3 tiles:
the top ``q`` by the head's ``p_keep`` ("head"), or a random ``q`` ("random", the no-information
baseline). Masked mode (same numbers as sparse). Allowed footage only: carphone frames 90..119 and
synthetic clips (noise / dead leaves, seed 7; ``sprites_noise`` / ``sprites_dead_leaves``: the
FlyingChairs-like scenes).

Besides the PSNR drop it splits the squared error (against the ground truth, relative to dense RIFE's)
between pixels of active and of pruned block-3 tiles: an active tile is exact only if its neighbours'
pruning does not reach it. ``--fill input`` replaces UGSP's zeros at pruned positions inside the
convblock by each layer's input (a pass-through), to see whether a softer fill spares the neighbours.

    OMP_NUM_THREADS=1 python experiments/ugsp_rife/rank_keep.py --weights rife-v3.9 --json out.json
    OMP_NUM_THREADS=1 python experiments/ugsp_rife/rank_keep.py --sources noise dead_leaves --fill input
    OMP_NUM_THREADS=1 python experiments/ugsp_rife/rank_keep.py --active-halo 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from dynskip.archs.rife_arch import PAD_MULTIPLE
from dynskip.evaluation.triplets import command_line, dense_psnr, frame_psnr, read_frames, synthetic_triplets
from dynskip.methods.ugsp import rife_arch
from dynskip.methods.ugsp.pruning import expand_mask, valid_tile_mask
from dynskip.models import build_model
from dynskip.skip.protocol import execution_mode

ROOT = Path(__file__).resolve().parents[2]
ORIGINAL_SAMPLE_MASK = rife_arch.sample_mask
ORIGINAL_PRUNED_CHAIN = rife_arch.run_pruned_chain


def pass_through_chain(x: torch.Tensor, layers: torch.nn.Sequential, mask: torch.Tensor, mode: str):
    """Masked chain whose pruned positions carry each layer's input instead of zeros (masked mode)."""
    if mode != "masked":
        return ORIGINAL_PRUNED_CHAIN(x, layers, mask, mode)
    m = expand_mask(mask, tuple(x.shape[-2:]))
    y = x
    for layer in layers:
        y = m * layer(y) + (1 - m) * y
    return m * y  # pruned positions: a zero residual, as in UGSP's semantics


def add_error_split(
    acc: dict, pred: torch.Tensor, dense: torch.Tensor, gt: torch.Tensor, tiles: torch.Tensor, tile: int
) -> None:
    """Add the squared errors of ``pred`` and ``dense`` (``(3, H, W)``) against ``gt`` on the pixels of
    active / pruned tiles (``tiles``: the ``(1, 1, gh, gw)`` block-3 mask on the padded grid) to ``acc``."""
    h, w = gt.shape[-2:]
    active = tiles.float().repeat_interleave(tile, -2).repeat_interleave(tile, -1)[0, 0, :h, :w].bool()
    err_pred = ((pred.clamp(0, 1) - gt) ** 2).mean(0)
    err_dense = ((dense.clamp(0, 1) - gt) ** 2).mean(0)
    for name, where in (("active", active), ("pruned", ~active)):
        sums = acc.setdefault(name, [0.0, 0.0])
        sums[0] += float(err_dense[where].sum())
        sums[1] += float(err_pred[where].sum())


def ranked_sample_mask(
    keep: float, order: str, valid_hw: tuple[int, int], finest: tuple[int, int], tile: int
):
    """A ``sample_mask`` that keeps the top ``keep`` of the valid finest-level tiles by ``order``.

    Coarser levels keep the shipped rule (``p_keep >= threshold``); padding tiles rank last.
    """
    generator = torch.Generator().manual_seed(0)

    def sample(logits, mode, temperature=1.0, threshold=0.5, training=False):
        if tuple(logits.shape[-2:]) != finest:
            return ORIGINAL_SAMPLE_MASK(logits, mode, temperature, threshold, training)
        if order == "head":
            score = logits.softmax(dim=1)[:, 1:2]
        else:
            score = torch.rand(logits[:, :1].shape, generator=generator)
        padded = (finest[0] * tile, finest[1] * tile)
        valid = valid_tile_mask(finest, padded, valid_hw, score).flatten().bool()
        flat = score.flatten(1).masked_fill(~valid, -1.0)
        k = max(1, round(keep * int(valid.sum())))
        mask = torch.zeros_like(flat).scatter_(1, flat.topk(k, dim=1).indices, 1.0)
        return mask.view_as(score).to(logits.dtype)

    return sample


def triplets_for(source: str, samples: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    if source == "carphone":
        frames = read_frames("carphone", 30, 90)
        return [(frames[i], frames[i + 1], frames[i + 2]) for i in range(0, len(frames) - 2, 2)]
    if source.startswith("sprites_"):  # sprites_noise, sprites_dead_leaves: FlyingChairs-like scenes
        return synthetic_triplets(samples, texture=source.removeprefix("sprites_"), sprites=True)
    return synthetic_triplets(samples, texture=source)


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--weights", default="rife-v3.9")
    p.add_argument("--sources", nargs="+", default=["carphone", "noise", "dead_leaves"])
    p.add_argument("--keep", type=float, nargs="+", default=[0.2, 0.4, 0.6])
    p.add_argument("--samples", type=int, default=8)
    p.add_argument(
        "--fill", choices=["zeros", "input"], default="zeros", help="pruned positions in the chain"
    )
    p.add_argument(
        "--active-halo", type=int, default=0, help="model.active_halo_tiles (1: active tiles exact)"
    )
    p.add_argument("--json", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.fill == "input":
        rife_arch.run_pruned_chain = pass_through_chain
    model = build_model("ugsp-rife", weights=args.weights, active_halo_tiles=args.active_halo).eval()
    out: dict = {"weights": args.weights, "fill": args.fill, "active_halo": args.active_halo}
    out.update(command=command_line(ROOT), sources={})
    for source in args.sources:
        triplets = triplets_for(source, args.samples)
        row = {"clips": len(triplets), **dense_psnr(model, triplets)}
        h, w = triplets[0][0].shape[-2:]
        tile = model.tile_px[3]
        finest = (-(-h // PAD_MULTIPLE) * PAD_MULTIPLE // tile, -(-w // PAD_MULTIPLE) * PAD_MULTIPLE // tile)
        with execution_mode(model, "dense"):
            dense = [model(a[None], b[None])[0] for a, _, b in triplets]
        for order in ("head", "random"):
            for keep in args.keep:
                rife_arch.sample_mask = ranked_sample_mask(keep, order, (h, w), finest, tile)
                psnr, saved, split = [], [], {}
                with execution_mode(model, "masked"):
                    for (a, gt, b), ref in zip(triplets, dense, strict=True):
                        pred = model(a[None], b[None])[0]
                        psnr.append(frame_psnr(pred, gt))
                        report = model.skip_report()
                        saved.append(report.macs_saved_fraction())
                        add_error_split(split, pred, ref, gt, report.maps["mask/block3"], tile)
                rife_arch.sample_mask = ORIGINAL_SAMPLE_MASK
                row[f"{order}@{keep}"] = {
                    "psnr_drop": row["dense_psnr"] - statistics.fmean(psnr),
                    "macs_saved": statistics.fmean(saved),
                    # squared error over dense RIFE's, inside active / pruned block-3 tiles
                    **{f"mse_ratio_{k}": v[1] / max(v[0], 1e-12) for k, v in split.items()},
                }
                print(source, order, keep, row[f"{order}@{keep}"], flush=True)
        out["sources"][source] = row
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
