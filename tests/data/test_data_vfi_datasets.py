"""VFI benchmark loaders on tiny copies of their exact layouts: cardinality, shapes, keys, errors."""

from __future__ import annotations

import re

import pytest
import torch

from dynskip.data.augment import Augment
from dynskip.data.errors import CorruptDataError, MissingDataError
from dynskip.data.middlebury import MiddleburyOther
from dynskip.data.snu_film import SNUFILM, resolve_snu_path
from dynskip.data.ucf101 import UCF101Interp
from dynskip.data.vimeo90k import Vimeo90KTriplet


def _check_triplet(sample: dict, size: tuple[int, int] = (32, 32)) -> None:
    assert set(sample) == {"img0", "img1", "gt", "timestep", "key", "clip", "augment"}
    for name in ("img0", "img1", "gt"):
        assert sample[name].shape == (3, *size) and sample[name].dtype == torch.float32
        assert sample[name].min() >= 0.0 and sample[name].max() <= 1.0
    assert sample["timestep"].dtype == torch.float32 and sample["timestep"].item() == 0.5


def test_vimeo_triplet_splits(tiny_data_dir):
    root = tiny_data_dir / "vimeo_triplet"
    test = Vimeo90KTriplet(root, split="test")
    assert len(test) == 2 and [e.key for e in test.entries] == ["00003/0001", "00003/0002"]
    _check_triplet(test[1])
    assert test[1]["key"] == "00003/0002"
    assert len(Vimeo90KTriplet(root, split="train")) == 4
    train = Vimeo90KTriplet(root, split="train", val_fraction=0.25, augment=Augment(crop_size=16))
    val = Vimeo90KTriplet(root, split="val", val_fraction=0.25)
    assert [e.key for e in val.entries] == ["00002/0007"]
    assert len(train) == 3 and train[0]["gt"].shape == (3, 16, 16)
    assert test.entries[0].gt == root / "sequences" / "00003" / "0001" / "im2.png"  # im2 is the target


def test_vimeo_rife_test_layout(tiny_data_dir):
    root = tiny_data_dir / "vimeo_interp_test"
    data = Vimeo90KTriplet(root, split="test", layout="rife_test")
    assert len(data) == 3
    assert data.entries[2].img0 == root / "target" / "00004" / "0001" / "im1.png"
    _check_triplet(data[2])
    with pytest.raises(ValueError, match="test split only"):
        Vimeo90KTriplet(root, split="train", layout="rife_test")


def test_vimeo_triplet_argument_errors(tiny_data_dir):
    root = tiny_data_dir / "vimeo_triplet"
    with pytest.raises(ValueError, match="split='valid'"):
        Vimeo90KTriplet(root, split="valid")
    with pytest.raises(ValueError, match="train split only"):
        Vimeo90KTriplet(root, split="test", augment=Augment())
    with pytest.raises(ValueError, match="val_fraction > 0"):
        Vimeo90KTriplet(root, split="val")


def test_vimeo_triplet_file_errors_name_the_path(make_tree, tmp_path):
    with pytest.raises(MissingDataError, match=re.escape(str(tmp_path / "absent"))):
        Vimeo90KTriplet(tmp_path / "absent", split="test")
    root = make_tree("vimeo_triplet")
    (root / "tri_testlist.txt").unlink()
    with pytest.raises(MissingDataError, match=re.escape(str(root / "tri_testlist.txt"))):
        Vimeo90KTriplet(root, split="test")
    frame = root / "sequences" / "00002" / "0007" / "im2.png"
    frame.unlink()
    with pytest.raises(MissingDataError, match=re.escape(str(frame))):
        Vimeo90KTriplet(root, split="train")
    (root / "tri_trainlist.txt").write_text("00001/0001\n\n00001/0002\n")
    with pytest.raises(CorruptDataError, match=re.escape(str(root / "tri_trainlist.txt")) + ":2: blank line"):
        Vimeo90KTriplet(root, split="train")


def test_unreadable_image_is_named_when_loaded(make_tree):
    root = make_tree("vimeo_triplet")
    bad = root / "sequences" / "00003" / "0001" / "im3.png"
    bad.write_bytes(b"\x89PNG truncated")
    data = Vimeo90KTriplet(root, split="test")
    with pytest.raises(CorruptDataError, match=re.escape(str(bad))):
        data[0]


def test_ucf101(tiny_data_dir, make_tree):
    data = UCF101Interp(tiny_data_dir / "ucf101_interp_ours")
    assert len(data) == 3 and sorted(e.key for e in data.entries) == ["1", "10", "2"]
    _check_triplet(data[0])
    assert data.entries[0].gt.name == "frame_01_gt.png"
    root = make_tree("ucf101_interp_ours")
    (root / "2" / "frame_02.png").unlink()
    with pytest.raises(MissingDataError, match=re.escape(str(root / "2" / "frame_02.png"))):
        UCF101Interp(root)


def test_middlebury_other(tiny_data_dir, make_tree):
    data = MiddleburyOther(tiny_data_dir / "middlebury")
    assert len(data) == 12 and data.entries[0].key == "Beanbags" and data.entries[-1].key == "Walking"
    _check_triplet(data[11])
    root = make_tree("middlebury")
    gt = root / "other-gt-interp" / "Venus" / "frame10i11.png"
    gt.unlink()
    with pytest.raises(MissingDataError, match=re.escape(str(gt))):
        MiddleburyOther(root)


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard", "extreme"])
def test_snu_film_official_and_root_relative_lists(tiny_data_dir, difficulty):
    root = tiny_data_dir / "SNU-FILM"
    data = SNUFILM(root, difficulty)
    assert len(data) == 2
    assert data.entries[1].gt == root / "test" / "GOPRO_test" / "GOPR0384_11_00" / "000004.png"
    assert data.entries[1].key == f"{difficulty}/GOPRO_test/GOPR0384_11_00/000004"
    _check_triplet(data[0])


def test_snu_film_path_resolution(tmp_path):
    assert resolve_snu_path(tmp_path, "data/SNU-FILM/test/a/1.png") == tmp_path / "test" / "a" / "1.png"
    assert resolve_snu_path(tmp_path, "test/a/1.png") == tmp_path / "test" / "a" / "1.png"


def test_snu_film_errors(make_tree):
    root = make_tree("SNU-FILM")
    with pytest.raises(ValueError, match="difficulty='insane'"):
        SNUFILM(root, "insane")
    listing = root / "test-hard.txt"
    listing.write_text(listing.read_text().replace("000002.png ", "", 1))
    with pytest.raises(CorruptDataError, match=re.escape(str(listing)) + ":1: expected 3 frame paths, got 2"):
        SNUFILM(root, "hard")
    frame = root / "test" / "GOPRO_test" / "GOPR0384_11_00" / "000005.png"
    frame.unlink()
    with pytest.raises(
        MissingDataError, match=re.escape(str(root / "test-easy.txt")) + ":2: frame " + re.escape(str(frame))
    ):
        SNUFILM(root, "easy")
    (root / "test-medium.txt").unlink()
    with pytest.raises(MissingDataError, match=re.escape(str(root / "test-medium.txt"))):
        SNUFILM(root, "medium")
