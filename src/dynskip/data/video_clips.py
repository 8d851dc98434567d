"""Any video file or frame folder as VSR clips or VFI triplets (e.g. the bundled carphone footage)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from dynskip.data.augment import Augment
from dynskip.data.base import RestorationDataset, clip_windows
from dynskip.data.degrade import DEGRADATIONS, degrade
from dynskip.data.io import list_frames, read_images, uint8_to_tensor
from dynskip.data.layout import require_choice
from dynskip.data.samples import vfi_sample, vsr_sample
from dynskip.data.video import read_video


class VideoClips(RestorationDataset):
    """Frames ``start .. start+count-1`` of a video as training / evaluation samples.

    VSR: windows of ``num_frames`` GT frames (cropped at the bottom / right to a multiple of ``scale``)
    with LQ made by the ``degradation``; ``num_frames=None`` gives the whole range as one clip.
    VFI: triplets (frames s, s+1, s+2), the middle one the target, timestep 0.5.

    A video file's range is decoded once, when the dataset is built (errors surface then; memory is
    ``count x H x W x 3`` bytes, so bound long videos with ``count``); frame folders are read per sample.

    Args:
        path: video file or frame folder.
        task: ``vsr`` or ``vfi``.
        num_frames: VSR frames per sample (None: all); VFI: None or 3.
        degradation: ``bi`` or ``bd`` (VSR).
        start, count: frame range used (``count=None``: to the end).
        stride: distance between sample starts; default non-overlapping (VSR) or 1 (VFI).
        scale: VSR factor.
        augment: training augmentation.
    """

    def __init__(
        self,
        path: str | Path,
        task: str = "vsr",
        num_frames: int | None = None,
        degradation: str = "bi",
        start: int = 0,
        count: int | None = None,
        stride: int | None = None,
        scale: int = 4,
        augment: Augment | None = None,
    ) -> None:
        self.path = Path(path)
        self.task = require_choice("task", task, ("vsr", "vfi"))
        self.degradation = require_choice("degradation", degradation, DEGRADATIONS)
        self.scale, self.augment = scale, augment
        if task == "vfi":
            if num_frames not in (None, 3):
                raise ValueError(
                    f"VFI samples are frame triplets: num_frames must be None or 3, got {num_frames}"
                )
            num_frames, stride = 3, stride or 1
        self.num_frames = num_frames
        self.name = self.path.stem if self.path.is_file() else self.path.name
        self._frames: Tensor | None = None
        self._frame_paths: list[Path] | None = None
        if self.path.is_dir():
            paths = list_frames(self.path)
            stop = len(paths) if count is None else start + count
            if start < 0 or stop > len(paths) or stop <= start:
                raise ValueError(
                    f"frames [{start}, {stop}) requested but frame folder {self.path} has {len(paths)} frames"
                )
            self._frame_paths = paths[start:stop]
            length = len(self._frame_paths)
        else:
            self._frames = torch.from_numpy(read_video(self.path, start, count))  # uint8 (N, H, W, 3)
            length = self._frames.shape[0]
        self.start = start
        self.starts = clip_windows(length, num_frames, stride, str(self.path))
        self.length = length

    def __len__(self) -> int:
        return len(self.starts)

    def _read(self, first: int, stop: int) -> Tensor:
        """Frames ``first .. stop-1`` of the range as ``(T, 3, H, W)`` float in [0, 1]."""
        if self._frames is not None:
            return uint8_to_tensor(self._frames[first:stop])
        return read_images(self._frame_paths[first:stop])

    def __getitem__(self, index: int) -> dict:
        first = self.starts[index]
        stop = self.length if self.num_frames is None else first + self.num_frames
        frames = self._read(first, stop)
        key = f"{self.name}/{self.start + first:06d}"
        if self.task == "vfi":
            return vfi_sample(frames[0], frames[2], frames[1], key, 0.5, self.augment, index)
        h, w = frames.shape[-2:]
        gt = frames[..., : h - h % self.scale, : w - w % self.scale]
        lq = degrade(gt, self.degradation, self.scale)
        return vsr_sample(lq, gt, key, self.scale, self.augment, index, clip=self.name)
