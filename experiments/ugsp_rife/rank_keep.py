"""Do the mask heads rank block-3 tiles usefully, even where their absolute calibration is off?

Instead of ``p_keep >= threshold``, keep a fixed fraction ``q`` of each frame's valid block-3 tiles:
the top ``q`` by the head's ``p_keep`` ("head"), or a random ``q`` ("random", the no-information
baseline). Masked mode (same numbers as sparse). Allowed footage only: carphone frames 90..119 and
synthetic clips (noise / dead leaves, seed 7).

    OMP_NUM_THREADS=1 python experiments/ugsp_rife/rank_keep.py --weights rife-v3.9 --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics

import torch
from measure import dense_psnr, psnr_u8, read_frames

from dynskip.archs import ugsp_rife_arch
from dynskip.data.synthetic import SyntheticClips
from dynskip.models import build_model
from dynskip.skip.protocol import execution_mode

ORIGINAL_SAMPLE_MASK = ugsp_rife_arch.sample_mask


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
        rows = torch.arange(finest[0]) * tile < valid_hw[0]
        cols = torch.arange(finest[1]) * tile < valid_hw[1]
        valid = (rows[:, None] & cols[None, :]).flatten()
        flat = score.flatten(1).masked_fill(~valid, -1.0)
        k = max(1, round(keep * int(valid.sum())))
        mask = torch.zeros_like(flat).scatter_(1, flat.topk(k, dim=1).indices, 1.0)
        return mask.view_as(score).to(logits.dtype)

    return sample


def triplets_for(source: str, samples: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    if source == "carphone":
        frames = read_frames("carphone", 30, 90)
        return [(frames[i], frames[i + 1], frames[i + 2]) for i in range(0, len(frames) - 2, 2)]
    data = SyntheticClips(
        task="vfi", num_samples=samples, size=(272, 480), seed=7, max_speed=8.0, texture=source
    )
    return [(s["img0"], s["gt"], s["img1"]) for s in (data[i] for i in range(samples))]


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--weights", default="rife-v3.9")
    p.add_argument("--sources", nargs="+", default=["carphone", "noise", "dead_leaves"])
    p.add_argument("--keep", type=float, nargs="+", default=[0.2, 0.4, 0.6])
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    model = build_model("ugsp-rife", weights=args.weights).eval()
    out: dict = {"weights": args.weights, "sources": {}}
    for source in args.sources:
        triplets = triplets_for(source, args.samples)
        row = dense_psnr(model, triplets)
        h, w = triplets[0][0].shape[-2:]
        tile = model.tile_px[3]
        finest = (-(-h // 128) * 128 // tile, -(-w // 128) * 128 // tile)
        for order in ("head", "random"):
            for keep in args.keep:
                ugsp_rife_arch.sample_mask = ranked_sample_mask(keep, order, (h, w), finest, tile)
                psnr, saved = [], []
                with execution_mode(model, "masked"):
                    for a, gt, b in triplets:
                        psnr.append(psnr_u8(model(a[None], b[None])[0], gt))
                        saved.append(model.skip_report().macs_saved_fraction())
                ugsp_rife_arch.sample_mask = ORIGINAL_SAMPLE_MASK
                row[f"{order}@{keep}"] = {
                    "psnr_drop": row["dense_psnr"] - statistics.fmean(psnr),
                    "macs_saved": statistics.fmean(saved),
                }
                print(source, order, keep, row[f"{order}@{keep}"], flush=True)
        out["sources"][source] = row
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
