"""Round tables and the threshold-curve picture from curve.py's JSON files.

python experiments/skipvsr/v2/table.py results/round1_A.json results/round1_B.json --png curve.png
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def load(paths: list[Path]) -> dict[str, list[dict]]:
    return {p.stem: json.loads(p.read_text()) for p in paths}


# Policy knobs curve.py sweeps besides the threshold; a table row is one setting of those that vary.
KNOBS = ("patch", "max_stale", "occlusion_bound", "error_ref", "change_reference", "halo_ring")


def setting(row: dict, varying: list[str]) -> str:
    return ", ".join(f"{k}={row[k]}" for k in varying) or "-"


def markdown(runs: dict[str, list[dict]]) -> str:
    clips = sorted({r["clip"] for rows in runs.values() for r in rows})
    head = (
        "| run | setting | threshold | "
        + " | ".join(f"{c} drop / active" for c in clips)
        + " | mean drop | mean active |"
    )
    lines = [head, "|" + " --- |" * (len(clips) + 5)]
    for name, rows in runs.items():
        varying = [k for k in KNOBS if len({r.get(k) for r in rows}) > 1]
        by_row: dict[tuple, dict[str, dict]] = defaultdict(dict)
        for r in rows:
            by_row[tuple(r.get(k) for k in varying), r["threshold"]][r["clip"]] = r
        for (_, thr), per_clip in sorted(by_row.items()):
            cells = [f"{per_clip[c]['drop']:+.3f} / {per_clip[c]['active']:.3f}" for c in clips]
            drops = [per_clip[c]["drop"] for c in clips]
            active = [per_clip[c]["active"] for c in clips]
            mean = f"{sum(drops) / len(drops):+.3f} | {sum(active) / len(active):.3f}"
            knobs = setting(next(iter(per_clip.values())), varying)
            lines.append(f"| {name} | {knobs} | {thr} | " + " | ".join(cells) + f" | {mean} |")
    return "\n".join(lines)


def picture(runs: dict[str, list[dict]], out: Path) -> None:
    clips = sorted({r["clip"] for rows in runs.values() for r in rows})
    fig, axes = plt.subplots(1, len(clips), figsize=(4 * len(clips), 3.4), sharey=True)
    for ax, clip in zip(axes, clips):
        for name, rows in runs.items():
            pts = sorted((r["active"], r["drop"], r["threshold"]) for r in rows if r["clip"] == clip)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=name)
            for a, d, t in pts:
                ax.annotate(f"{t}", (a, d), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.axhline(0.1, color="grey", lw=0.8, ls="--")
        ax.set_title(f"{clip} (held out)")
        ax.set_xlabel("active fraction of trunk patches")
    axes[0].set_ylabel("PSNR drop vs official BasicVSR (dB)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("json", type=Path, nargs="+")
    ap.add_argument("--png", type=Path)
    args = ap.parse_args()
    runs = load(args.json)
    print(markdown(runs))
    if args.png:
        picture(runs, args.png)


if __name__ == "__main__":
    main()
