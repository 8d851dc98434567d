"""Table of PREREGISTRATION.md: drop / MACs saved (block 3 kept) per held-out set, and the rule's verdict.

    python experiments/ugsp_rife/sprites/summarize.py shipped heads_sprites_noise heads_sprites_dead_leaves

Names are the prefixes ``evaluate_heads.sh`` wrote. The first is the baseline: a later one
"qualifies" when its mean drop is lower and it saves at least 35% of the MACs on carphone (rounds 2
and 3 compare with the previous round's selected checkpoint instead; README). Also writes the rows
to ``summary.json``.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).parent
SETS = ("carphone", "noise", "dead_leaves", "sprites_noise", "sprites_dead_leaves")


def row(name: str) -> dict:
    out = {}
    for s in SETS:
        data = json.loads((HERE / f"{name}_{s}.json").read_text())
        (figures,) = data["thresholds"].values()  # one threshold: 0.5
        kept = figures.get("block3_active", figures.get("level_active_fraction", {}).get("block3.convblock"))
        out[s] = {"drop": figures["psnr_drop"], "saved": figures["macs_saved"], "block3": kept}
    out["mean_drop"] = statistics.fmean(out[s]["drop"] for s in SETS)
    return out


def main(names: list[str]) -> None:
    rows = {n: row(n) for n in names}
    print("| heads | " + " | ".join(SETS) + " | mean drop | qualifies |")
    print("| --- " * (len(SETS) + 3) + "|")
    base = rows[names[0]]["mean_drop"]
    for n, r in rows.items():
        cells = [f"{r[s]['drop']:+.2f} / {100 * r[s]['saved']:.1f}% ({r[s]['block3']:.2f})" for s in SETS]
        ok = n != names[0] and r["mean_drop"] < base and r["carphone"]["saved"] >= 0.35
        print(f"| {n} | " + " | ".join(cells) + f" | {r['mean_drop']:+.3f} | {'yes' if ok else 'no'} |")
    (HERE / "summary.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
