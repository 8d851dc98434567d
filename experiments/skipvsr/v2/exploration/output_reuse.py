"""Output reuse emulated outside the model: what would reusing the warped previous output cost?

Runs ``skipvsr-v2`` (round 7's default, masked, calibrated) on held-out train ranges and records each
trunk's run decisions per frame; then, frame by frame in forward order, the patches reused by both
trunks take the previous (emulated) output warped along the x4-upsampled forward flow (border padding,
clamped to [0, 1]). Prints the PSNR drop against dense BasicVSR of the model and of the emulation, and the
share of patches reused by both trunks. This is what preceded ``SkipVSRv2(reuse_output=True)``; the model's
own numbers come from ``curve.py --reuse-output 1``.

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/exploration/output_reuse.py --threshold 0.5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from curve import heldout_frames

from dynskip.data.degrade import degrade
from dynskip.evaluation.footage import quality
from dynskip.methods.skipvsr.arch import SCALE
from dynskip.methods.skipvsr.reconstruct import warp_output
from dynskip.models import build_model
from dynskip.skip.protocol import execution_mode
from dynskip.skip.tiles import tile_to_pixel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", default="vtest,box")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--frames", type=int, default=20)
    args = ap.parse_args()
    dense_model = build_model("basicvsr", weights="reds4").eval()
    for clip in args.clips.split(","):
        gt = heldout_frames(clip, args.frames)
        h, w = gt.shape[-2] // SCALE * SCALE, gt.shape[-1] // SCALE * SCALE
        gt = gt[..., :h, :w]
        lr = degrade(gt, "bi", scale=SCALE)[None]
        model = build_model("skipvsr-v2", weights="reds4", reuse_output=False).eval()  # round 7
        model.threshold = args.threshold
        model.calibrate(lr)
        runs = {"backward": {}, "forward": {}}
        decide = model.decide

        def recording(x_i, stem, i, direction, decide=decide, runs=runs):
            run = decide(x_i, stem, i, direction)
            runs[direction][i] = run[0, 0] > 0.5
            return run

        model.decide = recording
        flows = {}
        compute_flows = model.compute_flows

        def keeping(lr, compute_flows=compute_flows, flows=flows):
            forward, backward = compute_flows(lr)
            flows["forward"] = forward
            return forward, backward

        model.compute_flows = keeping
        with torch.inference_mode():
            with execution_mode(model, "masked"):
                out = model(lr)[0].clamp(0, 1)
            dense = dense_model(lr)[0].clamp(0, 1)
            emulated, shares = out.clone(), []
            patch = SCALE * model.patch
            for t in range(1, out.shape[0]):
                both = ~(runs["backward"][t] | runs["forward"][t])
                shares.append(float(both.float().mean()))
                hr = tile_to_pixel(both[None], patch, tuple(out.shape[-2:]))[0, 0] > 0.5
                warped = warp_output(emulated[t - 1 : t], flows["forward"][:, t - 1])[0].clamp(0, 1)
                emulated[t] = torch.where(hr, warped, out[t])
        base, skip, reuse = (quality(x, gt)["psnr"] for x in (dense, out, emulated))
        print(
            f"{clip} threshold {args.threshold}: drop {base - skip:+.3f} dB (model), {base - reuse:+.3f} dB "
            f"(with output reuse emulated); patches reused by both trunks {sum(shares) / len(shares):.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
