"""Inputs written or read by tests in several folders: noise videos, smooth scenes, carphone, pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dynskip.assets import asset_path
from dynskip.data.video import VideoWriter, read_video


def tiny_video(path: Path, frames: int = 6, size: tuple[int, int] = (16, 20), seed: int = 0) -> Path:
    """A short random-noise clip at 10 fps (video file or PNG folder, by ``path``'s suffix)."""
    rng = np.random.default_rng(seed)
    with VideoWriter(path, fps=10) as writer:
        for _ in range(frames):
            writer.write(rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return path


def scene(kind: str, shift: int, size: int = 64) -> np.ndarray:
    """A smooth frame of one of two unrelated shots; ``shift`` moves it by pixels (motion)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    if kind == "a":
        r, g, b = (x + shift) / size, y / size, 0.5 + 0.4 * np.sin((x + shift) / 9)
    else:
        r, g, b = 1 - y / size, 0.5 + 0.4 * np.cos((y + shift) / 5), (x / size) ** 2
    return (np.clip(np.stack([r, g, b], -1), 0, 1) * 255).round().astype(np.uint8)


def write_scene_clip(path: Path, frames: int = 3, step: int = 2) -> Path:
    """Shot A moving by ``step`` pixels a frame (``scene("a", step * i)``), written with ``VideoWriter``."""
    with VideoWriter(path) as writer:
        for i in range(frames):
            writer.write(scene("a", step * i))
    return path


def carphone_frames(count: int) -> torch.Tensor:
    """The first ``count`` carphone frames, ``(count, 3, 144, 176)`` float in [0, 1]."""
    return torch.from_numpy(read_video(asset_path("carphone"), count=count)).permute(0, 3, 1, 2).float() / 255


def shifted_pair(h: int, w: int, seed: int = 0, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A random frame and the same frame rolled by (2, 3) pixels, dimmed: a VFI input pair."""
    g = torch.Generator().manual_seed(seed)
    img0 = torch.rand(batch, 3, h, w, generator=g)
    img1 = torch.roll(img0, shifts=(2, 3), dims=(2, 3)) * 0.9 + 0.05
    return img0, img1
