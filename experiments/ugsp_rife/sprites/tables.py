"""Results tables of the sprite rounds: one CSV per round (``round1.csv`` ... ``round5.csv``).

Measurements go to JSON in the git-ignored ``sprites/results/`` and are then appended, one row per
set (and threshold, or kept share and order), to their round's table:

    python experiments/ugsp_rife/sprites/tables.py add experiments/ugsp_rife/sprites/round6.csv \\
        --name finetune_r6_500 --step 500 experiments/ugsp_rife/sprites/results/finetune_r6_500_*.json

``evaluate_heads.sh`` / ``evaluate_run.sh`` do this themselves when given a table. The preregistered
summary of some heads (the first is the baseline; the old ``summarize.py``):

    python experiments/ugsp_rife/sprites/tables.py summarize shipped heads_sprites_noise \\
        heads_sprites_dead_leaves

Records written by ``measure.py``, ``synthetic_sweep.py`` and ``rank_keep.py`` carry their own command line;
``dynskip evaluate --json`` records do not, so ``--command`` is required for them. A row that is
already in the table (same kind, name, set, clips, threshold, order, kept share) is refused, never
overwritten. Floats are written at full precision (``repr``), so a table holds the JSON's figures
unchanged. ``synthetic_sweep.py`` records only the drop: its ``psnr`` is ``dense_psnr - psnr_drop``,
which is how the script defines the drop.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).parent
COLUMNS = (
    "kind",  # heldout (threshold sweep), rank_keep, unseen (dynskip evaluate)
    "name",
    "step",
    "set",
    "clips",  # synthetic clips, carphone pairs, or predicted frames of an unseen clip
    "size",
    "speed",  # synthetic clips: motion in px per frame
    "threshold",
    "order",  # rank_keep: head or random
    "keep",  # rank_keep: share of the valid block-3 tiles kept
    "mode",
    "active_halo",
    "threads",
    "weights",
    "baseline",
    "dense_psnr",
    "own_dense_psnr",
    "psnr",
    "psnr_drop",
    "macs_saved",
    "block2_kept",
    "block3_kept",
    "gmacs_dense",  # per frame (carphone: per pair)
    "gmacs",
    "speedup",
    "seconds_per_frame",
    "dense_seconds_per_frame",
    "ssim",
    "dense_ssim",
    "psnr_y",
    "dense_psnr_y",
    "mse_ratio_active",
    "mse_ratio_pruned",
    "command",
)
KEY = ("kind", "name", "set", "clips", "threshold", "order", "keep")


class RecordError(ValueError):
    """A measurement record or table that cannot be turned into rows; the message names the file."""


def _need(record: dict, key: str, source: str) -> object:
    if key not in record:
        raise RecordError(f"{source}: no '{key}' in the record (expected keys: {sorted(record)})")
    return record[key]


def _size(record: dict) -> str:
    return "x".join(str(v) for v in record["size"]) if "size" in record else ""


def _threshold_rows(record: dict, source: str) -> list[dict]:
    """``measure.py`` (``video``) or ``synthetic_sweep.py`` (``texture``) records: one row per threshold."""
    if "video" in record:
        base = {
            "set": record["video"],
            "clips": _need(record, "pairs", source),
        }
    else:
        prefix = "sprites_" if _need(record, "sprites", source) else ""
        base = {
            "set": prefix + str(_need(record, "texture", source)),
            "clips": _need(record, "samples", source),
            "speed": _need(record, "speed", source),
        }
    base.update(
        kind="heldout",
        threads=record.get("threads", ""),
        size=_size(record),
        mode=_need(record, "mode", source),
        active_halo=record.get("active_halo", 0),
        weights=_need(record, "weights", source),
        baseline=_need(record, "baseline", source),
        dense_psnr=_need(record, "dense_psnr", source),
        own_dense_psnr=_need(record, "own_dense_psnr", source),
    )
    rows = []
    for threshold, figures in _need(record, "thresholds", source).items():
        levels = figures.get("level_active_fraction", {})
        drop = _need(figures, "psnr_drop", f"{source}, threshold {threshold}")
        rows.append(
            {
                **base,
                "threshold": float(threshold),
                "psnr": figures.get("psnr", base["dense_psnr"] - drop),
                "psnr_drop": drop,
                "macs_saved": _need(figures, "macs_saved", f"{source}, threshold {threshold}"),
                "block2_kept": levels.get("block2.convblock", ""),
                "block3_kept": figures.get("block3_active", levels.get("block3.convblock", "")),
                "gmacs_dense": figures.get("gmacs_dense", ""),
                "speedup": figures.get("speedup", ""),
            }
        )
    return rows


def _rank_keep_rows(record: dict, source: str) -> list[dict]:
    """``rank_keep.py`` records: one row per source, order (head / random) and kept share."""
    rows = []
    for set_name, figures in _need(record, "sources", source).items():
        for label, cell in figures.items():
            if "@" not in label:  # dense_psnr, own_dense_psnr, baseline
                continue
            order, keep = label.split("@")
            rows.append(
                {
                    "kind": "rank_keep",
                    "set": set_name,
                    "clips": _need(figures, "clips", f"{source}, source {set_name}"),
                    "order": order,
                    "keep": float(keep),
                    "mode": "masked",  # rank_keep.py always runs masked
                    "active_halo": _need(record, "active_halo", source),
                    "weights": _need(record, "weights", source),
                    "baseline": figures["baseline"],
                    "dense_psnr": figures["dense_psnr"],
                    "own_dense_psnr": figures["own_dense_psnr"],
                    "psnr": figures["dense_psnr"] - cell["psnr_drop"],
                    "psnr_drop": cell["psnr_drop"],
                    "macs_saved": cell["macs_saved"],
                    "mse_ratio_active": cell.get("mse_ratio_active", ""),
                    "mse_ratio_pruned": cell.get("mse_ratio_pruned", ""),
                }
            )
    if record.get("fill", "zeros") != "zeros":
        raise RecordError(f"{source}: fill '{record['fill']}' has no column; the tables hold fill=zeros runs")
    return rows


def _unseen_rows(record: dict, source: str) -> list[dict]:
    """``dynskip evaluate --compare-dense --json`` records (sparse execution, the CLI's mode)."""
    dense = _need(record, "dense", source)
    units = record.get("active_fraction_per_unit", {})
    video = Path(str(_need(record, "video", source))).stem
    return [
        {
            "kind": "unseen",
            "set": video,
            "clips": _need(record, "frames", source),
            "threshold": _need(record, "threshold", source),
            "mode": "sparse",
            "threads": record.get("threads", ""),
            "active_halo": record.get("model_args", {}).get("active_halo_tiles", 0),
            "weights": _need(record, "weights", source),
            "baseline": dense.get("baseline", ""),
            "dense_psnr": dense["psnr"],
            "psnr": _need(record, "psnr", source),
            "psnr_drop": _need(record, "psnr_drop", source),
            "macs_saved": _need(record, "macs_saved_fraction", source),
            "block2_kept": units.get("block2.convblock", ""),
            "block3_kept": units.get("block3.convblock", ""),
            "gmacs_dense": dense.get("gmacs_per_frame", ""),
            "gmacs": record.get("gmacs_per_frame", ""),
            "speedup": _need(record, "speedup", source),
            "seconds_per_frame": record["seconds_per_frame"],
            "dense_seconds_per_frame": dense["seconds_per_frame"],
            "ssim": record.get("ssim", ""),
            "dense_ssim": dense.get("ssim", ""),
            "psnr_y": record.get("psnr_y", ""),
            "dense_psnr_y": dense.get("psnr_y", ""),
        }
    ]


def rows_from_record(
    record: dict, *, name: str, step: int | None, command: str | None, source: str
) -> list[dict]:
    """Table rows of one measurement record; ``command`` overrides the record's own ``command``."""
    if "sources" in record:
        rows = _rank_keep_rows(record, source)
    elif "thresholds" in record:
        rows = _threshold_rows(record, source)
    elif "dense" in record and "speedup" in record:
        rows = _unseen_rows(record, source)
    else:
        raise RecordError(
            f"{source}: not a measure.py, synthetic_sweep.py, rank_keep.py or "
            f"'dynskip evaluate --compare-dense' record (keys: {sorted(record)})"
        )
    command = command or record.get("command")
    if not command:
        raise RecordError(
            f"{source}: the record has no 'command'; pass --command with the command that wrote it"
        )
    return [
        {
            **dict.fromkeys(COLUMNS, ""),
            **row,
            "name": name,
            "step": "" if step is None else step,
            "command": command,
        }
        for row in rows
    ]


def _cell(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def row_key(row: dict) -> tuple[str, ...]:
    # through _cell, so a row read back from the CSV and a fresh one compare equal
    return tuple(_cell(row[k]) for k in KEY)


def read_table(path: Path) -> list[dict]:
    """The rows of one round's table, as strings; the header must be ``COLUMNS``."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise RecordError(
                f"{path}: header {reader.fieldnames} is not the sprite-table header {list(COLUMNS)}"
            )
        return list(reader)


def append_rows(path: Path, rows: Iterable[dict]) -> int:
    """Append ``rows`` to the table at ``path`` (created with its header); a row already there is an error."""
    rows = list(rows)
    existing = {row_key(r) for r in read_table(path)} if path.exists() else set()
    new_keys = [row_key(r) for r in rows]
    clashes = [k for k in new_keys if k in existing] + [
        k for i, k in enumerate(new_keys) if k in new_keys[:i]
    ]
    if clashes:
        named = ", ".join(repr(dict(zip(KEY, k, strict=True))) for k in clashes[:3])
        raise RecordError(f"{path}: {len(clashes)} row(s) already in the table, not overwritten: {named}")
    fresh = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        if fresh:
            writer.writerow(COLUMNS)
        writer.writerows([_cell(r[c]) for c in COLUMNS] for r in rows)
    return len(rows)


def load_record(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise RecordError(f"{path}: cannot read a JSON measurement record ({err})") from err


# ---------------------------------------------------------------------------------------- summarize
# The table of PREREGISTRATION.md: drop / MACs saved (block 3 kept) per held-out set, and the rule's
# verdict. The first name is the baseline: a later one "qualifies" when its mean drop is lower and it
# saves at least 35% of the MACs on carphone (rounds 2-5 compare with the previous round's selected
# checkpoint instead; README). The sets are the preregistered ones: threshold 0.5, carphone 90..119,
# 8 synthetic clips each.
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


def summarize(names: list[str]) -> None:
    found = heldout_rows(sorted(HERE.glob("round*.csv")))
    rows = {n: row(n, found) for n in names}
    print("| heads | " + " | ".join(SETS) + " | mean drop | qualifies |")
    print("| --- " * (len(SETS) + 3) + "|")
    base = rows[names[0]]["mean_drop"]
    for n, r in rows.items():
        cells = [f"{r[s]['drop']:+.2f} / {100 * r[s]['saved']:.1f}% ({r[s]['block3']:.2f})" for s in SETS]
        ok = n != names[0] and r["mean_drop"] < base and r["carphone"]["saved"] >= 0.35
        print(f"| {n} | " + " | ".join(cells) + f" | {r['mean_drop']:+.3f} | {'yes' if ok else 'no'} |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="append the rows of measurement JSON to a round's table")
    add.add_argument(
        "table", type=Path, help="the round's CSV, e.g. experiments/ugsp_rife/sprites/round5.csv"
    )
    add.add_argument("records", type=Path, nargs="+", help="JSON written by the measurement scripts")
    add.add_argument("--name", required=True, help="the weights' name in the round, e.g. finetune_r5_1750")
    add.add_argument("--step", type=int, default=None, help="the checkpoint's training step")
    add.add_argument("--command", dest="run_command", default=None, help="the command that wrote the JSON")
    summary = sub.add_parser(
        "summarize", help="print the preregistered table for some heads (baseline first)"
    )
    summary.add_argument(
        "names", nargs="+", help="names in the round tables, e.g. shipped heads_sprites_noise"
    )
    args = p.parse_args(argv)
    if args.command == "summarize":
        try:
            summarize(args.names)
        except RecordError as err:
            raise SystemExit(f"tables.py: {err}") from None
        return
    try:
        rows = []
        for path in args.records:
            record = load_record(path)
            rows += rows_from_record(
                record, name=args.name, step=args.step, command=args.run_command, source=str(path)
            )
        n = append_rows(args.table, rows)
    except RecordError as err:
        raise SystemExit(f"tables.py: {err}") from None
    print(f"{args.table}: {n} row(s) added for {args.name}")


if __name__ == "__main__":
    main()
