"""Data fixtures: tiny copies of each benchmark layout, built exactly as the datasets ship (32x32 PNGs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

GT_SIZE, LQ_SIZE = 32, 8
REDS_CLIPS = ("000", "001", "011", "015", "020", *(f"{i:03d}" for i in range(240, 270)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`cuda`-marked tests are skipped on a machine without CUDA (`make gpu-check` runs them)."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (make gpu-check runs it on a GPU)")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


def write_png(path: Path, size: int = GT_SIZE, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _write_list(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n\n")  # trailing blank line, as some official lists have


def build_vimeo_triplet(root: Path) -> Path:
    train, test = ["00001/0001", "00001/0002", "00002/0001", "00002/0007"], ["00003/0001", "00003/0002"]
    _write_list(root / "tri_trainlist.txt", train)
    _write_list(root / "tri_testlist.txt", test)
    for name in train + test:
        for i in (1, 2, 3):
            write_png(root / "sequences" / name / f"im{i}.png", seed=i)
    return root


def build_vimeo_interp_test(root: Path) -> Path:
    names = ["00003/0001", "00003/0002", "00004/0001"]
    _write_list(root / "tri_testlist.txt", names)
    for name in names:
        for i in (1, 2, 3):
            write_png(root / "target" / name / f"im{i}.png", seed=i)
    return root


def build_vimeo_septuplet(root: Path) -> Path:
    """``vimeo_septuplet`` plus BasicSR's LR copy next to it, ``vimeo_septuplet_matlabLRx4/sequences``."""
    train, test = ["00001/0001", "00001/0002"], ["00002/0001"]
    _write_list(root / "sep_trainlist.txt", train)
    _write_list(root / "sep_testlist.txt", test)
    for name in train + test:
        for i in range(1, 8):
            write_png(root / "sequences" / name / f"im{i}.png", seed=i)
            lq_path = root.parent / "vimeo_septuplet_matlabLRx4" / "sequences" / name / f"im{i}.png"
            write_png(lq_path, LQ_SIZE, i)
    return root


def build_ucf101(root: Path) -> Path:
    for name in ("1", "2", "10"):
        for frame in ("frame_00.png", "frame_01_gt.png", "frame_02.png"):
            write_png(root / name / frame)
    return root


MIDDLEBURY = ("Beanbags", "Dimetrodon", "DogDance", "Grove2", "Grove3", "Hydrangea",
              "MiniCooper", "RubberWhale", "Urban2", "Urban3", "Venus", "Walking")  # fmt: skip


def build_middlebury(root: Path) -> Path:
    for name in MIDDLEBURY:
        write_png(root / "other-data" / name / "frame10.png")
        write_png(root / "other-data" / name / "frame11.png")
        write_png(root / "other-gt-interp" / name / "frame10i11.png")
    return root


def build_snu_film(root: Path) -> Path:
    """Frames under ``test/``; lists with the official ``data/SNU-FILM/`` prefix, medium root-relative."""
    clip = "test/GOPRO_test/GOPR0384_11_00"
    for i in range(1, 6):
        write_png(root / clip / f"{i:06d}.png", seed=i)
    for difficulty in ("easy", "medium", "hard", "extreme"):
        prefix = "" if difficulty == "medium" else "data/SNU-FILM/"
        lines = [" ".join(f"{prefix}{clip}/{i + k:06d}.png" for k in (0, 1, 2)) for i in (1, 3)]
        _write_list(root / f"test-{difficulty}.txt", lines)
    return root


def build_reds(root: Path) -> Path:
    for clip in REDS_CLIPS:
        for i in range(3):
            write_png(root / "train_sharp" / clip / f"{i:08d}.png", seed=i)
            write_png(root / "train_sharp_bicubic" / "X4" / clip / f"{i:08d}.png", LQ_SIZE, i)
    return root


def build_vid4(root: Path) -> Path:
    for clip, frames in (("calendar", 3), ("city", 2)):
        for i in range(frames):
            write_png(root / "GT" / clip / f"{i:08d}.png", seed=i)
            for lq in ("BIx4", "BDx4"):
                write_png(root / lq / clip / f"{i:08d}.png", LQ_SIZE, i)
    return root


# Folder names as under `${paths.data_dir}` in conf/data/*.yaml.
BUILDERS: dict[str, Callable[[Path], Path]] = {
    "vimeo_triplet": build_vimeo_triplet,
    "vimeo_interp_test": build_vimeo_interp_test,
    "vimeo_septuplet": build_vimeo_septuplet,
    "ucf101_interp_ours": build_ucf101,
    "middlebury": build_middlebury,
    "SNU-FILM": build_snu_film,
    "REDS": build_reds,
    "Vid4": build_vid4,
}


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every tiny layout under one folder (shared by the session: do not modify; use ``make_tree``)."""
    root = tmp_path_factory.mktemp("datasets")
    for name, build in BUILDERS.items():
        build(root / name)
    return root


@pytest.fixture
def make_tree(tmp_path: Path) -> Callable[[str], Path]:
    """``make_tree(name)`` builds a fresh, modifiable tiny copy of layout ``name`` under ``tmp_path``."""
    return lambda name: BUILDERS[name](tmp_path / name)
