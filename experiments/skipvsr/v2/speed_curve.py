"""The timed threshold curve: speed-up against PSNR drop on each held-out range, from heldout_speed.sh runs.

Each argument is a directory heldout_speed.sh wrote (one ``dynskip evaluate --compare-dense`` JSON per
clip) for one setting at one threshold; give the directories of one setting at several thresholds.

    python experiments/skipvsr/v2/speed_curve.py results/round7_speed_t0.4 results/round7_speed ... \
        --png experiments/skipvsr/v2/speed_curve.png
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

FIELDS = ("threshold", "psnr_drop", "speedup", "active_fraction")


def read_point(path: Path) -> dict:
    """One clip's result; names the file and the missing keys if it is not a --compare-dense JSON."""
    row = json.loads(path.read_text())
    missing = [k for k in FIELDS if k not in row]
    if missing:
        raise ValueError(f"{path}: no {missing}; expected a `dynskip evaluate --compare-dense` result")
    return {"clip": path.stem, **{k: row[k] for k in FIELDS}}


def load(dirs: list[Path]) -> dict[str, dict[str, dict]]:
    """``{run directory: {clip: point}}`` over every ``*.json`` of ``dirs``."""
    runs = {}
    for d in dirs:
        files = sorted(d.glob("*.json"))
        if not files:
            raise FileNotFoundError(f"{d}: no clip JSONs (expected heldout_speed.sh output)")
        runs[d.name] = {f.stem: read_point(f) for f in files}
    return runs


def cell(point: dict | None) -> str:
    if point is None:
        return "-"
    return f"{point['psnr_drop']:+.3f} / {point['active_fraction']:.3f} / {point['speedup']:.2f}x"


def markdown(runs: dict[str, dict[str, dict]]) -> str:
    clips = sorted({clip for points in runs.values() for clip in points})
    lines = [
        "| run | threshold | " + " | ".join(f"{c} drop / computed / speed-up" for c in clips) + " |",
        "|" + " --- |" * (len(clips) + 2),
    ]
    for name, points in runs.items():
        thr = next(iter(points.values()))["threshold"]
        lines.append(f"| {name} | {thr} | " + " | ".join(cell(points.get(c)) for c in clips) + " |")
    return "\n".join(lines)


def picture(runs: dict[str, dict[str, dict]], out: Path) -> None:
    """Speed-up against drop, one line per clip through the runs in threshold order."""
    curves: dict[str, list[dict]] = defaultdict(list)
    for points in runs.values():
        for clip, p in points.items():
            curves[clip].append(p)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for clip, points in sorted(curves.items()):
        points.sort(key=lambda p: p["threshold"])
        ax.plot([p["psnr_drop"] for p in points], [p["speedup"] for p in points], "o-", label=clip)
        for p in points:
            ax.annotate(f"{p['threshold']:g}", (p["psnr_drop"], p["speedup"]), fontsize=7)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xlabel("PSNR drop against dense BasicVSR (dB)")
    ax.set_ylabel("wall-clock speed-up")
    ax.set_title("skipvsr-v2 held-out ranges, labels = threshold")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", type=Path, nargs="+")
    ap.add_argument("--png", type=Path)
    args = ap.parse_args()
    curves = load(args.dirs)
    print(markdown(curves))
    if args.png:
        picture(curves, args.png)


if __name__ == "__main__":
    main()
