"""D3 / D10: an existing output is replaced only with --overwrite, and then only what dynskip wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from outputs_helpers import cli_ok, leftovers, snapshot
from PIL import Image

from dynskip.data.video import probe_video
from dynskip.utils.atomic import MANIFEST, read_manifest
from helpers.clips import tiny_video


def _photo(path: Path, seed: int) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _upscale_args(src: Path, dst: Path, *extra: str) -> list[str]:
    return ["upscale", str(src), "-o", str(dst), "--chunk", "4", "--overlap", "1", *extra]


def _upscale(src: Path, dst: Path, *extra: str) -> None:
    cli_ok(_upscale_args(src, dst, *extra))


def test_overwrite_replaces_dynskips_frames_and_spares_the_users_files(tmp_path, caplog):
    out = tmp_path / "out"
    _upscale(tiny_video(tmp_path / "long.mp4", frames=5), out)
    assert len(read_manifest(out)) == 5
    _photo(out / "holiday.png", 1)
    (out / "notes.txt").write_text("mine")
    theirs = {k: v for k, v in snapshot(out).items() if k in ("holiday.png", "notes.txt")}
    _upscale(tiny_video(tmp_path / "short.mp4", frames=3, seed=1), out, "--overwrite")
    after = snapshot(out)
    assert {k: after[k] for k in theirs} == theirs  # the user's files, byte for byte
    frames = sorted(p.name for p in out.glob("0*.png"))
    assert frames == ["00000000.png", "00000001.png", "00000002.png"]  # no stale frame of the 5-frame run
    assert read_manifest(out) == frames
    assert leftovers(tmp_path) == []
    assert "keeps 2 files dynskip did not write (holiday.png, notes.txt)" in caplog.text


def test_a_folder_of_the_users_pictures_is_not_written_into_without_overwrite(tmp_path, cli_fails):
    out = tmp_path / "photos"
    out.mkdir()
    _photo(out / "IMG_0001.png", 1)
    before = snapshot(out)
    cli_fails(
        _upscale_args(tiny_video(tmp_path / "in.mp4", frames=3), out),
        FileExistsError,
        r"photos already holds files .*--overwrite",
    )
    assert snapshot(out) == before


def test_overwrite_never_removes_a_users_frame_named_like_dynskips(tmp_path, cli_fails):
    out = tmp_path / "photos"
    out.mkdir()
    _photo(out / "00000001.png", 1)  # the user's own, named as dynskip names frames
    before = snapshot(out)
    cli_fails(
        _upscale_args(tiny_video(tmp_path / "in.mp4", frames=3), out, "--overwrite"),
        FileExistsError,
        r"did not write .*00000001\.png",
    )
    assert snapshot(out) == before


def test_a_video_named_folder_is_never_removed(tmp_path, cli_fails):
    out = tmp_path / "out.mp4"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "keep.txt").write_text("mine")
    cli_fails(
        _upscale_args(tiny_video(tmp_path / "in.mp4", frames=3), out, "--overwrite"),
        IsADirectoryError,
        r"out\.mp4 is an existing folder",
    )
    assert (out / "sub" / "keep.txt").read_text() == "mine"


def test_an_existing_video_is_replaced_only_with_overwrite(tmp_path, cli_fails):
    out = tmp_path / "out.mp4"
    src = tiny_video(tmp_path / "in.mp4", frames=3)
    _upscale(src, out)
    before = snapshot(tmp_path)
    cli_fails(_upscale_args(src, out), FileExistsError, r"out\.mp4 exists; pass --overwrite")
    assert snapshot(tmp_path) == before
    _upscale(tiny_video(tmp_path / "in2.mp4", frames=2), out, "--overwrite")
    assert probe_video(out).frames == 2
    assert not (tmp_path / MANIFEST).exists() and leftovers(tmp_path) == []


def test_an_unwritable_output_folder_fails_before_the_model_loads(tmp_path, no_model, cli_fails):
    src = tiny_video(tmp_path / "in.mp4", frames=3)
    if os.geteuid() == 0:  # root writes through permission bits; /proc refuses new entries to anyone
        out = Path("/proc/dynskip-reliability/out.mp4")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        out = locked / "out.mp4"
    cli_fails(_upscale_args(src, out), PermissionError, rf"cannot write output {out}")
    assert not out.exists()


def test_a_report_is_replaced_only_with_overwrite_and_only_its_own_files(tmp_path, cli_fails):
    sweep = tmp_path / "sweep"
    for i, psnr in enumerate((30.0, 31.0)):
        job = sweep / str(i)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(f"- model.budget={0.3 + i / 10}\n")
        (job / "metrics.json").write_text(json.dumps({"val/psnr": psnr, "val/skip/gmacs_actual": 1.0 + i}))
    cli_ok(["report", str(sweep)])
    report = sweep / "report"
    (report / "my_notes.md").write_text("mine")
    before = snapshot(report)
    cli_fails(["report", str(sweep)], FileExistsError, r"report already holds files .*--overwrite")
    assert snapshot(report) == before
    cli_ok(["report", str(sweep), "--overwrite"])
    assert (report / "my_notes.md").read_text() == "mine" and (report / "report.md").is_file()
    assert "my_notes.md" not in read_manifest(report)
