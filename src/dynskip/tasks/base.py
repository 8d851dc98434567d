"""The Lightning driver shared by the VSR and VFI tasks: optimisation, freezing, metrics, images."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torchmetrics import Metric, MetricCollection

from dynskip.metrics.clip_average import ClipAveragedMetric, clip_key
from dynskip.tasks.objectives import Objective, ReconstructionObjective
from dynskip.tasks.param_groups import ModuleRule, apply_freezing, build_param_groups, parse_rules
from dynskip.utils.images import log_image, make_row


class RestorationTask(pl.LightningModule):
    """Trains and evaluates one restoration model.

    Args:
        model: the network (built by ``dynskip.models.build_model``).
        loss: pixel loss used when no ``objective`` is given.
        objective: callable ``(task, batch) -> (pred, {name: loss})``; defaults to ``loss`` on the output.
        optimizer: partial optimiser constructor ``(params, lr=...) -> Optimizer`` (Hydra ``_partial_``).
        lr: base learning rate.
        module_rules: ``[{prefix, lr_mult, freeze_steps}]`` per-module lr multipliers and freezing.
        scheduler: partial ``(optimizer) -> LRScheduler``, stepped every optimiser step.
        metrics: ``{name: Metric}`` evaluated on val and test (cloned per stage).
        log_images_every_n_val: log an input / output / target row for the first val batch.
        per_clip_limit: also log each clip's score (``val/psnr/<clip>``) when an evaluation epoch saw
            at most this many named clips (video sets such as the footage pool, REDS4, Vid4; not sets
            of lone triplets, where every triplet is its own clip). 0 turns it off.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        lr: float = 1e-4,
        loss: nn.Module | None = None,
        objective: Objective | None = None,
        module_rules: Sequence[Mapping | ModuleRule] | None = None,
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        metrics: Mapping[str, Metric] | None = None,
        log_images_every_n_val: int = 1,
        per_clip_limit: int = 16,
    ) -> None:
        super().__init__()
        if objective is None and loss is None:
            raise ValueError("RestorationTask needs a `loss` or an `objective`")
        self.model = model
        self.objective = objective if objective is not None else ReconstructionObjective(loss)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.lr = lr
        self.module_rules = parse_rules(module_rules)
        collection = MetricCollection(dict(metrics or {}))
        self.val_metrics = collection.clone(prefix="val/")
        self.test_metrics = collection.clone(prefix="test/")
        self.log_images_every_n_val = log_images_every_n_val
        self.per_clip_limit = per_clip_limit
        self._clip_names: dict[int, str] = {}
        self._val_rounds = 0
        # No save_hyperparameters: Hydra keeps the full config, and checkpoints stay plain tensors and
        # containers so they load with weights_only=True.

    # --- task-specific hooks -------------------------------------------------------------------
    input_keys: tuple[str, ...] = ()  # batch keys of the model's input frames (callbacks read them)
    target_key: str = "gt"  # batch key of the target frames

    def predict(self, batch: dict) -> Tensor:
        raise NotImplementedError

    def target(self, batch: dict) -> Tensor:
        return batch[self.target_key]

    def image_row(self, batch: dict, pred: Tensor) -> list[Tensor]:
        raise NotImplementedError

    # --- training -------------------------------------------------------------------------------
    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        if self.module_rules:
            apply_freezing(self.model, self.module_rules, self.global_step)

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        _, terms = self.objective(self, batch)
        total = sum(terms.values())
        bs = self.target(batch).shape[0]
        self.log_dict({f"train/{k}": v.detach() for k, v in terms.items()}, batch_size=bs)
        self.log("train/loss", total.detach(), prog_bar=True, batch_size=bs)
        return total

    def configure_optimizers(self):
        groups = build_param_groups(self.model, self.lr, self.module_rules)
        # Objectives may own parameters (e.g. learned loss weights); they train at the base lr.
        extra = (
            [p for p in self.objective.parameters() if p.requires_grad]
            if isinstance(self.objective, nn.Module)
            else []
        )
        if extra:
            groups.append({"params": extra, "lr": self.lr, "name": "objective"})
        optimizer = self.optimizer_factory(groups, lr=self.lr)
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # --- evaluation -----------------------------------------------------------------------------
    def _evaluate(self, batch: dict, metrics: MetricCollection) -> Tensor:
        pred = self.predict(batch).clamp(0, 1)
        if "clip" in batch:  # windows of clips: frames average per clip, then clips (one clip, one vote)
            clips = list(batch["clip"])
            # Lone samples (clip == key: a triplet, a one-frame item) get no per-clip score of their own.
            self._clip_names.update((clip_key(c), c) for c, k in zip(clips, batch["key"]) if c != k)
            metrics.update(pred, self.target(batch), clip_ids=clips)
        else:
            metrics.update(pred, self.target(batch))
        return pred

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        pred = self._evaluate(batch, self.val_metrics)
        every = self.log_images_every_n_val
        due = batch_idx == 0 and every and self._val_rounds % every == 0
        # One writer under DDP: every rank would write the same PNG path.
        if due and not self.trainer.sanity_checking and self.trainer.is_global_zero:
            log_image(self.trainer, "val/images", make_row(self.image_row(batch, pred)))

    def on_validation_epoch_end(self) -> None:
        self._log_epoch(self.val_metrics, prog_bar=True)
        if not self.trainer.sanity_checking:
            self._val_rounds += 1

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, self.test_metrics)

    def on_test_epoch_end(self) -> None:
        self._log_epoch(self.test_metrics, prog_bar=False)

    def _log_epoch(self, metrics: MetricCollection, prog_bar: bool) -> None:
        """Log the clip-averaged metrics, then each clip's (``<stage>/<metric>/<clip>``), then reset."""
        self.log_dict(metrics.compute(), prog_bar=prog_bar, sync_dist=True)
        per_clip = self._per_clip_values(metrics)
        if per_clip:
            self.log_dict(per_clip, sync_dist=True)
        metrics.reset()
        self._clip_names.clear()

    def _per_clip_values(self, metrics: MetricCollection) -> dict[str, Tensor]:
        names = self._gathered_clip_names()
        if not 0 < len(names) <= self.per_clip_limit:
            return {}
        values = {}
        for key, metric in metrics.items(keep_base=False, copy_state=False):
            if isinstance(metric, ClipAveragedMetric):
                for clip, value in metric.compute_per_clip().items():
                    if clip in names:
                        values[f"{key}/{names[clip]}"] = value
        return values

    def _gathered_clip_names(self) -> dict[int, str]:
        """Clip names seen on every rank (DDP ranks see different clips; metrics sync by key only)."""
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return dict(self._clip_names)
        gathered: list[dict[int, str]] = [{} for _ in range(torch.distributed.get_world_size())]
        torch.distributed.all_gather_object(gathered, self._clip_names)
        return {k: v for part in gathered for k, v in part.items()}
