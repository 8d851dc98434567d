"""`make run`'s pictures: labelled comparison panels, tile masks over the frame drawn where the tiles
are, and the speed-versus-quality plot over thresholds against the dense baselines."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from dynskip.assets import asset_path
from dynskip.demo_pictures import (
    comparison_picture,
    mask_over_frame,
    skipvsr_masks,
    speed_quality_plot,
    ugsp_rife_masks,
)
from dynskip.evaluation.footage import load_frames
from dynskip.evaluation.loading import load_model


@pytest.fixture(scope="module")
def clip() -> torch.Tensor:
    return load_frames(asset_path("carphone"), 5, 0)


def is_png(path: Path, min_width: int) -> bool:
    with Image.open(path) as image:
        return image.format == "PNG" and image.width >= min_width


def test_mask_over_frame_paints_each_tile_where_it_lies() -> None:
    frame = torch.full((3, 6, 7), 0.5)
    mask = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # 4-pixel tiles; the grid overhangs the frame
    shown = mask_over_frame(mask, frame, 4)
    assert shown.shape == (3, 6, 7)
    ran, skipped = shown[:, 0, 0], shown[:, 0, 5]  # top-left tile ran, top-right was skipped
    assert ran[0] > ran[2] and skipped[2] > skipped[0]
    assert torch.equal(shown[:, 5, 6], ran)  # bottom-right tile, cut by the frame border
    with pytest.raises(ValueError, match=r"does not cover \(3, 9, 7\)"):
        mask_over_frame(mask, torch.zeros(3, 9, 7), 4)


def test_mask_panels_say_what_ran(clip: torch.Tensor) -> None:
    with torch.inference_mode():
        vsr = skipvsr_masks(load_model("skipvsr-v2"), clip)
        vfi = ugsp_rife_masks(load_model("ugsp-rife"), clip)
    assert [label.split(":")[0] for label, _ in vsr[1:]] == [
        "skipvsr-v2 backward trunk",
        "skipvsr-v2 forward trunk",
    ]
    assert [label.split(":")[0] for label, _ in vfi[1:]] == ["ugsp-rife block2", "ugsp-rife block3"]
    for label, image in vsr + vfi:
        assert image.shape == (3, 144, 176), label
    assert all(label.endswith("ran") for label, _ in vsr[1:] + vfi[1:])


def test_comparison_and_speed_quality_pictures(clip: torch.Tensor, tmp_path: Path) -> None:
    with torch.inference_mode():
        path = comparison_picture(
            "vfi",
            clip,
            ("rife v3.9", load_model("rife")),
            ("ugsp-rife", load_model("ugsp-rife")),
            tmp_path / "c.png",
        )
    assert is_png(path, 600)
    results = [
        {"model": "ugsp-rife", "threshold": t, "psnr": p, "speedup": s, "dense": {"psnr": 30.7}}
        for t, p, s in [(0.3, 30.69, 1.1), (0.5, 30.65, 1.27), (0.7, 30.1, 1.2)]
    ]
    plot = speed_quality_plot({"VFI: ugsp-rife vs its dense baseline": results}, tmp_path / "s.png")
    assert is_png(plot, 500)
