"""VSR benchmark loaders on tiny copies of their exact layouts: partitions, windows, shapes, errors."""

from __future__ import annotations

import re
import shutil

import pytest
import torch

from dynskip.data.augment import Augment
from dynskip.data.degrade import bd_degrade, bi_degrade
from dynskip.data.errors import MissingDataError
from dynskip.data.io import read_image
from dynskip.data.reds import REDS, REDS4_CLIPS
from dynskip.data.vid4 import Vid4
from dynskip.data.vimeo90k import Vimeo90KSeptuplet


def _check_clip(sample: dict, frames: int, lq_size: int = 8) -> None:
    assert set(sample) == {"lq", "gt", "key", "clip"}
    assert sample["key"].startswith(sample.get("clip", ""))  # a window names the clip it belongs to
    assert sample["lq"].shape == (frames, 3, lq_size, lq_size)
    assert sample["gt"].shape == (frames, 3, 4 * lq_size, 4 * lq_size)


def test_reds_reds4_partition(tiny_data_dir):
    root = tiny_data_dir / "REDS"
    train = REDS(root, "train", num_frames=2, augment=Augment(crop_size=16))
    train_clips = {clip.key for clip in train.clips}
    assert train_clips.isdisjoint(REDS4_CLIPS) and len(train_clips) == 31  # 001 and 240..269
    assert len(train) == 31 * 2  # 3 frames, 2-frame windows at stride 1
    _check_clip(train[0], 2, lq_size=4)
    assert train[1]["key"] == "001/00000001"
    for split in ("val", "test"):
        data = REDS(root, split)
        assert [clip.key for clip in data.clips] == list(REDS4_CLIPS)
        assert len(data) == 4
        _check_clip(data[2], 3)
        assert data[2]["key"] == "015"


def test_reds_official_partition(tiny_data_dir):
    root = tiny_data_dir / "REDS"
    assert [clip.key for clip in REDS(root, "train", "official").clips] == ["001"]
    val = REDS(root, "val", "official")
    assert [clip.key for clip in val.clips] == [f"{i:03d}" for i in range(240, 270)]
    assert [clip.key for clip in REDS(root, "test", "official").clips] == list(REDS4_CLIPS)


def test_reds_reads_stored_lq_frames(tiny_data_dir):
    root = tiny_data_dir / "REDS"
    sample = REDS(root, "test")[0]
    lq_frame = root / "train_sharp_bicubic" / "X4" / "000" / "00000001.png"
    assert torch.equal(sample["lq"][1], read_image(lq_frame))
    assert torch.equal(sample["gt"][2], read_image(root / "train_sharp" / "000" / "00000002.png"))


def test_reds_meta_file_selects_clips(make_tree):
    root = make_tree("REDS")
    (root / "meta_info_REDS_GT.txt").write_text("000 3 (32,32,3)\n001 3 (32,32,3)\n011 3 (32,32,3)\n")
    train = REDS(root, "train", meta_file="meta_info_REDS_GT.txt")
    assert [clip.key for clip in train.clips] == ["001"]


def test_reds_errors_name_the_path(make_tree, tmp_path):
    with pytest.raises(MissingDataError, match=re.escape(str(tmp_path / "nothing"))):
        REDS(tmp_path / "nothing", "test")
    root = make_tree("REDS")
    lq_frame = root / "train_sharp_bicubic" / "X4" / "011" / "00000001.png"
    lq_frame.unlink()
    with pytest.raises(MissingDataError, match=re.escape(str(lq_frame))):
        REDS(root, "test")
    shutil.rmtree(root / "train_sharp" / "262")
    with pytest.raises(MissingDataError, match=re.escape(str(root / "train_sharp" / "262")) + ".*240..269"):
        REDS(root, "val", "official")
    with pytest.raises(ValueError, match="train split only"):
        REDS(root, "val", augment=Augment())
    with pytest.raises(ValueError, match="fewer than num_frames=5"):
        REDS(root, "train", "official", num_frames=5)


