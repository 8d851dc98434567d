"""Where does pruning RIFE's finest block cost quality? Per-tile damage on the allowed footage.

    OMP_NUM_THREADS=2 python experiments/ugsp_rife/block3_damage.py

For carphone triplets with frame gaps 1, 2, 4 (frames 0..119) and synthetic clips (272x480, speed 8,
seed 7: global translation + disc, and FlyingChairs-like sprite scenes in both textures) it reports,
per source:

- ``drop_all``: PSNR drop when block 3 is pruned on every tile (its flow / mask residuals dropped);
- the share of 32-px tiles one could prune within 0.1 dB if tiles were pruned in the order of a score:
  ``oracle`` (the true per-tile damage, a bound), ``gradient`` (image texture), ``warp_residual``
  (``|warped0 - warped1|`` after block 2, the mask heads' most direct cue), ``block2_flow_update`` /
  ``block1_flow_update`` (how much that block still corrected the flow: is refinement still active
  there?) and ``random`` (a random order, the floor).

Damage of a tile = increase of its summed squared error (uint8-rounded RGB) when block 3 is pruned
everywhere; tiles interact only through block 3's receptive field, so this is a close first-order
estimate of pruning that tile alone. Findings are in README.md ("Why the quality target is missed").
"""

from __future__ import annotations

import argparse
import json
import math

import torch
import torch.nn.functional as F

from dynskip.archs.rife_arch import PAD_MULTIPLE
from dynskip.data.synthetic import SyntheticClips
from dynskip.evaluation.triplets import SPRITES, read_frames
from dynskip.metrics.color import uint8_levels
from dynskip.models import build_model

TILE = 32
DROP_DB = 0.1


def sources(frames: int) -> dict[str, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]:
    video = read_frames("carphone", frames)
    out = {}
    for gap in (1, 2, 4):
        out[f"carphone_gap{gap}"] = [
            (video[i], video[i + gap], video[i + 2 * gap]) for i in range(0, len(video) - 2 * gap, 6)
        ]
    scenes = {
        "synthetic_272x480_speed8": {},
        "sprites_noise_272x480_speed8": SPRITES,
        "sprites_dead_leaves_272x480_speed8": {**SPRITES, "texture": "dead_leaves"},
    }
    for name, scene in scenes.items():
        clips = SyntheticClips(task="vfi", num_samples=8, size=(272, 480), seed=7, max_speed=8, **scene)
        out[name] = [(s["img0"], s["gt"], s["img1"]) for s in (clips[i] for i in range(8))]
    return out


@torch.no_grad()
def rife_pass(model, img0: torch.Tensor, img1: torch.Tensor, blocks: int) -> tuple[torch.Tensor, dict]:
    """Frame from RIFE with blocks ``blocks``.. pruned everywhere (they add nothing), and what the blocks
    saw: ``seen[i]`` block ``i``'s input, ``seen[f"out{i}"]`` its ``(flow_delta, mask_delta)``.

    Uses IFNet's ``run_block`` hook, so padding rules and the flow / mask accumulation are RIFE's own.
    """
    seen = {}

    def run_block(index, block, x_in, flow, scale):
        seen[index] = x_in
        if index < blocks:
            seen[f"out{index}"] = block(x_in, flow, scale)
            return seen[f"out{index}"]
        zeros = x_in.new_zeros((x_in.shape[0], 5, *x_in.shape[-2:]))
        return zeros[:, :4], zeros[:, 4:5]

    model.run_block = run_block
    try:
        out = model.predict(img0, img1, 0.5)
    finally:
        del model.run_block
    if bool(out["restarted"].any()):
        raise RuntimeError("RIFE restarted at doubled scales; this study assumes one pass")
    return out["frame"], seen


def tile_sum(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    return F.avg_pool2d(F.pad(x, (0, -w % TILE, 0, -h % TILE)), TILE).flatten() * TILE * TILE


def prunable_share(score: torch.Tensor, damage: torch.Tensor, allowed: float) -> float:
    """Largest share of tiles prunable in ascending ``score`` order with summed damage <= ``allowed``."""
    cumulative = torch.cumsum(damage[torch.argsort(score)], 0)
    return float((cumulative <= allowed).float().mean())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = build_model("rife", weights="rife-v3.9").eval()
    rng = torch.Generator().manual_seed(0)
    report = {}
    for name, triplets in sources(args.frames).items():
        damage, gradient, residual, updates = [], [], [], {1: [], 2: []}
        dense_sse, pruned_sse, pixels = 0.0, 0.0, 0
        for img0, gt, img1 in triplets:
            h, w = img0.shape[-2:]
            pad = (0, -w % PAD_MULTIPLE, 0, -h % PAD_MULTIPLE)
            a, b = F.pad(img0[None], pad), F.pad(img1[None], pad)
            target = uint8_levels(gt[None])
            errors = []
            for blocks in (4, 3):
                frame, seen = rife_pass(model, a, b, blocks)
                if blocks == 4:
                    x3 = seen[3]
                    for i in updates:
                        flow_delta = seen[f"out{i}"][0][..., :h, :w]
                        updates[i].append(tile_sum(flow_delta.abs().mean(1, keepdim=True)))
                q = uint8_levels(frame[..., :h, :w])
                errors.append(((q - target) ** 2).mean(1, keepdim=True) / 255**2)
            dense_sse += float(errors[0].sum())
            pruned_sse += float(errors[1].sum())
            pixels += h * w
            damage.append(tile_sum(errors[1] - errors[0]))
            x3 = x3[..., :h, :w]
            mean = 0.5 * (x3[:, 0:3] + x3[:, 3:6])
            grad = F.pad((mean[..., 1:] - mean[..., :-1]).abs(), (0, 1)) + F.pad(
                (mean[..., 1:, :] - mean[..., :-1, :]).abs(), (0, 0, 0, 1)
            )
            gradient.append(tile_sum(grad.mean(1, keepdim=True)))
            residual.append(tile_sum((x3[:, 0:3] - x3[:, 3:6]).abs().mean(1, keepdim=True)))
        damage_all = torch.cat(damage)
        allowed = dense_sse * (10 ** (DROP_DB / 10) - 1)
        mse = dense_sse / pixels
        report[name] = {
            "triplets": len(triplets),
            "dense_psnr_of_mean_mse": 10 * math.log10(1 / mse),
            "drop_all": 10 * math.log10(pruned_sse / dense_sse),
            "tiles": damage_all.numel(),
            "prunable_within_0.1dB": {
                "oracle": prunable_share(damage_all, damage_all, allowed),
                "gradient": prunable_share(torch.cat(gradient), damage_all, allowed),
                "warp_residual": prunable_share(torch.cat(residual), damage_all, allowed),
                **{
                    f"block{i}_flow_update": prunable_share(torch.cat(u), damage_all, allowed)
                    for i, u in sorted(updates.items(), reverse=True)
                },
                "random": prunable_share(torch.rand(damage_all.numel(), generator=rng), damage_all, allowed),
            },
            "tiles_with_positive_damage": float((damage_all > 0).float().mean()),
            "damage_share_of_top_20pct_tiles": float(
                damage_all.clamp_min(0).sort(descending=True).values[: max(1, damage_all.numel() // 5)].sum()
                / damage_all.clamp_min(0).sum().clamp_min(1e-12)
            ),
        }
        print(name, json.dumps(report[name]), flush=True)


if __name__ == "__main__":
    main()
