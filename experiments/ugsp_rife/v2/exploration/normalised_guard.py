"""A texture-normalised residual guard on the held-out ranges (exploration after round 3; selects nothing).

The round-3 guard thresholds the tile-mean |warped0 - warped1|, which depends on texture contrast. This
one estimates how far the two warped images are still apart, in pixels: per tile
``mean(|diff| * |grad|) / mean(|grad|^2)`` (normal-flow magnitude, least squares), and keeps tiles above
a bound. It swaps :func:`residual_guard_mask` in the model's module; masked mode (= sparse numbers).

    OMP_NUM_THREADS=1 python experiments/ugsp_rife/v2/exploration/normalised_guard.py \\
        CLIP START FRAMES 0.3,0.5 0.25,0.5,1.0
"""

from __future__ import annotations

import statistics
import sys

import torch
import torch.nn.functional as F
from torch import Tensor

import dynskip.methods.ugsp.rife_arch as rife_arch
from dynskip.evaluation.triplets import dense_psnr, frame_psnr, read_frames
from dynskip.models import build_model
from dynskip.skip.protocol import execution_mode


def normalised_guard_mask(warped0: Tensor, warped1: Tensor, grid: tuple[int, int], bound: float) -> Tensor:
    """``(B, 1, gh, gw)`` 1 where the tile's estimated misalignment (px) exceeds ``bound``."""
    mean = (warped0 + warped1).mean(1, keepdim=True) * 0.5
    diff = (warped1 - warped0).mean(1, keepdim=True)
    gx = F.pad(mean[..., :, 2:] - mean[..., :, :-2], (1, 1)) * 0.5
    gy = F.pad(mean[..., 2:, :] - mean[..., :-2, :], (0, 0, 1, 1)) * 0.5
    g2 = gx * gx + gy * gy
    h, w = warped0.shape[-2:]
    k = (h // grid[0], w // grid[1])
    num = F.avg_pool2d(diff.abs() * g2.sqrt(), k)
    den = F.avg_pool2d(g2, k) + 1e-4
    return (num / den > bound).to(warped0.dtype)


@torch.no_grad()
def main() -> None:
    clip, start, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    thresholds = [float(t) for t in sys.argv[4].split(",")]
    bounds = [float(t) for t in sys.argv[5].split(",")]
    rife_arch.residual_guard_mask = normalised_guard_mask  # the model calls it through its module
    frames = read_frames(clip, n, start)
    triplets = [(frames[i], frames[i + 1], frames[i + 2]) for i in range(0, len(frames) - 2, 2)]
    model = build_model("ugsp-rife", weights="rife-v3.9").eval()
    dense = dense_psnr(model, triplets)["dense_psnr"]
    for threshold in thresholds:
        for bound in bounds:
            model.threshold, model.residual_guard = threshold, bound
            psnrs, saved, kept = [], [], []
            with execution_mode(model, "masked"):
                for a, gt, b in triplets:
                    psnrs.append(frame_psnr(model(a[None], b[None])[0], gt))
                    report = model.skip_report()
                    saved.append(report.macs_saved_fraction())
                    kept.append(float(report.units["block3.convblock"].fraction))
            drop, mean_saved = dense - statistics.fmean(psnrs), statistics.fmean(saved)
            figures = f"drop {drop:+.3f} saved {mean_saved:.3f} block3 {statistics.fmean(kept):.3f}"
            print(f"{clip} thr {threshold} bound {bound} px: {figures}")


if __name__ == "__main__":
    main()
