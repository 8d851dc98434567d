"""UGSP mask labels: per-level keep labels from the phase-1 uncertainty, and their on-disk cache.

Low uncertainty = easy = prunable. Per level, ``U`` is pooled over cells of ``cell_px`` image pixels
(``max``: a cell is hard if any pixel is) and a cell is labelled 1 (keep) when its pooled ``U`` is
among the top ``keep`` fraction of the sample (``rule="quantile"``) or above ``keep`` (``"threshold"``,
``keep`` then a log-scale). Labels are hierarchical: a finer level keeps only where the coarser kept.

The cache lives in ``root/<dataset_id>/``: one ``.pt`` per sample key plus ``manifest.json`` holding the
settings and the fingerprints of the data source and of the uncertainty model; any change in them marks
the cache stale, and :meth:`LabelCache.open` clears it.

The command that fills a cache is ``python -m dynskip.cli.ugsp_labels`` (:mod:`dynskip.cli.ugsp_labels`).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynskip.data.augment import AugmentDraw, apply_geometric
from dynskip.utils.checks import check_choice

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class LabelSettings:
    """How uncertainty becomes labels.

    Attributes:
        levels: level names, coarse to fine (the pruned units, e.g. ``("block2", "block3")``).
        keep: per level, the kept fraction (``quantile``) or the log-scale threshold (``threshold``).
        rule: ``"quantile"`` or ``"threshold"``.
        cell_px: label cell in image pixels (the finest tile; labels are pooled further by the loss).
        pool: ``"max"`` or ``"mean"`` pooling of ``U`` over a cell.
    """

    levels: tuple[str, ...] = ("block2", "block3")
    keep: tuple[float, ...] = (0.6, 0.4)
    rule: str = "quantile"
    cell_px: int = 32
    pool: str = "max"

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        object.__setattr__(self, "keep", tuple(float(k) for k in self.keep))
        if len(self.levels) != len(self.keep) or not self.levels:
            raise ValueError(f"one keep value per level needed, got levels {self.levels}, keep {self.keep}")
        check_choice(self.rule, "rule", ("quantile", "threshold"))
        if self.rule == "quantile" and not all(0.0 <= k <= 1.0 for k in self.keep):
            raise ValueError(f"quantile keep fractions must lie in [0, 1], got {self.keep}")
        if self.pool not in ("max", "mean") or self.cell_px < 1:
            raise ValueError(f"pool must be 'max' or 'mean', cell_px >= 1; got {self.pool!r}, {self.cell_px}")


def _pool_cells(x: Tensor, settings: LabelSettings) -> Tensor:
    """``(B, 1, H, W)`` per pixel -> ``(B, 1, ceil(H/cell), ceil(W/cell))`` per ``cell_px`` cell."""
    cell = settings.cell_px
    if settings.pool == "max":
        return F.max_pool2d(x, cell, cell, ceil_mode=True)
    # mean over the pixels a border cell really has
    return F.avg_pool2d(x, cell, cell, ceil_mode=True, count_include_pad=False)


def uncertainty_to_labels(u: Tensor, settings: LabelSettings) -> dict[str, Tensor]:
    """``u`` ``(B, 1, H, W)`` log-scale -> ``{level: (B, 1, ceil(H/cell), ceil(W/cell))}`` 0/1 labels."""
    if u.dim() != 4 or u.shape[1] != 1:
        raise ValueError(f"uncertainty must be (B, 1, H, W), got {tuple(u.shape)}")
    pooled = _pool_cells(u.detach().float(), settings)
    flat = pooled.flatten(1)
    labels: dict[str, Tensor] = {}
    parent: Tensor | None = None
    for level, keep in zip(settings.levels, settings.keep):
        if settings.rule == "quantile":
            if keep <= 0.0:
                label = torch.zeros_like(pooled)
            else:
                # The k-th largest cell: exactly round(keep * n) cells kept (ties aside).
                k = max(1, round(keep * flat.shape[1]))
                cut = flat.topk(k, dim=1).values[:, -1].view(-1, 1, 1, 1)
                label = (pooled >= cut).float()
        else:
            label = (pooled >= keep).float()
        if parent is not None:
            label = label * parent
        labels[level] = label
        parent = label
    return labels


def align_cached_labels(
    labels: dict[str, Tensor],
    frame_hw: tuple[int, int],
    settings: LabelSettings,
    records: Tensor | None = None,
    keys: Sequence[str] = (),
) -> dict[str, Tensor]:
    """Cached labels (computed on whole frames) -> labels of the batch's frames.

    Args:
        labels: ``{level: (B, 1, gh, gw)}`` cached labels, ``gh = ceil(H / cell_px)`` of the whole frame.
        frame_hw: ``(h, w)`` of the batch's frames.
        records: ``(B, 6)`` augmentation records (``AugmentDraw.as_tensor``) of the batch, or None when
            it was not augmented.
        keys: the samples' keys, for error messages.

    With records, each label is expanded to pixels, cut and flipped / transposed exactly as the frames
    were, and pooled back to ``cell_px`` cells (``max``: a cell keeps if any of its pixels did; ``mean``
    otherwise). Without records the frames must be the whole frames the labels were computed on.
    """
    cell, (h, w) = settings.cell_px, frame_hw
    if records is None:
        grid = (-(-h // cell), -(-w // cell))
        for level, label in labels.items():
            if tuple(label.shape[-2:]) != grid:
                raise ValueError(
                    f"cached {level} labels of sample {keys[0] if keys else '?'} are a "
                    f"{label.shape[-2]}x{label.shape[-1]} grid of {cell}-px cells, but the batch frames are "
                    f"{h}x{w} (grid {grid[0]}x{grid[1]}) with no augmentation record: labels are cached per "
                    "whole frame, so crops need the dataset's Augment to record them"
                )
        return dict(labels)
    draws = [AugmentDraw.from_tensor(record) for record in records.cpu()]
    aligned: dict[str, Tensor] = {}
    for level, label in labels.items():
        if len(draws) != label.shape[0]:
            raise ValueError(f"{len(draws)} augmentation records do not match {label.shape[0]} cached labels")
        full = label.repeat_interleave(cell, -2).repeat_interleave(cell, -1)
        pieces = []
        for item, draw in enumerate(draws):
            ch, cw = (w, h) if draw.transpose else (h, w)  # the crop is cut before the transpose
            if draw.top + ch > full.shape[-2] or draw.left + cw > full.shape[-1]:
                key = keys[item] if item < len(keys) else item
                raise ValueError(
                    f"sample {key}: its {ch}x{cw} crop at ({draw.top}, {draw.left}) lies outside the "
                    f"{full.shape[-2]}x{full.shape[-1]} frame its cached labels cover (stale cache?)"
                )
            piece = full[item, :, draw.top : draw.top + ch, draw.left : draw.left + cw]
            pieces.append(apply_geometric(piece, draw))
        aligned[level] = _pool_cells(torch.stack(pieces), settings)
    return aligned


def fingerprint_path(path: str | Path) -> str:
    """Identity of a data source file or folder: resolved path, sizes and modification times."""
    path = Path(path).resolve()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256(str(path).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(path.parent)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def fingerprint_module(module: nn.Module) -> str:
    """Hash of a module's state (the uncertainty model): new weights invalidate labels."""
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "__", key)


