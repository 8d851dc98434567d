"""Threshold curve of one candidate on the held-out ranges (``heldout.sh WEIGHTS NAME T1 T2 ...``):
per threshold, each clip's drop / MACs saved and the means, as a markdown table and a PNG.

    python experiments/ugsp_rife/v2/curve.py NAME [NAME ...] --png curve.png
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

CLIPS = ("carphone", "vtest", "box", "tree")
HERE = Path(__file__).parent


def curve(name: str) -> list[dict]:
    """One row per threshold: each clip's (drop, saved) and the means over the clips."""
    data = {}
    for clip in CLIPS:
        path = HERE / "results" / f"{name}_{clip}.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run heldout.sh for {name}")
        data[clip] = json.loads(path.read_text())["thresholds"]
    common = sorted(set.intersection(*(set(d) for d in data.values())), key=float)
    rows = []
    for t in common:
        per_clip = {c: (data[c][t]["psnr_drop"], data[c][t]["macs_saved"]) for c in CLIPS}
        drops, saved = zip(*per_clip.values())
        rows.append({"threshold": float(t), "clips": per_clip, "mean_drop": statistics.fmean(drops),
                     "max_drop": max(drops), "mean_saved": statistics.fmean(saved)})  # fmt: skip
    return rows


def markdown(name: str, rows: list[dict]) -> str:
    head = "| threshold | " + " | ".join(f"{c}: drop / saved" for c in CLIPS) + " | mean drop | mean saved |"
    lines = [f"**{name}**", "", head, "|" + " --- |" * (len(CLIPS) + 3)]
    for r in rows:
        cells = " | ".join(f"{d:+.3f} dB / {100 * s:.1f}%" for d, s in r["clips"].values())
        lines.append(
            f"| {r['threshold']:g} | {cells} | {r['mean_drop']:+.3f} dB | {100 * r['mean_saved']:.1f}% |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--png", default=None)
    args = parser.parse_args()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name in args.names:
        rows = curve(name)
        print(markdown(name, rows), end="\n\n")
        ax.plot([100 * r["mean_saved"] for r in rows], [r["mean_drop"] for r in rows], "o-", label=name)
        for r in rows:
            ax.annotate(f"{r['threshold']:g}", (100 * r["mean_saved"], r["mean_drop"]), fontsize=7)
    ax.axhline(0.1, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("MACs saved, mean over held-out clips (%)")
    ax.set_ylabel("PSNR drop vs dense RIFE v3.9 (dB)")
    ax.set_title("UGSP-RIFE threshold curves, held-out train clips")
    ax.legend(fontsize=8)
    fig.tight_layout()
    if args.png:
        fig.savefig(args.png, dpi=120)
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
