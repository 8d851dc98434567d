"""Table of PREREGISTRATION.md: drop / MACs saved (block 3 kept) per held-out set, and the rule's verdict.

    python experiments/ugsp_rife/sprites/summarize.py shipped heads_sprites_noise heads_sprites_dead_leaves

Names are those of the round tables (``round*.csv``, ``tables.py``; ``evaluate_heads.sh`` adds them).
The first is the baseline: a later one "qualifies" when its mean drop is lower and it saves at least
35% of the MACs on carphone (rounds 2-5 compare with the previous round's selected checkpoint instead;
README). The sets are the preregistered ones: threshold 0.5, carphone 90..119, 8 synthetic clips each.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from tables import HERE, RecordError, read_table

SETS = ("carphone", "noise", "dead_leaves", "sprites_noise", "sprites_dead_leaves")
CLIPS = {"carphone": "14", "noise": "8", "dead_leaves": "8", "sprites_noise": "8", "sprites_dead_leaves": "8"}


def heldout_rows(tables: list[Path]) -> list[dict]:
    rows = [r | {"table": t.name} for t in tables for r in read_table(t)]
    return [
        r
        for r in rows
        if r["kind"] == "heldout" and float(r["threshold"]) == 0.5 and CLIPS.get(r["set"]) == r["clips"]
    ]


def row(name: str, rows: list[dict]) -> dict:
    out = {}
    for s in SETS:
        found = [r for r in rows if r["name"] == name and r["set"] == s]
        if len(found) != 1:
            where = ", ".join(r["table"] for r in found) or "no table"
            raise RecordError(
                f"'{name}' on {s}: {len(found)} held-out rows at threshold 0.5 ({where}); expected 1"
            )
        (r,) = found
        out[s] = {
            "drop": float(r["psnr_drop"]),
            "saved": float(r["macs_saved"]),
            "block3": float(r["block3_kept"]),
        }
    out["mean_drop"] = statistics.fmean(out[s]["drop"] for s in SETS)
    return out


def main(names: list[str]) -> None:
    if not names:
        raise SystemExit(__doc__)
    found = heldout_rows(sorted(HERE.glob("round*.csv")))
    rows = {n: row(n, found) for n in names}
    print("| heads | " + " | ".join(SETS) + " | mean drop | qualifies |")
    print("| --- " * (len(SETS) + 3) + "|")
    base = rows[names[0]]["mean_drop"]
    for n, r in rows.items():
        cells = [f"{r[s]['drop']:+.2f} / {100 * r[s]['saved']:.1f}% ({r[s]['block3']:.2f})" for s in SETS]
        ok = n != names[0] and r["mean_drop"] < base and r["carphone"]["saved"] >= 0.35
        print(f"| {n} | " + " | ".join(cells) + f" | {r['mean_drop']:+.3f} | {'yes' if ok else 'no'} |")


if __name__ == "__main__":
    main(sys.argv[1:])