@dataclass
class LabelCache:
    """Per-sample label files of one dataset under ``root/dataset_id``; see the module doc."""

    root: Path
    dataset_id: str
    settings: LabelSettings
    source: str  # fingerprint of the data source
    model: str = ""  # fingerprint of the uncertainty model
    rebuilt: bool = field(default=False, init=False)

    @property
    def folder(self) -> Path:
        return Path(self.root) / _safe(self.dataset_id)

    def manifest(self) -> dict:
        settings = asdict(self.settings)
        return {"dataset": self.dataset_id, "source": self.source, "model": self.model, "settings": settings}

    def is_stale(self) -> bool:
        path = self.folder / MANIFEST
        if not path.is_file():
            return True
        stored = json.loads(path.read_text())
        stored["settings"] = asdict(LabelSettings(**stored.get("settings", {})))
        return stored != self.manifest()

    def open(self) -> LabelCache:
        """Clear a stale cache (changed source, model or settings) and write the current manifest."""
        if self.is_stale():
            if self.folder.exists():
                shutil.rmtree(self.folder)
            self.folder.mkdir(parents=True)
            (self.folder / MANIFEST).write_text(json.dumps(self.manifest(), indent=1))
            self.rebuilt = True
        return self

    def path(self, key: str) -> Path:
        return self.folder / f"{_safe(key)}.pt"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def save(self, key: str, labels: dict[str, Tensor]) -> None:
        """``labels``: ``{level: (1, h, w)}`` for one sample, stored as uint8."""
        torch.save({level: t.to(torch.uint8).clone() for level, t in labels.items()}, self.path(key))

    def load(self, key: str) -> dict[str, Tensor]:
        """``{level: (1, h, w)}`` float labels of sample ``key``; KeyError when absent."""
        path = self.path(key)
        if not path.is_file():
            raise KeyError(f"no cached labels for '{key}' in {self.folder}; run dynskip.cli.ugsp_labels")
        return {k: v.float() for k, v in torch.load(path, map_location="cpu", weights_only=True).items()}

    def load_batch(self, keys: Sequence[str]) -> dict[str, Tensor]:
        per = [self.load(k) for k in keys]
        return {level: torch.stack([p[level] for p in per]) for level in self.settings.levels}


@torch.no_grad()
def build_label_cache(model: nn.Module, samples: Iterable[dict], cache: LabelCache) -> int:
    """Fill ``cache`` with the labels of every sample (``img0``, ``img1``, ``timestep``, ``key``, unbatched).

    ``model`` is a module offering :meth:`~dynskip.skip.protocol.TrainForward.forward_train` (only its
    non-pruned branch and uncertainty are read, so no skipping knob is needed).
    Returns the number of samples computed (cached ones are skipped).
    """
    cache.open()
    was_training = model.training
    model.eval()
    done = 0
    try:
        for sample in samples:
            if cache.has(sample["key"]):
                continue
            out = model.forward_train(
                sample["img0"][None], sample["img1"][None], sample["timestep"], pruned=False, uncertainty=True
            )
            labels = uncertainty_to_labels(out["uncertainty"], cache.settings)
            cache.save(sample["key"], {level: t[0] for level, t in labels.items()})
            done += 1
    finally:
        model.train(was_training)
    return done
