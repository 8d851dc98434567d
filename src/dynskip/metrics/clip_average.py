"""Base metric for the video protocol: a score per frame, mean over the frames of a clip, mean over clips."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from dynskip.utils.checks import check_metric_batch, check_scoring_options


def clip_key(clip_id: str) -> int:
    """A stable signed 64-bit key for a clip name.

    DDP syncs tensors only, so names travel as integers; ``hash()`` is salted per process, a digest is not.
    """
    digest = hashlib.blake2b(clip_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


class ClipAveragedMetric(Metric):
    """Scores frames with :meth:`score_frames`; ``compute`` = mean over clips of the per-clip frame means.

    ``update(preds, target, clip_ids=None)``:

    * ``(B, T, 3, H, W)``: item ``b`` holds ``T`` frames of one clip.
    * ``(B, 3, H, W)``: item ``b`` is one frame.
    * ``clip_ids=None``: every item is a complete clip of its own (a one-frame clip for 4-D input).
    * ``clip_ids`` (one ``str`` per item): frames are pooled by name across updates and across DDP ranks,
      so a long clip evaluated in chunks still counts once. Chunks must not overlap: a frame passed twice
      counts twice.

    Unnamed clips are reduced to a (sum, count) at once; named ones keep one float per frame until
    ``compute``. An ``inf`` frame score (PSNR of an exact match) makes the result ``inf``.
    With no update, ``compute`` returns ``nan``.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(
        self, channel: str = "rgb", crop_border: int = 0, round_uint8: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        check_scoring_options(channel, crop_border, type(self).__name__)
        self.channel = channel
        self.crop_border = crop_border
        self.round_uint8 = round_uint8
        zero_sum, zero_count = torch.tensor(0.0, dtype=torch.float64), torch.tensor(0, dtype=torch.long)
        self.add_state("unnamed_clip_sum", default=zero_sum, dist_reduce_fx="sum")
        self.add_state("unnamed_clip_count", default=zero_count, dist_reduce_fx="sum")
        self.add_state("named_frame_scores", default=[], dist_reduce_fx="cat")
        self.add_state("named_frame_keys", default=[], dist_reduce_fx="cat")

    def score_frames(self, preds: Tensor, target: Tensor) -> Tensor:
        """One float64 score per frame, shape ``preds.shape[:-3]``."""
        raise NotImplementedError

    def update(self, preds: Tensor, target: Tensor, clip_ids: Sequence[str] | None = None) -> None:
        caller = f"{type(self).__name__}.update"
        check_metric_batch(preds, target, caller)
        scores = self.score_frames(preds, target)
        if scores.dim() == 1:
            scores = scores.unsqueeze(1)  # (B,) one-frame items -> (B, 1)
        batch, frames = scores.shape
        if clip_ids is None:
            self.unnamed_clip_sum += scores.mean(dim=1).sum()
            self.unnamed_clip_count += batch
            return
        if isinstance(clip_ids, str) or not all(isinstance(c, str) for c in clip_ids):
            raise TypeError(f"{caller}: clip_ids must be a list of str, one per batch item, got {clip_ids!r}")
        if len(clip_ids) != batch:
            raise ValueError(
                f"{caller}: clip_ids has {len(clip_ids)} names, preds {tuple(preds.shape)} has {batch} items"
            )
        keys = torch.tensor([clip_key(c) for c in clip_ids], dtype=torch.long, device=scores.device)
        self.named_frame_scores.append(scores.reshape(-1))
        self.named_frame_keys.append(keys.repeat_interleave(frames))

    def _named_clip_means(self) -> tuple[Tensor, Tensor]:
        """``(keys, means)``: each named clip's key (:func:`clip_key`) and mean frame score."""
        scores = dim_zero_cat(self.named_frame_scores)
        keys = dim_zero_cat(self.named_frame_keys)
        unique, clip_index = torch.unique(keys, return_inverse=True)
        frame_sums = torch.zeros(len(unique), dtype=scores.dtype, device=scores.device)
        frame_sums.index_add_(0, clip_index, scores)
        frame_counts = torch.bincount(clip_index, minlength=len(unique))
        return unique, frame_sums / frame_counts

    def compute(self) -> Tensor:
        total = self.unnamed_clip_sum.clone()
        count = self.unnamed_clip_count.clone()
        if _has_values(self.named_frame_scores):
            _, means = self._named_clip_means()
            total += means.sum()
            count += len(means)
        return total / count

    def compute_per_clip(self) -> dict[int, Tensor]:
        """``{clip_key(name): mean frame score}`` of the named clips, synced over DDP ranks like
        ``compute``; unnamed clips are not included."""
        with self.sync_context(should_sync=self._to_sync, should_unsync=self._should_unsync):
            if not _has_values(self.named_frame_scores):
                return {}
            keys, means = self._named_clip_means()
        return {int(k): v for k, v in zip(keys.tolist(), means)}


def _has_values(state: list[Tensor] | Tensor) -> bool:
    # A list state before DDP sync, a concatenated tensor after it.
    if isinstance(state, Tensor):
        return state.numel() > 0
    return any(t.numel() > 0 for t in state)
