"""The tile engine's ceiling: how fast are a residual block's two convs on tile windows alone?

For a 64-channel residual block (conv3x3, ReLU, conv3x3, channels-last) the dense block on the whole
map is timed against the same two convs on a batch of ``n`` windows (tile + 2-px halo, unpadded),
``n`` = the active share of the tile grid: no gather, scatter or border zeroing. "conv-only
efficiency" = ideal time (dense x share) / windowed time; the halo's MAC bound is
``2 T^2 / ((T + 2)^2 + T^2)``. Dense and windowed runs alternate, median of ``--repeats``.

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/exploration/conv_ceiling.py --json OUT.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F


def block(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, padding: int) -> torch.Tensor:
    return F.conv2d(F.relu(F.conv2d(x, w, b, padding=padding)), w, b, padding=padding)


def seconds(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, padding: int) -> float:
    start = time.perf_counter()
    block(x, w, b, padding)
    return time.perf_counter() - start


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="180x320/32,68x160/16", help="HxW/tile, comma-separated")
    ap.add_argument("--fractions", default="0.5,0.25")
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    w = torch.randn(64, 64, 3, 3).mul_(0.05).contiguous(memory_format=torch.channels_last)
    b = torch.zeros(64)
    rows = []
    for case in args.cases.split(","):
        size, tile = case.split("/")
        h, w_px = (int(v) for v in size.split("x"))
        tile = int(tile)
        x = torch.randn(1, 64, h, w_px).contiguous(memory_format=torch.channels_last)
        grid = -(-h // tile) * -(-w_px // tile)
        for fraction in (float(f) for f in args.fractions.split(",")):
            n = max(1, round(grid * fraction))
            windows = torch.randn(n, 64, tile + 4, tile + 4).contiguous(memory_format=torch.channels_last)
            block(x, w, b, 1), block(windows, w, b, 0)  # warm-up: oneDNN picks its kernels
            dense, tiled = [], []
            for _ in range(args.repeats):
                dense.append(seconds(x, w, b, 1))
                tiled.append(seconds(windows, w, b, 0))
            d, t = statistics.median(dense), statistics.median(tiled)
            row = dict(size=[h, w_px], tile=tile, fraction=fraction, windows=n, dense_ms=d * 1e3,
                       windows_ms=t * 1e3, conv_only_efficiency=d * n / grid / t,
                       halo_mac_bound=2 * tile**2 / ((tile + 2) ** 2 + tile**2),
                       threads=torch.get_num_threads())  # fmt: skip
            rows.append(row)
            print(f"{h}x{w_px} tile {tile} share {fraction}: dense {row['dense_ms']:.2f} ms, windows "
                  f"{row['windows_ms']:.2f} ms, conv-only efficiency {row['conv_only_efficiency']:.2f} "
                  f"(halo MAC bound {row['halo_mac_bound']:.2f})")  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
