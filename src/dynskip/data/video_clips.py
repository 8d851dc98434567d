"""Any video file or frame folder as VSR clips or VFI triplets (e.g. the bundled carphone footage)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
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

# LQ pixels degraded around a training crop: more than the BI (2 px at x4) and BD (13-tap Gaussian,
# 6 HR px) kernels reach.
DEGRADE_MARGIN = 4


class VideoClips(RestorationDataset):
    """Frames ``start .. start+count-1`` of a video as training / evaluation samples.

    VSR: windows of ``num_frames`` GT frames (cropped at the bottom / right to a multiple of ``scale``)
    with LQ made by the ``degradation``; ``num_frames=None`` gives the whole range as one clip.
    VFI: triplets (frames s, s+g, s+2g) for each frame gap g in ``gaps``, the middle one the target,
    timestep 0.5; larger gaps give larger motion.

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
        gaps: VFI frame gaps (default ``(1,)``: consecutive frames).
        name: the clip's name in sample keys and per-clip metrics (default: the file or folder name).
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
        gaps: Sequence[int] = (1,),
        name: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.task = require_choice("task", task, ("vsr", "vfi"))
        self.degradation = require_choice("degradation", degradation, DEGRADATIONS)
        self.scale, self.augment = scale, augment
        self.gaps = (1,)
        if task == "vfi":
            if num_frames not in (None, 3):
                raise ValueError(
                    f"VFI samples are frame triplets: num_frames must be None or 3, got {num_frames}"
                )
            num_frames, stride = 3, stride or 1
            self.gaps = _check_gaps(gaps, self.path)
        self.num_frames = num_frames
        self.name = name or (self.path.stem if self.path.is_file() else self.path.name)
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
            self._frames = self._decode(start, count)
            length = self._frames.shape[0]
        self.start = start
        self.length = length
        # (gap, first frame) per item; VSR and gap-1 VFI keep plain window starts.
        if num_frames is not None and self.task == "vfi" and length < _span(3, max(self.gaps)):
            raise ValueError(
                f"{self.path}: {length} frames in range, too few for VFI frame gap {max(self.gaps)} "
                f"(a triplet at gap g spans 2g + 1 frames); use smaller gaps or a longer range"
            )
        self.items = [
            (gap, first)
            for gap in self.gaps
            for first in clip_windows(length, _span(num_frames, gap), stride, str(self.path))
        ]

    def _decode(self, start: int, count: int | None) -> Tensor:
        """Frames ``start .. start+count-1`` of the video file, uint8 ``(N, H, W, 3)``."""
        return torch.from_numpy(read_video(self.path, start, count))

    @property
    def frames(self) -> int:
        """Frames in the range (a mixture's default weight is its square root)."""
        return self.length

    @property
    def starts(self) -> list[int]:
        """First frame (within the range) of each item."""
        return [first for _, first in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def _read(self, first: int, stop: int) -> Tensor:
        """Frames ``first .. stop-1`` of the range as ``(T, 3, H, W)`` float in [0, 1]."""
        if self._frames is not None:
            return uint8_to_tensor(self._frames[first:stop])
        return read_images(self._frame_paths[first:stop])

    # An index past the end names window ``index % len`` with its own augmentation draw: a mixture that
    # draws one window twice in an epoch (FootageMix) then gets two different crops, not a duplicate.
    wraps_indices = True

    def __getitem__(self, index: int) -> dict:
        if index < 0:
            raise IndexError(f"{self.name}: negative index {index}")
        gap, first = self.items[index % len(self.items)]
        key = f"{self.name}/{self.start + first:06d}"
        if self.task == "vfi":
            img0, gt, img1 = (self._read(i, i + 1)[0] for i in (first, first + gap, first + 2 * gap))
            key = key if gap == 1 else f"{key}+{gap}"
            return vfi_sample(img0, img1, gt, key, 0.5, self.augment, index, clip=self.name)
        stop = self.length if self.num_frames is None else first + self.num_frames
        frames = self._read(first, stop)
        h, w = frames.shape[-2:]
        gt = frames[..., : h - h % self.scale, : w - w % self.scale]
        if self.augment is not None and self.augment.crop_size is not None:
            return self._cropped_vsr_sample(gt, key, index)
        lq = degrade(gt, self.degradation, self.scale)
        return vsr_sample(lq, gt, key, self.scale, self.augment, index, clip=self.name)

    def _cropped_vsr_sample(self, gt: Tensor, key: str, index: int) -> dict:
        """The sample :func:`vsr_sample` would augment, degrading only the crop and a margin around it.

        The margin (``DEGRADE_MARGIN`` LQ pixels) exceeds the reach of the BI and BD kernels, and where it
        is clipped by the frame edge the edge is the frame's own, so the LQ crop equals the crop of the
        whole degraded frame (tested); a 768x576 frame then costs its 128x128 crop, not the whole frame.
        """
        s, m = self.scale, DEGRADE_MARGIN
        lq_h, lq_w = gt.shape[-2] // s, gt.shape[-1] // s
        draw = self.augment.vsr_draw(index, lq_h, lq_w, s, key)
        crop_h, crop_w = self.augment.lq_crop(s)
        top, left = max(draw.top - m, 0), max(draw.left - m, 0)
        bottom, right = min(draw.top + crop_h + m, lq_h), min(draw.left + crop_w + m, lq_w)
        lq = degrade(gt[..., top * s : bottom * s, left * s : right * s], self.degradation, s)
        shifted = dataclasses.replace(draw, top=draw.top - top, left=draw.left - left)
        gt_window = gt[..., top * s : bottom * s, left * s : right * s]
        lq, gt = self.augment.apply_vsr(lq, gt_window, shifted, s)
        return vsr_sample(lq, gt, key, s, None, index, clip=self.name)


def _span(num_frames: int | None, gap: int) -> int | None:
    """Frames a window covers: VFI triplets at gap ``g`` span ``2g + 1``."""
    return None if num_frames is None else (num_frames - 1) * gap + 1


def _check_gaps(gaps: Sequence[int], path: Path) -> tuple[int, ...]:
    gaps = tuple(gaps)
    if not gaps or any(not isinstance(g, int) or isinstance(g, bool) or g < 1 for g in gaps):
        raise ValueError(f"{path}: VFI frame gaps must be integers >= 1, got {list(gaps)}")
    return gaps
