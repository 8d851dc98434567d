"""A texture-normalised residual guard on the held-out ranges (exploration after round 3; selects nothing).

The round-3 guard thresholds the tile-mean |warped0 - warped1|, which depends on texture contrast. This
one estimates how far the two warped images are still apart, in pixels: per tile
``mean(|diff| * |grad|) / mean(|grad|^2)`` (normal-flow magnitude, least squares), and keeps tiles above
a bound. It swaps :func:`residual_guard_mask` in the model's module; masked mode (= sparse numbers).

    OMP_NUM_THREADS=1 python experiments/ugsp_rife/v2/exploration/normalised_guard.py \\
        CLIP START FRAMES 0.3,0.5 0.25,0.5,1.0
"""

import statistics
import sys

import torch
import torch.nn.functional as F

import dynskip.methods.ugsp.rife_arch as ra
from dynskip.evaluation.triplets import dense_psnr, frame_psnr, read_frames
from dynskip.models import build_model
from dynskip.skip.protocol import execution_mode

clip, start, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
thrs = [float(t) for t in sys.argv[4].split(",")]
bounds = [float(t) for t in sys.argv[5].split(",")]


def normalised(w0, w1, grid, bound):
    mean = (w0 + w1).mean(1, keepdim=True) * 0.5
    diff = (w1 - w0).mean(1, keepdim=True)
    gx = F.pad(mean[..., :, 2:] - mean[..., :, :-2], (1, 1)) * 0.5
    gy = F.pad(mean[..., 2:, :] - mean[..., :-2, :], (0, 0, 1, 1)) * 0.5
    g2 = gx * gx + gy * gy
    h, w = w0.shape[-2:]
    k = (h // grid[0], w // grid[1])
    num = F.avg_pool2d(diff.abs() * g2.sqrt(), k)
    den = F.avg_pool2d(g2, k) + 1e-4
    return (num / den > bound).to(w0.dtype)


ra.residual_guard_mask = normalised
torch.set_grad_enabled(False)
frames = read_frames(clip, n, start)
trip = [(frames[i], frames[i + 1], frames[i + 2]) for i in range(0, len(frames) - 2, 2)]
model = build_model("ugsp-rife", weights="rife-v3.9").eval()
d = dense_psnr(model, trip)["dense_psnr"]
for thr in thrs:
    for b in bounds:
        model.threshold, model.residual_guard = thr, b
        ps, sv, lv = [], [], []
        with execution_mode(model, "masked"):
            for a, gt, c in trip:
                ps.append(frame_psnr(model(a[None], c[None])[0], gt))
                rep = model.skip_report()
                sv.append(rep.macs_saved_fraction())
                lv.append(float(rep.units["block3.convblock"].fraction))
        drop, saved, kept = d - statistics.fmean(ps), statistics.fmean(sv), statistics.fmean(lv)
        print(f"{clip} thr {thr} bound {b} px: drop {drop:+.3f} saved {saved:.3f} block3 {kept:.3f}")
