"""D10: a run estimated above the memory limit stops before the model loads, naming the estimate and
what to do; VSR in spatial tiles matches the untiled output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dynskip.assets import asset_path
from dynskip.data.degrade import bi_degrade
from dynskip.evaluation.footage import load_frames
from dynskip.evaluation.memory import GIB, MemoryLimitError, estimate_bytes
from dynskip.evaluation.tiling import tiled_vsr_forward
from dynskip.metrics.psnr import psnr
from dynskip.models import build_model

UHD = (2160, 3840)


@pytest.fixture
def uhd_frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic 4K frames (flat, so they write fast)."""
    folder = tmp_path_factory.mktemp("uhd")
    for i in range(2):
        Image.fromarray(np.full((*UHD, 3), 40 * i, dtype=np.uint8)).save(folder / f"{i:04d}.png")
    return folder


def test_upscaling_4k_is_refused_before_the_model_loads(uhd_frames, tmp_path, no_model, cli_fails):
    out = tmp_path / "out"
    error = cli_fails(
        ["upscale", str(uhd_frames), "-o", str(out)],
        MemoryLimitError,
        r"upscale .*2160x3840.* GiB .*--max-memory.*--tile",
    )
    assert "nothing was run" in error and not out.exists()


def test_interpolating_4k_over_the_limit_suggests_rife_scale(uhd_frames, tmp_path, no_model, cli_fails):
    cli_fails(
        ["interpolate", str(uhd_frames), "-o", str(tmp_path / "out"), "--max-memory", "1"],
        MemoryLimitError,
        r"above the limit of 1\.0 GiB.*--scale",
    )
    assert not (tmp_path / "out").exists()


def test_evaluating_4k_is_refused_before_reading_it(uhd_frames, no_model, cli_fails):
    cli_fails(
        ["evaluate", str(uhd_frames), "--model", "basicvsr", "--max-memory", "0.5"],
        MemoryLimitError,
        r"evaluate basicvsr on 2 frames",
    )


def test_the_default_limit_is_half_the_machines_ram(uhd_frames, tmp_path, no_model, monkeypatch, cli_fails):
    monkeypatch.setattr("dynskip.evaluation.memory.machine_memory_bytes", lambda: 64 * GIB)
    cli_fails(
        ["upscale", str(uhd_frames), "-o", str(tmp_path / "out")],
        MemoryLimitError,
        r"limit of 32\.0 GiB \(--max-memory; default half of this machine's 64 GiB\)",
    )


def test_a_limit_above_the_estimate_lets_the_run_start(uhd_frames, tmp_path, no_model, cli_fails):
    needed = estimate_bytes("basicvsr", UHD, frames_per_pass=2) / GIB
    assert needed > 40  # 4K LR frames: far beyond a laptop
    cli_fails(  # past the check, at the model
        ["upscale", str(uhd_frames), "-o", str(tmp_path / "out"), "--max-memory", str(2 * needed)],
        AssertionError,
        "the model was loaded",
    )


def test_tiled_vsr_is_within_a_tenth_of_a_db_of_untiled_on_carphone():
    model = build_model("basicvsr", weights="reds4").eval()
    gt = load_frames(asset_path("carphone"), 4, 0)  # 144x176
    lq = bi_degrade(gt, scale=4)[None]  # 36x44 LR
    with torch.inference_mode():
        whole = model(lq)[0].clamp(0, 1)
        tiled = tiled_vsr_forward(model, lq, tile=16)[0].clamp(0, 1)  # 3x3 tiles, 16 px of context
    gap = float(psnr(whole, gt).mean() - psnr(tiled, gt).mean())
    assert abs(gap) < 0.1, gap
    assert float(psnr(tiled, whole).mean()) > 40  # and close to the untiled output itself


def test_upscale_with_tile_writes_the_full_frame(tmp_path):
    from outputs_helpers import cli_ok

    from dynskip.data.video import read_video
    from helpers.clips import tiny_video

    src = tiny_video(tmp_path / "in.mp4", frames=3, size=(24, 40))
    cli_ok(["upscale", str(src), "-o", str(tmp_path / "out"), "--tile", "16"])
    assert read_video(tmp_path / "out").shape == (3, 96, 160, 3)
