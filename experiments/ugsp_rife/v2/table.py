"""Rows of the v2 held-out table from ``results/NAME_<clip>.json`` (``heldout.sh``), and the rule's verdict.

python experiments/ugsp_rife/v2/table.py NAME [NAME ...] [--threshold 0.5]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

CLIPS = ("carphone", "vtest", "box", "tree")
HERE = Path(__file__).parent


def rows(name: str, threshold: str) -> dict[str, dict]:
    out = {}
    for clip in CLIPS:
        path = HERE / "results" / f"{name}_{clip}.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run heldout.sh for {name}")
        data = json.loads(path.read_text())
        if threshold not in data["thresholds"]:
            raise KeyError(f"{path} has no threshold {threshold}; it has {sorted(data['thresholds'])}")
        entry = data["thresholds"][threshold]
        out[clip] = {"drop": entry["psnr_drop"], "saved": entry["macs_saved"], "dense": data["dense_psnr"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--threshold", default="0.5")
    args = parser.parse_args()
    header = (
        "| candidate | "
        + " | ".join(f"{c}: drop / saved" for c in CLIPS)
        + " | mean drop | mean saved | qualifies |"
    )
    print(header)
    print("|" + " --- |" * (len(CLIPS) + 4))
    for name in args.names:
        r = rows(name, args.threshold)
        drops = [r[c]["drop"] for c in CLIPS]
        saved = [r[c]["saved"] for c in CLIPS]
        ok = statistics.fmean(drops) <= 0.05 and max(drops) <= 0.10
        cells = " | ".join(f"{r[c]['drop']:+.3f} dB / {100 * r[c]['saved']:.1f}%" for c in CLIPS)
        print(
            f"| {name} | {cells} | {statistics.fmean(drops):+.3f} dB | "
            f"{100 * statistics.fmean(saved):.1f}% | {'yes' if ok else 'no'} |"
        )


if __name__ == "__main__":
    main()
