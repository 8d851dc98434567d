"""A tried and NOT shipped alternative: mask heads with alignment cues, fitted to quality labels.

Needs the architecture change kept as a patch (heads that also read ``alignment_cues``)::

    git apply experiments/ugsp_rife/cue_heads.patch
    OMP_NUM_THREADS=2 python experiments/ugsp_rife/cue_heads_train.py --out /tmp/cue_heads.pt --epochs 40
    OMP_NUM_THREADS=1 python experiments/ugsp_rife/measure.py --video carphone --start 90 --frames 30 \
        --mode masked --weights /tmp/cue_heads.pt --thresholds 0.3 0.5 0.7
    OMP_NUM_THREADS=1 python experiments/ugsp_rife/synthetic_sweep.py --weights /tmp/cue_heads.pt \
        --samples 8 --thresholds 0.3 0.5 0.7
    git apply -R experiments/ugsp_rife/cue_heads.patch

It also prints how predictable the block-3 labels are: ROC AUC per source of a logistic fit on
tile-pooled cues, and on cues plus feature magnitudes. Results: README.md ("Why the quality target is
missed").

Why not uncertainty-quantile labels: a quantile keeps a fixed share of tiles whatever the footage, and
heads trained with it on low-motion carphone learned to drop block 3 almost everywhere, which cost
1 dB on unseen footage. Here a tile's label says whether pruning it would cost quality:

- damage of a tile = mean over its pixels of the squared-error increase (uint8-rounded RGB) when the
  block is pruned (block 3 alone; blocks 2 and 3 together) against dense RIFE;
- keep the tile iff damage > ``rel`` x the frame's dense MSE. If every pruned tile stays under that
  line the frame's PSNR drop is at most ``10 log10(1 + rel)`` (0.1 dB for rel = 0.0233);
- block 2 keeps a tile also wherever a block-3 sub-tile is kept (the masks are hierarchical).

Training data (allowed footage only): carphone frames 0..89 as triplets with frame gaps 1, 2 and 4
(more motion than the clip's native rate), plus horizontal flips, and synthetic clips
(``SyntheticClips``, seed 1; the held-out evaluation uses seed 7) at three speeds. Head inputs are the
block features plus :func:`dynskip.archs.pruning.alignment_cues`, recorded once from the dense pass;
the heads are then fitted by weighted cross-entropy on the cache (padding tiles excluded).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from measure import read_frames

from dynskip.archs.rife_arch import PAD_MULTIPLE
from dynskip.archs.warp import flow_warp
from dynskip.data.synthetic import SyntheticClips
from dynskip.models import build_model
from dynskip.models.ugsp_rife import HEAD_PREFIXES, export_checkpoint
from dynskip.skip.protocol import execution_mode


def training_triplets(args: argparse.Namespace) -> list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``(source, img0, gt, img1)`` from carphone frames 0..89 (gaps, flips) and synthetic clips."""
    frames = read_frames("carphone", 90)
    out = []
    for gap in args.gaps:
        for i in range(0, len(frames) - 2 * gap, args.stride):
            trip = (frames[i], frames[i + gap], frames[i + 2 * gap])
            out.append((f"carphone_g{gap}", *trip))
            out.append((f"carphone_g{gap}_flip", *(f.flip(-1) for f in trip)))
    for speed in args.synthetic_speeds:
        clips = SyntheticClips(
            task="vfi", num_samples=args.synthetic, size=(256, 384), seed=1, max_speed=speed
        )
        for k in range(len(clips)):
            s = clips[k]
            out.append((f"synthetic_s{speed:g}", s["img0"], s["gt"], s["img1"]))
    return out


def frame_without(model, img0: torch.Tensor, img1: torch.Tensor, first_pruned: int) -> torch.Tensor:
    """RIFE's frame with blocks ``first_pruned``.. pruned on every tile (they add nothing), padded inputs."""
    t = img0.new_full((img0.shape[0], 1, *img0.shape[-2:]), 0.5)
    flow = mask = None
    w0, w1 = img0, img1
    for k, (block, scale) in enumerate(zip(model.blocks, model.scales)):
        if k >= first_pruned:
            break
        x = torch.cat((img0, img1, t), 1) if flow is None else torch.cat((w0, w1, t, mask), 1)
        fd, md = block(x, flow, scale)
        flow = fd if flow is None else flow + fd
        mask = md if mask is None else mask + md
        w0 = flow_warp(img0, flow[:, :2], padding_mode="border")
        w1 = flow_warp(img1, flow[:, 2:4], padding_mode="border")
    weight = torch.sigmoid(mask)
    return w0 * weight + w1 * (1 - weight)


