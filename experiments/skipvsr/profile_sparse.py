"""Where SkipVSR's sparse inference spends its time, against dense BasicVSR (same weights).

    OMP_NUM_THREADS=2 python experiments/skipvsr/profile_sparse.py  # synthetic, 68x160 LR
    OMP_NUM_THREADS=2 python experiments/skipvsr/profile_sparse.py --video carphone --frames 30
    OMP_NUM_THREADS=2 python experiments/skipvsr/profile_sparse.py --no-calibrate  # default cut-over

Prints the dense and skip wall-clock per clip (``--rounds`` alternating rounds after a warm-up, each
speed-up dense / skip of the same round), the skip path's active fraction and MACs saved, the
calibrated cut-over(s), the share of a dense pass spent in the trunks' residual blocks with the
speed-up a perfect engine would reach at the measured density, and the ``torch.profiler`` self-CPU
time of convolutions and ``grid_sample`` in one dense and one skip pass. Only allowed footage:
synthetic clips or carphone.
"""

from __future__ import annotations

import argparse
import inspect
import json
import time

import torch
from evaluate import load_clip

from dynskip.methods.skipvsr.v1.arch import SkipVSR
from dynskip.models import build_model
from dynskip.skip import fallback
from dynskip.skip.protocol import execution_mode

OPS = ("aten::mkldnn_convolution", "aten::grid_sampler_2d")


def clip(args: argparse.Namespace) -> torch.Tensor:
    return load_clip(args.video, args.start, args.frames, tuple(args.size))[0]


def trunk_share(dense: torch.nn.Module, lq: torch.Tensor) -> float:
    """Share of one dense pass's wall time spent in the two trunks' residual blocks (forward hooks)."""
    spent, started = [0.0], [0.0]

    def pre(module, args):
        started[0] = time.perf_counter()

    def post(module, args, output):
        spent[0] += time.perf_counter() - started[0]

    blocks = [dense.backward_trunk.residual_blocks, dense.forward_trunk.residual_blocks]
    handles = [h for b in blocks for h in (b.register_forward_pre_hook(pre), b.register_forward_hook(post))]
    try:
        total = time.perf_counter()
        dense(lq)
        total = time.perf_counter() - total
    finally:
        for handle in handles:
            handle.remove()
    return spent[0] / total


def op_seconds(fn) -> dict[str, float]:
    with torch.profiler.profile() as prof:
        fn()
    totals = {e.key: e.self_cpu_time_total / 1e6 for e in prof.key_averages()}
    return {op: round(totals.get(op, 0.0), 3) for op in OPS}


@torch.inference_mode()
def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--video", default="synthetic", help="synthetic[<seed>] or carphone")
    p.add_argument("--size", type=int, nargs=2, default=[272, 640], help="synthetic HR size (LR = size / 4)")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--weights", default="reds4", help="SkipVSR weights (built-in name or file)")
    p.add_argument("--no-calibrate", action="store_true", help="keep the engine's default dense cut-over")
    args = p.parse_args()
    lq = clip(args)
    dense = build_model("basicvsr", weights="reds4").eval()
    options = {"threshold": args.threshold}
    if "calibrate_cutover" in inspect.signature(SkipVSR).parameters:
        options["calibrate_cutover"] = not args.no_calibrate  # absent before the calibration existed
    skip = build_model("skipvsr", weights=args.weights, **options).eval()
    fallback.clear_fallback_cache()
    start = time.perf_counter()
    with execution_mode(skip, "sparse"):
        skip.calibrate(lq)  # measures the cut-over when enabled; first_skip_pass_s includes it, as before
        skip(lq)  # warm-up
        first_skip_s = time.perf_counter() - start
        dense(lq)
        speedups, dense_s, skip_s = [], [], []
        for _ in range(args.rounds):
            t = time.perf_counter()
            dense(lq)
            dense_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            skip(lq)
            skip_s.append(time.perf_counter() - t)
            speedups.append(dense_s[-1] / skip_s[-1])
        report = skip.skip_report()
        active = float(report.density(prunable_only=True))
        result = {
            "input": list(lq.shape),
            "threads": torch.get_num_threads(),
            "dense_s": [round(v, 3) for v in dense_s],
            "skip_s": [round(v, 3) for v in skip_s],
            "speedup": [round(v, 3) for v in speedups],
            "first_skip_pass_s": round(first_skip_s, 3),
            "active_fraction": round(float(report.density(prunable_only=True)), 4),
            "macs_saved": round(report.macs_saved_fraction(), 4),
            "cutovers": {str(k[1:6]): round(v, 3) for k, v in fallback.CUTOVERS.items()},
            # What a perfect engine (no halo, no bookkeeping, free estimator) could give at this density.
            "dense_trunk_share": round(share := trunk_share(dense, lq), 3),
            "perfect_engine_speedup": round(1.0 / (1.0 - (1.0 - active) * share), 3),
            "profile_dense_s": op_seconds(lambda: dense(lq)),
            "profile_skip_s": op_seconds(lambda: skip(lq)),
        }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
