"""The real footage pool: catalogue clips by name, each split into a train range and a held-out range,
and a weighted mixture of clips for training.

A train-role clip keeps its last 15% of frames (rounded up) as the held-out range for validation,
threshold tuning and checkpoint selection; the rest trains. Unseen clips are only measured, whole, and
never trained on: :class:`FootageClips` refuses a train or held-out range of them, and refuses
augmentation (which only training uses) on any clip that is not train-role.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import ConcatDataset, Dataset

from dynskip.assets import ASSETS, asset_path, footage_names
from dynskip.data.augment import Augment
from dynskip.data.layout import require_choice
from dynskip.data.video import read_video
from dynskip.data.video_clips import VideoClips

HOLDOUT_FRACTION = 0.15
SPLITS = ("train", "heldout", "all")


def split_range(frames: int, split: str, holdout: float = HOLDOUT_FRACTION) -> tuple[int, int]:
    """``(start, count)`` of a clip's ``split``: ``heldout`` is the last ``ceil(holdout * frames)``
    frames, ``train`` the frames before them, ``all`` the whole clip."""
    require_choice("split", split, SPLITS)
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must lie in (0, 1), got {holdout}")
    held = math.ceil(round(holdout * frames, 9))  # 0.07 * 100 is 7.000000000000001 in floats
    if split == "all":
        return 0, frames
    if frames - held < 1:
        raise ValueError(f"a clip of {frames} frames is too short to hold out {holdout:.0%} and train")
    return (0, frames - held) if split == "train" else (frames - held, held)


@functools.lru_cache(maxsize=8)
def _decoded(path: Path, size: int, mtime_ns: int) -> Tensor:
    # Train and held-out ranges of one clip share one decode; size and mtime key a changed file anew.
    return torch.from_numpy(read_video(path))


def decoded_clip(path: Path) -> Tensor:
    """Every decodable frame of ``path``, uint8 ``(N, H, W, 3)``, decoded once per process."""
    stat = path.stat()
    return _decoded(path, stat.st_size, stat.st_mtime_ns)


def _check_role(clip: str, split: str, augment: Augment | None) -> None:
    if clip not in ASSETS or ASSETS[clip].role is None:
        raise KeyError(f"unknown footage clip {clip!r}; known: {footage_names()}")
    role = ASSETS[clip].role
    if role != "train" and (split != "all" or augment is not None):
        raise ValueError(
            f"footage clip {clip!r} has role '{role}': only train-role clips {footage_names('train')} "
            f"may be trained on or split (asked for split={split!r}"
            f"{', with augmentation' if augment is not None else ''}); measure it whole with split='all'"
        )


class FootageClips(VideoClips):
    """One catalogue clip's train range, held-out range or whole length, as :class:`VideoClips` samples.

    Args:
        clip: a footage name of ``dynskip.assets.ASSETS`` (e.g. ``vtest``).
        split: ``train``, ``heldout`` (the last ``holdout`` fraction) or ``all``.
        holdout: the held-out fraction of a train-role clip.
        **kwargs: :class:`VideoClips` arguments (``task``, ``num_frames``, ``gaps``, ``augment`` ...).

    The clip is decoded whole once per process (its frame count decides the split); memory is
    ``frames x H x W x 3`` bytes (vtest: about 1 GB).
    """

    def __init__(
        self, clip: str, split: str = "train", holdout: float = HOLDOUT_FRACTION, **kwargs: object
    ) -> None:
        _check_role(clip, split, kwargs.get("augment"))  # type: ignore[arg-type]
        path = asset_path(clip)
        self._whole = decoded_clip(path)
        self.clip, self.split = clip, split
        start, count = split_range(self._whole.shape[0], split, holdout)
        super().__init__(path, start=start, count=count, name=clip, **kwargs)  # type: ignore[arg-type]

    def _decode(self, start: int, count: int | None) -> Tensor:
        stop = self._whole.shape[0] if count is None else start + count
        return self._whole[start:stop]


class FootageMix(Dataset):
    """Training items drawn from several datasets with per-dataset weights, redrawn every epoch.

    Item ``i`` of epoch ``e`` is a dataset chosen with probability proportional to its weight and an
    item of it chosen uniformly, both from a generator seeded by ``(seed, e)``: so an epoch's samples
    do not depend on loader workers or order, and a resumed run sees the same ones.

    Args:
        datasets: ``{name: dataset}``.
        weights: ``{name: weight}`` for some or all names; a missing name (or ``None``) weighs the
            square root of its frame count (``frames`` attribute, else its length), so a long clip
            such as vtest does not dominate.
        length: items per epoch (default: the datasets' total length).
        seed: base seed of the draws.
    """

    def __init__(
        self,
        datasets: Mapping[str, Dataset],
        weights: Mapping[str, float | None] | None = None,
        length: int | None = None,
        seed: int = 0,
    ) -> None:
        if not datasets:
            raise ValueError("FootageMix needs at least one dataset")
        self.names = list(datasets)
        self.datasets = [datasets[n] for n in self.names]
        for name, dataset in zip(self.names, self.datasets):
            if len(dataset) == 0:
                raise ValueError(f"FootageMix: dataset {name!r} is empty")
        self.weights = self._weights(dict(weights or {}))
        total = sum(len(d) for d in self.datasets)
        self.length = total if length is None else int(length)
        if self.length < 1:
            raise ValueError(f"FootageMix: length must be >= 1, got {length}")
        self.seed = int(seed)
        self.set_epoch(0)

    def _weights(self, given: dict[str, float | None]) -> np.ndarray:
        unknown = sorted(set(given) - set(self.names))
        if unknown:
            raise KeyError(f"FootageMix weights name unknown datasets {unknown}; datasets: {self.names}")
        weights = []
        for name, dataset in zip(self.names, self.datasets):
            value = given.get(name)
            if value is None:
                value = math.sqrt(getattr(dataset, "frames", len(dataset)))
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"FootageMix weight of {name!r} must be a finite number >= 0, got {value!r}")
            weights.append(float(value))
        array = np.asarray(weights)
        if array.sum() <= 0:
            raise ValueError(f"FootageMix weights {dict(zip(self.names, weights))} sum to zero")
        return array / array.sum()

    def set_epoch(self, epoch: int) -> None:
        """Draw epoch ``epoch``'s items and pass the epoch on to every dataset's augmentation."""
        rng = np.random.default_rng([self.seed, int(epoch)])
        self._which = rng.choice(len(self.datasets), size=self.length, p=self.weights)
        sizes = np.array([len(d) for d in self.datasets])
        self._index = (rng.random(self.length) * sizes[self._which]).astype(np.int64)
        for dataset in self.datasets:
            set_epoch = getattr(dataset, "set_epoch", None)
            if callable(set_epoch):
                set_epoch(epoch)

    def shares(self) -> dict[str, float]:
        """Each dataset's share of the items."""
        return {n: float(w) for n, w in zip(self.names, self.weights)}

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        dataset = self.datasets[int(self._which[index])]
        item = int(self._index[index])
        if getattr(dataset, "wraps_indices", False):  # a distinct augmentation draw per mixture item
            item += len(dataset) * index
        return dataset[item]


def footage_mix(
    clips: Sequence[str],
    weights: Mapping[str, float | None] | None = None,
    length: int | None = None,
    seed: int = 0,
    holdout: float = HOLDOUT_FRACTION,
    extra: Mapping[str, Dataset] | None = None,
    **clip_kwargs: object,
) -> FootageMix:
    """Training mixture of the train ranges of ``clips`` (``FootageClips(clip, "train", **clip_kwargs)``
    each) and of the ``extra`` datasets (e.g. ``{"synthetic": SyntheticClips(...)}``: allowed training
    data that is not footage), weighted as :class:`FootageMix` says; ``weights`` names either kind."""
    datasets: dict[str, Dataset] = {
        clip: FootageClips(clip, "train", holdout, **clip_kwargs) for clip in _unique(clips)
    }
    for name, dataset in (extra or {}).items():
        if name in datasets:
            raise ValueError(
                f"footage_mix: extra dataset {name!r} has the name of a clip; clips: {list(datasets)}"
            )
        datasets[name] = dataset
    return FootageMix(datasets, weights, length, seed)


def footage_split(
    clips: Sequence[str], split: str = "heldout", holdout: float = HOLDOUT_FRACTION, **clip_kwargs: object
) -> ConcatDataset:
    """The ``split`` ranges of ``clips`` as one evaluation set; samples carry their clip's name, so
    metrics average per clip, then over clips, and the task logs each clip's score."""
    return ConcatDataset([FootageClips(clip, split, holdout, **clip_kwargs) for clip in _unique(clips)])


def _unique(clips: Sequence[str]) -> list[str]:
    if isinstance(clips, str) or not clips:
        raise ValueError(f"clips must be a non-empty list of footage names, got {clips!r}")
    repeated = sorted({c for c in clips if list(clips).count(c) > 1})
    if repeated:
        raise ValueError(f"footage clips listed more than once: {repeated}")
    return list(clips)
