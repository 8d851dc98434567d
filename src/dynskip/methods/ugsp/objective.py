"""UGSP training objectives, shared by both UGSP backbones (any :class:`~dynskip.skip.protocol.TrainForward`).

Phase 1, :class:`UGSPUncertaintyObjective`: the Laplacian NLL ``exp(-U) |I_t - f| + 2U`` on the
non-pruned output trains the uncertainty head (and the backbone when it is trainable).

Phase 2, :class:`UGSPPruningObjective` (the official ``update()``):
``rec(pruned) + aux_weight * rec(non-pruned)
+ consistency_weight * sum_k census(feat_k, feat_k^dense.detach())
+ lambda_s * (budget_weight * |density - budget| + w_step * sum_k |label_k - mask_k| / 10)``.
Schedules are the paper's (by epoch, here ``1 + global_step / steps_per_epoch``) unless a constant is
given. Labels come from the cache built by ``python -m dynskip.cli.ugsp_labels`` (by sample key) or are
computed online from the uncertainty head (works with random crops).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor, nn

from dynskip.losses import laplacian_nll, laplacian_pyramid_l1, ternary_census_loss
from dynskip.methods.ugsp.labels import (
    MANIFEST,
    LabelCache,
    LabelSettings,
    align_cached_labels,
    uncertainty_to_labels,
)
from dynskip.methods.ugsp.schedules import ugsp_lambda_s, ugsp_temperature, ugsp_w_step
from dynskip.skip.protocol import TrainForward
from dynskip.skiptrain.losses import budget_loss, mask_label_loss
from dynskip.utils.checks import check_choice

# RIFE and UGSP pad their input to multiples of 128 in training (see the models): masks cover that.
PAD_MULTIPLE = 128


def _epoch(task, steps_per_epoch: int) -> float:
    step = int(getattr(task, "global_step", 0) or 0)
    return 1.0 + step / max(int(steps_per_epoch), 1)


class UGSPUncertaintyObjective(nn.Module):
    """Phase 1: ``laplacian_nll(frame, gt, U)`` (+ ``rec_weight`` x rec. when the backbone trains)."""

    def __init__(self, rec_weight: float = 0.0, levels: int = 5) -> None:
        super().__init__()
        self.rec_weight, self.levels = rec_weight, levels

    def forward(self, task, batch: dict) -> tuple[Tensor, dict[str, Tensor]]:
        model: TrainForward = task.model
        out = model.forward_train(
            batch["img0"], batch["img1"], batch["timestep"], pruned=False, non_pruned=True, uncertainty=True
        )
        frame, gt = out["frame_dense"], batch["gt"]
        terms = {"nll": laplacian_nll(frame.detach(), gt, out["uncertainty"])}
        if self.rec_weight > 0 and frame.requires_grad:
            terms["rec"] = self.rec_weight * laplacian_pyramid_l1(frame, gt, levels=self.levels)
        return frame, terms


def _check_cached_settings(folder: Path, settings: LabelSettings) -> None:
    """A label cache is read only with the settings it was built with (its manifest keeps them)."""
    stored = json.loads((folder / MANIFEST).read_text()).get("settings", {})
    built, wanted = asdict(LabelSettings(**stored)), asdict(settings)
    differ = [f"{k}: cache {built[k]!r} vs config {wanted[k]!r}" for k in wanted if built[k] != wanted[k]]
    if differ:
        raise ValueError(
            f"label cache {folder} was built with other label settings ({'; '.join(differ)}): rebuild it "
            "with python -m dynskip.cli.ugsp_labels or set task.objective.label_settings to match"
        )


class UGSPPruningObjective(nn.Module):
    """Phase 2: pruned reconstruction, self-contrast, mask labels and budget (paper defaults).

    Args:
        aux_weight: weight of the non-pruned branch's reconstruction (only when the backbone trains).
        consistency_weight: weight of the census feature consistency (pruned vs detached non-pruned).
        budget_weight: weight of ``|density - model.budget|`` inside the sparsity term.
        label_div: the mask-label loss is divided by it (UGSP: 10).
        steps_per_epoch: optimiser steps per paper "epoch" for the schedules.
        temperature, lambda_s, w_step: constants overriding the paper's schedules (``None``: schedule).
        labels: ``"online"`` (from the uncertainty head), ``"cache"`` (``label_cache`` folder of one
            dataset, by sample key) or ``"none"``.
        label_settings: how uncertainty becomes labels (online mode).
        density_scope: ``"prunable"`` (prunable units' cost-weighted density) or ``"all"``.
    """

    def __init__(
        self,
        aux_weight: float = 0.5,
        consistency_weight: float = 0.001,
        budget_weight: float = 0.1,
        label_div: float = 10.0,
        steps_per_epoch: int = 1,
        temperature: float | None = None,
        lambda_s: float | None = None,
        w_step: float | None = None,
        labels: str = "online",
        label_cache: str | None = None,
        label_settings: dict | None = None,
        density_scope: str = "prunable",
        levels: int = 5,
    ) -> None:
        super().__init__()
        check_choice(labels, "labels", ("online", "cache", "none"))
        if labels == "cache" and not (label_cache and (Path(label_cache) / MANIFEST).is_file()):
            raise FileNotFoundError(
                f"label cache {label_cache} has no {MANIFEST}: run dynskip.cli.ugsp_labels"
            )
        check_choice(density_scope, "density_scope", ("prunable", "all"))
        self.aux_weight, self.consistency_weight = aux_weight, consistency_weight
        self.budget_weight, self.label_div = budget_weight, label_div
        self.steps_per_epoch, self.levels = steps_per_epoch, levels
        self.fixed = {"temperature": temperature, "lambda_s": lambda_s, "w_step": w_step}
        self.labels = labels
        self.settings = LabelSettings(**(label_settings or {}))
        self.cache = None
        if labels == "cache":
            folder = Path(label_cache)
            _check_cached_settings(folder, self.settings)
            self.cache = LabelCache(folder.parent, folder.name, self.settings, source="")
        self.density_scope = density_scope

    def schedules(self, task) -> dict[str, float]:
        epoch = _epoch(task, self.steps_per_epoch)
        paper = {
            "temperature": ugsp_temperature(epoch),
            "lambda_s": ugsp_lambda_s(epoch),
            "w_step": ugsp_w_step(epoch),
        }
        return {k: (paper[k] if v is None else float(v)) for k, v in self.fixed.items()}

    def forward(self, task, batch: dict) -> tuple[Tensor, dict[str, Tensor]]:
        model: TrainForward = task.model
        sched = self.schedules(task)
        model.execution_mode = "train"
        model.temperature = sched["temperature"]
        online = self.labels == "online"
        out = model.forward_train(
            batch["img0"], batch["img1"], batch["timestep"], pruned=True, non_pruned=True, uncertainty=online
        )
        gt = batch["gt"]
        terms = {"rec": laplacian_pyramid_l1(out["frame"], gt, levels=self.levels)}
        if self.aux_weight > 0 and out["frame_dense"].requires_grad:
            terms["aux"] = self.aux_weight * laplacian_pyramid_l1(out["frame_dense"], gt, levels=self.levels)
        masks: dict = out["masks"]
        if self.consistency_weight > 0:
            cons = sum(
                ternary_census_loss(out["features"][k], out["features_dense"][k].detach(), 3, "per_channel")
                for k in masks
            )
            terms["consistency"] = self.consistency_weight * cons
        report = out["report"]
        density = report.density(prunable_only=self.density_scope == "prunable")
        sparsity = self.budget_weight * budget_loss(density, model.budget)
        label_terms = self._label_loss(out, batch, masks)
        if label_terms is not None:
            sparsity = sparsity + sched["w_step"] * label_terms
        terms["sparsity"] = sched["lambda_s"] * sparsity
        task.log_dict(
            {"train/density": density.detach(), **{f"train/sched/{k}": v for k, v in sched.items()}},
            batch_size=gt.shape[0],
        )
        return out["frame"], terms

    def _label_loss(self, out: dict, batch: dict, masks: dict) -> Tensor | None:
        if self.labels == "none" or not masks:
            return None
        if self.labels == "online":
            labels = uncertainty_to_labels(out["uncertainty"], self.settings)
        else:
            keys = list(batch["key"])
            cached = {k: v.to(out["frame"]) for k, v in self.cache.load_batch(keys).items()}
            # Cached per whole frame: cut and flip them as the frames were (the sample's record).
            frame_hw = tuple(batch["gt"].shape[-2:])
            labels = align_cached_labels(cached, frame_hw, self.settings, batch.get("augment"), keys)
        total = 0.0
        for level, mask in masks.items():
            name = f"block{level}" if isinstance(level, int) else str(level)
            if name not in labels:
                continue
            label = labels[name]
            # Labels cover the image; the mask grid covers the padded input: pad the labels with zeros.
            padded = _pad_label(label, mask.shape[-2:], out["frame"].shape[-2:], self.settings.cell_px)
            per_cell = mask_label_loss(mask, padded, reduction="none")
            # Mean over the cells that show the image: padding cells (mask and label both 0) would
            # otherwise dilute L_ugm, by (7/8)^2 on 224-px crops padded to 256.
            inside = _image_cells(mask.shape[-2:], out["frame"].shape[-2:])
            total = total + per_cell[..., : inside[0], : inside[1]].mean() / self.label_div
        return total if isinstance(total, Tensor) else None


def _padded_hw(image_hw: torch.Size) -> tuple[int, int]:
    """The input size the model trains on: ``image_hw`` rounded up to multiples of ``PAD_MULTIPLE``."""
    return tuple(-(-size // PAD_MULTIPLE) * PAD_MULTIPLE for size in image_hw)


def _image_cells(grid: torch.Size, image_hw: torch.Size) -> tuple[int, int]:
    """Rows and columns of a mask grid over the padded input that overlap the ``image_hw`` image."""
    return tuple(-(-size * cells // full) for size, cells, full in zip(image_hw, grid, _padded_hw(image_hw)))


def _pad_label(label: Tensor, grid: torch.Size, image_hw: torch.Size, cell_px: int) -> Tensor:
    """Labels ``(B, 1, ceil(H/cell), ceil(W/cell))`` -> zero-padded to the padded input's cell grid."""
    ph, pw = (size // cell_px for size in _padded_hw(image_hw))
    extra = (0, max(pw - label.shape[-1], 0), 0, max(ph - label.shape[-2], 0))
    return torch.nn.functional.pad(label, extra) if any(extra) else label