def squared_error(frame: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Per-pixel squared error of uint8-rounded RGB, ``(1, 1, H, W)`` (as PSNR is measured)."""
    q = (frame.clamp(0, 1) * 255).round()
    return ((q - (gt * 255).round()) ** 2).mean(1, keepdim=True) / 255**2


@torch.no_grad()
def record(model, samples, rel: float) -> list[dict]:
    """Head inputs, labels and valid-tile masks per sample."""
    cache = []
    for source, img0, gt, img1 in samples:
        h, w = img0.shape[-2:]
        pad = (0, -w % PAD_MULTIPLE, 0, -h % PAD_MULTIPLE)
        a, b = F.pad(img0[None], pad), F.pad(img1[None], pad)
        gt_p = F.pad(gt[None], pad)
        valid = F.pad(torch.ones(1, 1, h, w), pad)
        model.threshold = 0.0  # every tile on: the pass is dense RIFE, the heads still see their inputs
        with execution_mode(model, "masked"):
            out = model.predict(a, b, 0.5)
        if bool(out["restarted"].any()):
            raise RuntimeError(f"{source}: RIFE restarted at doubled scales; labels assume one pass")
        inputs = {k: tuple(t.clone() for t in v) for k, v in model._state["head_inputs"].items()}
        dense_err = squared_error(out["frame"], gt_p) * valid
        mse = float(dense_err.sum() / valid.sum())
        damage = {
            k: (squared_error(frame_without(model, a, b, k), gt_p) * valid - dense_err)
            for k in model.pruned_blocks
        }
        entry = {"source": source, "inputs": inputs, "labels": {}, "valid": {}}
        for k in sorted(model.pruned_blocks, reverse=True):  # finest first: coarser labels include it
            tile = model.tile_px[k]
            coverage = F.avg_pool2d(valid, tile)
            tile_damage = F.avg_pool2d(damage[k], tile) / coverage.clamp_min(1e-6)
            keep = (tile_damage > rel * mse).float()
            if k + 1 in entry["labels"]:
                finer = entry["labels"][k + 1]
                keep = torch.maximum(keep, F.adaptive_max_pool2d(finer, keep.shape[-2:]))
            entry["labels"][k] = keep
            entry["valid"][k] = (coverage > 0).float()
        cache.append(entry)
    return cache


def auc(score: torch.Tensor, labels: torch.Tensor) -> float:
    """ROC AUC of ``score`` for binary ``labels`` (rank statistic)."""
    order = torch.argsort(score)
    ranked = labels[order]
    positives = ranked.sum()
    negatives = len(ranked) - positives
    ranks = torch.arange(1, len(ranked) + 1, dtype=torch.float)
    return float((ranks[ranked > 0].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def label_predictability(cache: list[dict], block: int = 3) -> dict[str, dict[str, float]]:
    """AUC per source of a logistic fit (all sources pooled) on per-tile cue / feature statistics."""
    rows, labels, synthetic = [], [], []
    for entry in cache:
        feat, cues = entry["inputs"][block]
        grid = entry["labels"][block].shape[-2:]
        x = (
            torch.cat(
                [
                    F.adaptive_avg_pool2d(cues, grid),
                    F.adaptive_max_pool2d(cues, grid),
                    F.adaptive_avg_pool2d(feat.abs(), grid),
                ],
                1,
            )[0]
            .flatten(1)
            .T
        )
        valid = entry["valid"][block][0, 0].flatten() > 0
        rows.append(x[valid])
        labels.append(entry["labels"][block][0, 0].flatten()[valid])
        synthetic += [entry["source"].startswith("synthetic")] * int(valid.sum())
    x, y, syn = torch.cat(rows), torch.cat(labels), torch.tensor(synthetic)
    z = (x - x.mean(0)) / (x.std(0) + 1e-6)
    out = {}
    for name, columns in (("cues", slice(0, 8)), ("cues+features", slice(None))):
        w = torch.zeros(z[:, columns].shape[1], requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], max_iter=200)

        def closure(columns=columns, w=w, b=b, opt=opt):
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(z[:, columns] @ w + b, y)
            loss.backward()
            return loss

        opt.step(closure)
        score = (z[:, columns] @ w + b).detach()
        out[name] = {"carphone": auc(score[~syn], y[~syn]), "synthetic": auc(score[syn], y[syn])}
    return out


def fit(model, cache: list[dict], epochs: int, lr: float, keep_weight: float, seed: int) -> list[dict]:
    torch.manual_seed(seed)
    heads = model.mask_heads
    opt = torch.optim.AdamW(heads.parameters(), lr=lr, weight_decay=1e-4)
    weight = torch.tensor([1.0, keep_weight])
    log = []
    for epoch in range(epochs):
        order = torch.randperm(len(cache)).tolist()
        total, count = 0.0, 0
        for i in order:
            entry = cache[i]
            loss = 0.0
            for k, (feat, cues) in entry["inputs"].items():
                labels, valid = entry["labels"][k], entry["valid"][k]
                logits = heads[f"block{k}"](feat, tuple(labels.shape[-2:]), cues)
                ce = F.cross_entropy(logits, labels[:, 0].long(), weight=weight, reduction="none")
                loss = loss + (ce * valid[:, 0]).sum() / valid.sum().clamp_min(1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, count = total + float(loss.detach()), count + 1
        log.append({"epoch": epoch, "loss": total / count})
        if epoch % 10 == 0 or epoch == epochs - 1:
            print(json.dumps(log[-1]), flush=True)
    return log


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--gaps", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--stride", type=int, default=3)
    p.add_argument("--synthetic", type=int, default=16, help="synthetic samples per speed")
    p.add_argument("--synthetic-speeds", type=float, nargs="+", default=[2.0, 4.0, 8.0])
    p.add_argument("--rel", type=float, default=10**0.01 - 1, help="damage line, share of frame MSE")
    p.add_argument("--keep-weight", type=float, default=2.0, help="class weight of 'keep' (errs safe)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = build_model("ugsp-rife", weights="rife-v3.9-backbone", prune_padding=False).eval()
    if not hasattr(model, "head_input"):
        raise SystemExit("the cue heads are not in the tree: git apply experiments/ugsp_rife/cue_heads.patch")
    model.requires_grad_(False)
    model.mask_heads.requires_grad_(True)
    start = time.time()
    samples = training_triplets(args)
    cache = record(model, samples, args.rel)
    for k in model.pruned_blocks:
        kept = sum(float((e["labels"][k] * e["valid"][k]).sum()) for e in cache)
        tiles = sum(float(e["valid"][k].sum()) for e in cache)
        print(
            f"block{k}: {len(cache)} samples, keep label on {kept / tiles:.3f} of {tiles:.0f} tiles",
            flush=True,
        )
    print(f"recorded in {time.time() - start:.0f} s", flush=True)
    with torch.enable_grad():
        print("block-3 label ROC AUC:", json.dumps(label_predictability(cache)), flush=True)
    with torch.enable_grad():
        log = fit(model, cache, args.epochs, args.lr, args.keep_weight, args.seed)
    # The uncertainty head (phase 1, not used at inference) is carried over from the shipped checkpoint.
    shipped = torch.load(
        Path(__file__).resolve().parents[2] / "src/dynskip/checkpoints/ugsp_rife_v3.9.pt", weights_only=True
    )
    model.uncertainty_head.load_state_dict(
        {
            k.removeprefix("uncertainty_head."): v
            for k, v in shipped["heads"].items()
            if k.startswith(HEAD_PREFIXES[1])
        }
    )
    export_checkpoint(model, args.out)
    meta = {
        **vars(args),
        "samples": len(cache),
        "seconds": round(time.time() - start),
        "final_loss": log[-1]["loss"],
    }
    Path(args.out).with_suffix(".json").write_text(json.dumps(meta, indent=1))
    print(json.dumps(meta), flush=True)


if __name__ == "__main__":
    main()
