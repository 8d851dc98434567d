"""One-off: fold the sprite rounds' JSON files into round1.csv ... round5.csv (issue 20).

    python experiments/ugsp_rife/sprites/json_to_tables.py

The JSON predate the fields the scripts now record (``command``, ``mode``, ``samples``, ``clips``);
they are filled in here from the commands that wrote them (evaluate_heads.sh and README).
"""

from __future__ import annotations

import re

from tables import HERE, append_rows, load_record, rows_from_record

SETS = ("carphone", "noise", "dead_leaves", "sprites_noise", "sprites_dead_leaves")
ALL_SOURCES = "--sources carphone noise dead_leaves sprites_noise sprites_dead_leaves"
HEADOUT = {  # (round, prefix of the JSON files, step)
    1: [("shipped", None), ("heads_sprites_noise", 200), ("heads_sprites_dead_leaves", 200)]
    + [(f"finetune_sprites_{t}_500", 500) for t in ("noise", "dead_leaves")],
    2: [(f"finetune_r2{r}_{s}", s) for r in "ab" for s in (250, 500, 750, 1000)],
    3: [(f"finetune_r2a_{s}", s) for s in (1500, 2000)],
    4: [(f"finetune_r4{r}_{s}", s) for r in "cd" for s in (250, 500, 750, 1000)]
    + [("finetune_r4d_1000_fp16", 1000), ("recount_shipped", None), ("recount_r4d_1000", 1000)],
    5: [(f"finetune_r5_{s}", s) for s in (250, 500, 750, 1000, 1250, 1500, 1750, 2000)],
}
SAMPLES32 = {"r2_a_1000": "finetune_r2a_1000", "r4_c_1000": "finetune_r4c_1000"}
SAMPLES32 |= {"r4_d_750": "finetune_r4d_750", "r4_d_1000": "finetune_r4d_1000"}
RANK_KEEP = {  # file: (round, name, step, kept shares as run)
    "rank_keep_shipped_halo1.json": (1, "shipped", None, "0.2 0.35 0.5"),
    "rank_keep_sprites_dl_halo1.json": (1, "heads_sprites_dead_leaves", 200, "0.2 0.35 0.5"),
    "rank_keep_r4d_1000_halo1.json": (4, "finetune_r4d_1000", 1000, "0.05 0.1 0.2"),
}
UNSEEN = {  # weights' name: round
    "finetune_sprites_dead_leaves_500": 1,
    "finetune_r2a_1000": 2,
    "finetune_r2a_2000": 3,
    "finetune_r4d_1000": 4,
    "finetune_r5_1750": 5,
}
UNSEEN_FRAMES = {"bikes": 41, "bigbuckbunny": 21}


def heldout_rows(prefix: str, set_name: str, step: int | None, name: str, samples: int = 8) -> list[dict]:
    """Rows of one held-out JSON, with the fields evaluate_heads.sh's commands imply."""
    path = HERE / ("samples32" if samples == 32 else "") / f"{prefix}_{set_name}.json"
    record = load_record(path)
    w = record["weights"]
    if set_name == "carphone":
        record["mode"] = "masked"
        command = "OMP_NUM_THREADS=1 python experiments/ugsp_rife/measure.py --video carphone --start 90 "
        command += f"--frames 30 --mode masked --thresholds 0.5 --weights {w}"
    else:
        record |= {"mode": "masked", "samples": samples}
        texture = set_name.removeprefix("sprites_")
        sprites = " --sprites" if set_name.startswith("sprites_") else ""
        threads = "OMP_NUM_THREADS=1 " if samples == 8 else ""  # README: the 32-clip runs, 2 threads
        command = f"{threads}python experiments/ugsp_rife/synthetic_sweep.py --samples {samples} "
        command += f"--thresholds 0.5 --texture {texture}{sprites} --weights {w}"
    return rows_from_record(record, name=name, step=step, command=command, source=str(path))


def round_rows(rnd: int) -> list[dict]:
    rows = []
    for prefix, step in HEADOUT[rnd]:
        rows += [r for s in SETS for r in heldout_rows(prefix, s, step, prefix)]
    if rnd == 4:
        for prefix, name in SAMPLES32.items():
            step = int(name.rsplit("_", 1)[1])
            rows += [r for s in SETS[1:] for r in heldout_rows(prefix, s, step, name, samples=32)]
    for file, (r, name, step, keep) in RANK_KEEP.items():
        if r != rnd:
            continue
        record = load_record(HERE / file)
        for source, figures in record["sources"].items():
            figures["clips"] = 14 if source == "carphone" else 8
        command = (
            f"OMP_NUM_THREADS=1 python experiments/ugsp_rife/rank_keep.py --weights {record['weights']} "
        )
        command += f"--active-halo 1 --keep {keep} {ALL_SOURCES}"
        rows += rows_from_record(record, name=name, step=step, command=command, source=file)
    for name, r in UNSEEN.items():
        if r != rnd:
            continue
        for clip, frames in UNSEEN_FRAMES.items():
            path = HERE / f"unseen_{clip}_{name}.json"
            record = load_record(path)
            command = "OMP_NUM_THREADS=2 dynskip evaluate --task vfi --model ugsp-rife "
            command += f"--weights {record['weights']} --video {record['video']} --frames {frames} "
            command += "--compare-dense --repeats 3"
            step = int(re.search(r"_(\d+)$", name).group(1))
            rows += rows_from_record(record, name=name, step=step, command=command, source=str(path))
    return rows


def main() -> None:
    for rnd in HEADOUT:
        table = HERE / f"round{rnd}.csv"
        if table.exists():
            table.unlink()  # rebuilt whole from the JSON
        print(table.name, append_rows(table, round_rows(rnd)), "rows")


if __name__ == "__main__":
    main()
