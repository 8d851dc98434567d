"""Train the SkipVSR estimators on carphone (frames 0..89 only) from cached dense-teacher labels.

Phase 1 of the shipped checkpoint, made affordable on a shared 2-core CPU: the backbone is frozen, so
the dense teacher's per-(step, group, tile) Taylor contributions and the estimator inputs are computed
once per clip (one forward + backward of official BasicVSR), then the two estimators are fitted to the
labels (BCE) for many epochs on the cache, with the previous-step *labels*, flow-aligned, in place of
the previous decisions (teacher forcing). See README.md for why.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/skipvsr/train_estimator.py \
        --out src/dynskip/checkpoints/skipvsr_reds4.pt
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from dynskip.assets import asset_path
from dynskip.data.degrade import bi_degrade
from dynskip.data.video import read_video
from dynskip.methods.skipvsr.v1.models import export_skipvsr_checkpoint
from dynskip.methods.skipvsr.v1.objective import reuse_error_labels, taylor_labels
from dynskip.models import build_model

AUGMENTS = {
    "id": lambda x: x,
    "hflip": lambda x: x.flip(-1),
    "vflip": lambda x: x.flip(-2),
    "rot180": lambda x: x.flip(-1).flip(-2),
    "transpose": lambda x: x.transpose(-1, -2),
}


def carphone_frames(start: int, count: int) -> torch.Tensor:
    frames = read_video(asset_path("carphone"), start=start, count=count)  # (T, H, W, 3) uint8
    gt = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
    h, w = gt.shape[-2:]
    return gt[..., : h // 4 * 4, : w // 4 * 4]


def build_cache(
    model, gt_all: torch.Tensor, clip_len: int, augments: list[str], budget: float, label_kind: str
) -> list[dict]:
    cache = []
    for aug in augments:
        for s in range(0, gt_all.shape[0] - clip_len + 1, clip_len):
            gt = AUGMENTS[aug](gt_all[s : s + clip_len])[None]
            lq = bi_degrade(gt)
            if label_kind == "taylor":
                labels, _ = taylor_labels(model, lq, gt, budget)
            else:
                labels, _ = reuse_error_labels(model, lq, budget)
            t = gt.shape[1]
            inputs = []
            for step, (inp, flow) in enumerate(zip(model.last_inputs, model.last_flows, strict=True)):
                prev = None if step % t == 0 else labels[step - 1]
                inputs.append(model.with_previous_decisions(inp, prev, flow))
            cache.append(
                {
                    "x": torch.cat(inputs).detach(),
                    "y": torch.cat(labels).detach(),
                    "steps": t,
                    "name": f"{aug}/{s}",
                }
            )
            print(f"cached {aug} clip {s}: label density {float(cache[-1]['y'].mean()):.3f}", flush=True)
    return cache


def fit(model, cache: list[dict], epochs: int, lr: float, seed: int) -> list[float]:
    torch.manual_seed(seed)
    params = list(model.backward_estimator.parameters()) + list(model.forward_estimator.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * len(cache))
    history = []
    for epoch in range(epochs):
        total = 0.0
        for i in torch.randperm(len(cache)).tolist():
            item = cache[i]
            t = item["steps"]
            logits = torch.cat(
                [model.backward_estimator(item["x"][:t]), model.forward_estimator(item["x"][t:])]
            )
            loss = F.binary_cross_entropy_with_logits(logits, item["y"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        history.append(total / len(cache))
        if epoch % 20 == 0 or epoch == epochs - 1:
            print(f"epoch {epoch}: bce {history[-1]:.4f}", flush=True)
    return history


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--budget", type=float, default=0.7, help="label density: top fraction of contributions")
    p.add_argument("--clip-len", type=int, default=15)
    p.add_argument("--frames", type=int, default=90, help="carphone frames 0..N-1 (90..119 held out)")
    p.add_argument("--augments", default="id,hflip")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--tile", type=int, default=8)
    p.add_argument("--no-align", action="store_true", help="ablation: no temporal alignment")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--labels", default="reuse", choices=["reuse", "taylor"], help="label source (README)")
    args = p.parse_args()
    torch.manual_seed(args.seed)
    t0 = time.time()
    model = build_model("skipvsr", backbone="reds4", tile=args.tile, temporal_align=not args.no_align)
    for param in model.parameters():
        param.requires_grad_(False)
    gt_all = carphone_frames(0, args.frames)
    cache = build_cache(model, gt_all, args.clip_len, args.augments.split(","), args.budget, args.labels)
    t1 = time.time()
    for est in (model.backward_estimator, model.forward_estimator):
        for param in est.parameters():
            param.requires_grad_(True)
    history = fit(model, cache, args.epochs, args.lr, args.seed)
    extra = {
        "recipe": "experiments/skipvsr/train_estimator.py",
        "args": json.dumps(vars(args)),
        "final_bce": history[-1],
        "cache_seconds": round(t1 - t0, 1),
        "fit_seconds": round(time.time() - t1, 1),
    }
    path = export_skipvsr_checkpoint(model, args.out, backbone="reds4", extra=extra)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.3f} MB); {extra}")


if __name__ == "__main__":
    main()