@pytest.mark.parametrize("degradation", ["BIx4", "BDx4"])
def test_vid4(tiny_data_dir, degradation):
    root = tiny_data_dir / "Vid4"
    data = Vid4(root, degradation)
    assert [clip.key for clip in data.clips] == ["calendar", "city"] and len(data) == 2
    _check_clip(data[0], 3)
    _check_clip(data[1], 2)
    assert torch.equal(data[1]["lq"][0], read_image(root / degradation / "city" / "00000000.png"))
    assert len(Vid4(root, degradation, num_frames=2)) == 2  # one full window per clip, no overlap


def test_vid4_errors(make_tree):
    root = make_tree("Vid4")
    missing = root / "BDx4" / "calendar" / "00000002.png"
    missing.unlink()
    with pytest.raises(MissingDataError, match=re.escape(str(missing))):
        Vid4(root, "BDx4")
    with pytest.raises(ValueError, match="degradation='BIx2'"):
        Vid4(root, "BIx2")


def test_vimeo_septuplet_with_stored_lq(tiny_data_dir):
    root = tiny_data_dir / "vimeo_septuplet"
    data = Vimeo90KSeptuplet(root, "test", lq_dir="../vimeo_septuplet_matlabLRx4/sequences")
    assert len(data) == 1
    sample = data[0]
    _check_clip(sample, 7)
    assert sample["key"] == "00002/0001"  # the window is the whole clip
    lq_path = tiny_data_dir / "vimeo_septuplet_matlabLRx4" / "sequences" / "00002" / "0001" / "im4.png"
    assert torch.equal(sample["lq"][3], read_image(lq_path))


@pytest.mark.parametrize(("degradation", "function"), [("bi", bi_degrade), ("bd", bd_degrade)])
def test_vimeo_septuplet_degrades_on_the_fly(tiny_data_dir, degradation, function):
    root = tiny_data_dir / "vimeo_septuplet"
    train = Vimeo90KSeptuplet(root, "train", degradation=degradation, num_frames=3)
    assert len(train) == 2 * 5  # two septuplets, 3-frame windows at stride 1
    sample = train[6]
    assert sample["key"] == "00001/0002/im2"
    assert torch.equal(sample["lq"], function(sample["gt"]))


def test_vimeo_septuplet_errors(make_tree):
    root = make_tree("vimeo_septuplet")
    with pytest.raises(MissingDataError, match=re.escape(str(root / "lr_x4"))):
        Vimeo90KSeptuplet(root, "test", lq_dir="lr_x4")
    frame = root / "sequences" / "00001" / "0002" / "im7.png"
    frame.unlink()
    with pytest.raises(MissingDataError, match=re.escape(str(frame))):
        Vimeo90KSeptuplet(root, "train")


def test_windowed_evaluation_averages_per_clip_not_per_window(tiny_data_dir):
    """Frames average within a clip, then over clips: one-frame windows of calendar (3 frames) and
    city (2) must score as the whole clips do, not weight calendar 3:2."""
    from functools import partial

    from torch.utils.data import DataLoader

    from dynskip.metrics import VideoPSNR
    from dynskip.tasks.vsr import VSRTask

    class Upsample(torch.nn.Module):  # a different error per clip, so the weighting shows
        def forward(self, lq: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.interpolate(lq.flatten(0, 1), scale_factor=4).unflatten(
                0, lq.shape[:2]
            )

    def score(data: Vid4) -> float:
        task = VSRTask(
            Upsample(), partial(torch.optim.Adam), loss=torch.nn.L1Loss(), metrics={"psnr": VideoPSNR()}
        )
        for batch in DataLoader(data, batch_size=1):
            task._evaluate(batch, task.val_metrics)
        return float(task.val_metrics.compute()["val/psnr"])

    root = tiny_data_dir / "Vid4"
    windows = Vid4(root, "BIx4", num_frames=1)
    assert [windows[i]["clip"] for i in range(len(windows))] == ["calendar"] * 3 + ["city"] * 2
    assert score(windows) == pytest.approx(score(Vid4(root, "BIx4")), abs=1e-9)
