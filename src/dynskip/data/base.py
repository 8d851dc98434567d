"""Dataset bases: frame triplets (VFI) and frame clips (VSR) read from image files.

Subclasses only translate a benchmark's layout into entries (validated up front); reading, degrading,
shape checks and augmentation live here, once.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import Dataset

from dynskip.data.augment import Augment
from dynskip.data.degrade import DEGRADATIONS, degrade
from dynskip.data.io import read_image, read_images
from dynskip.data.layout import require_choice
from dynskip.data.samples import vfi_sample, vsr_sample


class RestorationDataset(Dataset):
    """A dataset with optional training augmentation that follows the epoch (see ``Augment``)."""

    augment: Augment | None = None

    def set_epoch(self, epoch: int) -> None:
        if self.augment is not None:
            self.augment.set_epoch(epoch)


def check_train_only(augment: Augment | None, split: str, dataset: str) -> None:
    if augment is not None and split != "train":
        raise ValueError(f"{dataset}: augmentation is for the train split only, got split={split!r}")


def clip_windows(length: int, num_frames: int | None, stride: int | None, key: str) -> list[int]:
    """Start frames of the ``num_frames`` windows of a clip (``num_frames=None``: the whole clip).

    ``stride=None`` tiles without overlap; frames after the last full window are not covered.
    """
    if num_frames is None:
        return [0]
    if num_frames < 1 or (stride is not None and stride < 1):
        raise ValueError(f"num_frames and stride must be >= 1, got {num_frames} and {stride}")
    if num_frames > length:
        raise ValueError(f"clip {key} has {length} frames, fewer than num_frames={num_frames}")
    return list(range(0, length - num_frames + 1, stride or num_frames))


@dataclass(frozen=True)
class TripletEntry:
    key: str
    img0: Path
    gt: Path
    img1: Path
    timestep: float = 0.5


class TripletDataset(RestorationDataset):
    """VFI samples from ``(img0, gt, img1)`` image files."""

    def __init__(self, entries: Sequence[TripletEntry], augment: Augment | None = None) -> None:
        self.entries = list(entries)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> dict:
        entry = self.entries[index]
        img0, gt, img1 = (read_image(p) for p in (entry.img0, entry.gt, entry.img1))
        return vfi_sample(img0, img1, gt, entry.key, entry.timestep, self.augment, index)


@dataclass(frozen=True)
class ClipEntry:
    """One clip: GT frame paths and, when the LQ frames ship with the dataset, their paths."""

    key: str
    gt: tuple[Path, ...]
    lq: tuple[Path, ...] | None = None


class ClipDataset(RestorationDataset):
    """VSR samples: windows of ``num_frames`` GT frames, with stored LQ frames or LQ degraded on the fly.

    Args:
        clips: the clips (validated by the subclass).
        num_frames: frames per sample; None returns whole clips.
        stride: distance between window starts; None tiles without overlap.
        scale: upscaling factor (GT size / LQ size).
        degradation: ``"bi"`` or ``"bd"``, used for clips without stored LQ frames.
        augment: training augmentation.
    """

    def __init__(
        self,
        clips: Sequence[ClipEntry],
        num_frames: int | None = None,
        stride: int | None = None,
        scale: int = 4,
        degradation: str = "bi",
        augment: Augment | None = None,
    ) -> None:
        self.clips = list(clips)
        self.num_frames, self.scale, self.augment = num_frames, scale, augment
        self.degradation = require_choice("degradation", degradation, DEGRADATIONS)
        self.windows = [
            (clip_index, start)
            for clip_index, clip in enumerate(self.clips)
            for start in clip_windows(len(clip.gt), num_frames, stride, clip.key)
        ]
        if augment is None and num_frames is not None:  # evaluation: say which frames no window scores
            self._warn_uncovered_frames()

    def _warn_uncovered_frames(self) -> None:
        covered: dict[int, set[int]] = {}
        for clip_index, start in self.windows:
            covered.setdefault(clip_index, set()).update(range(start, start + self.num_frames))
        left = {}
        for clip_index, frames in covered.items():
            missed = sorted(set(range(len(self.clips[clip_index].gt))) - frames)
            if missed:  # a stride longer than the window skips frames between windows too
                shown = ", ".join(map(str, missed[:6])) + (", ..." if len(missed) > 6 else "")
                left[self.clips[clip_index].key] = f"{len(missed)} frames ({shown})"
        if left:
            some = ", ".join(f"{key}: {what}" for key, what in list(left.items())[:5])
            warnings.warn(
                f"{type(self).__name__}: windows of num_frames={self.num_frames} leave frames of {len(left)} "
                f"clip(s) unscored ({some}{', ...' if len(left) > 5 else ''}); num_frames=None scores "
                "whole clips",
                stacklevel=3,
            )

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict:
        clip_index, start = self.windows[index]
        clip = self.clips[clip_index]
        stop = len(clip.gt) if self.num_frames is None else start + self.num_frames
        gt = read_images(clip.gt[start:stop])
        if clip.lq is not None:
            lq = read_images(clip.lq[start:stop])
        else:
            if gt.shape[-2] % self.scale or gt.shape[-1] % self.scale:
                raise ValueError(
                    f"clip {clip.key}: frames {tuple(gt.shape[-2:])} are not a multiple of scale {self.scale}"
                )
            lq = degrade(gt, self.degradation, self.scale)
        key = clip.key if stop - start == len(clip.gt) else f"{clip.key}/{clip.gt[start].stem}"
        return vsr_sample(lq, gt, key, self.scale, self.augment, index, clip=clip.key)
