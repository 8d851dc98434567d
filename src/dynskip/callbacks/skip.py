"""Lightning callbacks shared by every skipping model, driven only by the skipping protocol.

They reach the network as ``pl_module.model`` (a :class:`~dynskip.skip.protocol.SkippingModel`),
log with ``pl_module.log`` / ``log_dict`` (so every logger gets the numbers), and run a forward, for
the latency probe, with ``pl_module.predict(batch)``. Which batch keys hold frames the task says
(``pl_module.input_keys``, then ``pl_module.target_key``); a module that names none gets the generic guess.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor
from torchmetrics import Metric

from dynskip.skip.protocol import EXECUTION_MODES, SkippingModel, SkipReport, calibrate_for, execution_mode
from dynskip.skiptrain.schedules import BudgetSchedule, TemperatureSchedule
from dynskip.utils.images import log_image, make_row, normalise_map, overlay_map, save_png
from dynskip.utils.timing import interleaved_median


def skipping_model(pl_module: pl.LightningModule, who: str) -> SkippingModel:
    """``pl_module.model``, checked to implement the skipping protocol."""
    model = getattr(pl_module, "model", None)
    if not isinstance(model, SkippingModel):
        raise TypeError(
            f"{who} needs pl_module.model to implement SkippingModel (skip_units, skip_report, temperature, "
            f"threshold, budget, execution_mode); got {type(model).__name__}"
        )
    return model


def _temperature_schedule(spec: TemperatureSchedule | Mapping | float | None) -> TemperatureSchedule | None:
    if spec is None or isinstance(spec, TemperatureSchedule):
        return spec
    if callable(spec) and getattr(spec, "unit", None) in ("epoch", "step"):
        return spec  # a method's own schedule (e.g. dynskip.methods.ugsp.schedules.UGSPTemperature)
    if isinstance(spec, Mapping):
        return TemperatureSchedule(**spec)
    if isinstance(spec, (int, float)):
        return TemperatureSchedule("constant", start=float(spec), end=float(spec))
    raise TypeError(
        f"temperature must be a TemperatureSchedule, a mapping or a number, got {type(spec).__name__}"
    )


class SkipScheduleCallback(pl.Callback):
    """Sets the model's ``temperature`` and ``budget`` before every training batch.

    Args:
        temperature: a :class:`TemperatureSchedule`, its fields as a mapping (Hydra), a constant, a
            method's own schedule (callable with a ``unit``), or ``None`` to leave the temperature alone.
            Epoch schedules read ``trainer.current_epoch``, step schedules ``trainer.global_step``.
        budget: the target budget; ``None`` takes the model's budget when fitting starts.
        budget_warmup_steps: optimiser steps over which the budget falls from 1.0 to the target.
    """

    def __init__(
        self,
        temperature: TemperatureSchedule | Mapping | float | None = None,
        budget: float | None = None,
        budget_warmup_steps: int = 0,
    ) -> None:
        super().__init__()
        self.temperature = _temperature_schedule(temperature)
        if budget is not None:
            BudgetSchedule(budget, budget_warmup_steps)  # validates both
        if budget_warmup_steps < 0:
            raise ValueError(f"budget_warmup_steps must be >= 0, got {budget_warmup_steps}")
        self.budget_target = budget
        self.budget_warmup_steps = budget_warmup_steps
        self._budget: BudgetSchedule | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        model = skipping_model(pl_module, type(self).__name__)
        if self._budget is None:  # once: a later fit must not read back a warmed-up value
            target = model.budget if self.budget_target is None else self.budget_target
            self._budget = BudgetSchedule(target, self.budget_warmup_steps)

    def values_at(self, epoch: int, step: int) -> dict[str, float]:
        """The knob values the schedules give at ``epoch`` / ``step``."""
        values = {}
        if self.temperature is not None:
            values["temperature"] = self.temperature(epoch if self.temperature.unit == "epoch" else step)
        if self._budget is not None:
            values["budget"] = self._budget(step)
        return values

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ):
        model = skipping_model(pl_module, type(self).__name__)
        values = self.values_at(trainer.current_epoch, trainer.global_step)
        for name, value in values.items():
            setattr(model, name, value)
        if values:
            pl_module.log_dict(
                {f"skip/{k}": v for k, v in values.items()}, on_step=True, on_epoch=False, batch_size=1
            )

    def state_dict(self) -> dict[str, Any]:
        return {"budget_target": None if self._budget is None else self._budget.target}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("budget_target") is not None:
            self._budget = BudgetSchedule(state_dict["budget_target"], self.budget_warmup_steps)


def latency_probe(
    pl_module: pl.LightningModule,
    batch: Any,
    modes: Sequence[str] = ("dense", "sparse"),
    repeats: int = 5,
    warmup: int = 1,
) -> dict[str, float]:
    """Median milliseconds of ``pl_module.predict(batch)`` per execution mode, modes interleaved.

    Interleaving (dense, sparse, dense, sparse, ...) spreads machine-load drift over all modes. Before
    timing, the model is calibrated in each mode on the batch's input frames (untimed,
    :meth:`~dynskip.skip.protocol.SkipKnobs.calibrate`), as the footage harness does.
    """
    for mode in modes:
        if mode not in EXECUTION_MODES:
            raise ValueError(f"latency probe mode must be one of {EXECUTION_MODES}, got {mode!r}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    model = skipping_model(pl_module, "latency_probe")
    if not callable(getattr(pl_module, "predict", None)):
        raise TypeError(
            f"latency_probe runs pl_module.predict(batch); {type(pl_module).__name__} has no predict"
        )

    # Calibrated per timed mode, untimed, on the inputs the task names (a model measures only what the
    # mode reads, e.g. SkipVSR v1's cut-over in "sparse"); a module naming none is timed uncalibrated.
    inputs = [batch[key] for key in getattr(pl_module, "input_keys", ())]
    if inputs:
        with torch.no_grad():
            for mode in modes:
                with execution_mode(model, mode):
                    calibrate_for(model, *inputs)

    def run_in(mode: str) -> Callable[[], object]:
        def call() -> object:
            with execution_mode(model, mode):
                return pl_module.predict(batch)

        return call

    with torch.no_grad():
        seconds = interleaved_median(
            {mode: run_in(mode) for mode in modes}, repeats=repeats, warmup=warmup, device=pl_module.device
        )
    return {mode: s * 1e3 for mode, s in seconds.items()}


class ScalarMeans(Metric):
    """Running means of a fixed set of named scalars, as torchmetrics states.

    Under DDP, :meth:`compute` sums totals and counts over the ranks, so the logged sparsity and cost
    are the means over every validation batch of every rank (what one process would report).
    """

    full_state_update = False

    def __init__(self, keys: Sequence[str]) -> None:
        super().__init__()
        self.keys = list(keys)
        self.add_state("total", torch.zeros(len(self.keys), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, scalars: Mapping[str, float]) -> None:
        if list(scalars) != self.keys:
            raise ValueError(f"ScalarMeans tracks {self.keys}, got {list(scalars)}")
        values = torch.tensor([float(scalars[k]) for k in self.keys], dtype=torch.float64)
        self.total += values.to(self.total.device)
        self.count += 1

    def compute(self) -> dict[str, Tensor]:
        means = (self.total / self.count).float()
        return {k: means[i] for i, k in enumerate(self.keys)}


class SkipMonitorCallback(pl.Callback):
    """Logs what the skipping model ran, and how fast its modes are.

    Training: every ``every_n_steps`` batches (default: the trainer's ``log_every_n_steps``) the last
    forward's report under ``train/skip/...`` (density, GMACs dense / actual per frame, saved
    fraction, per group, per unit when ``per_unit``). Validation: the same averaged over the epoch
    under ``val/skip/...``; then, when ``latency_probe``, the median latency of each of
    ``probe_modes`` on the first validation batch (``val/latency/<mode>_ms``) and the speed-up of the
    last mode over the first (``val/latency/speedup``). Test: the same under ``test/...``.
    """

    def __init__(
        self,
        latency_probe: bool = True,
        probe_modes: Sequence[str] = ("dense", "sparse"),
        probe_repeats: int = 5,
        every_n_steps: int | None = None,
        per_unit: bool = True,
    ) -> None:
        super().__init__()
        for mode in probe_modes:
            if mode not in EXECUTION_MODES:
                raise ValueError(f"probe_modes must hold modes from {EXECUTION_MODES}, got {mode!r}")
        if probe_repeats < 1:
            raise ValueError(f"probe_repeats must be >= 1, got {probe_repeats}")
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.latency_probe = latency_probe
        self.probe_modes = tuple(probe_modes)
        self.probe_repeats = probe_repeats
        self.every_n_steps = every_n_steps
        self.per_unit = per_unit
        self._val_means: ScalarMeans | None = None
        self._probe_batch: Any = None

    def _scalars(self, report: SkipReport, prefix: str) -> dict[str, float]:
        return report.scalars(prefix=prefix, per_unit=self.per_unit)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx
    ):
        every = self.every_n_steps or trainer.log_every_n_steps
        if batch_idx % every:
            return
        report = skipping_model(pl_module, type(self).__name__).skip_report()
        if report.units:
            scalars = self._scalars(report, "train/skip/")
            pl_module.log_dict(scalars, on_step=True, on_epoch=False, batch_size=1)

    # Validation and test log the same statistics under their own stage: a report pairs a stage's
    # quality with that stage's cost.
    def _eval_start(self) -> None:
        self._val_means, self._probe_batch = None, None

    def _eval_batch_end(self, pl_module: pl.LightningModule, batch: Any, stage: str) -> None:
        report = skipping_model(pl_module, type(self).__name__).skip_report()
        if report.units:
            scalars = self._scalars(report, f"{stage}/skip/")
            if self._val_means is None:
                self._val_means = ScalarMeans(list(scalars)).to(pl_module.device)
            self._val_means.update(scalars)
        if self._probe_batch is None:
            self._probe_batch = batch

    def _eval_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._val_means is not None:  # compute() syncs the states across DDP ranks
            pl_module.log_dict(self._val_means.compute(), on_epoch=True, batch_size=1)
        if self.latency_probe and self._probe_batch is not None and not trainer.sanity_checking:
            ms = latency_probe(pl_module, self._probe_batch, self.probe_modes, self.probe_repeats)
            logged = {f"{stage}/latency/{mode}_ms": value for mode, value in ms.items()}
            if len(ms) >= 2:
                first, last = self.probe_modes[0], self.probe_modes[-1]
                logged[f"{stage}/latency/speedup"] = ms[first] / ms[last]
            # Each rank times its own batch; the ranks' mean is what gets logged.
            pl_module.log_dict(logged, on_epoch=True, batch_size=1, sync_dist=True)
        self._val_means, self._probe_batch = None, None

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._eval_start()

    def on_validation_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx, dataloader_idx=0
    ):
        self._eval_batch_end(pl_module, batch, "val")

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._eval_end(trainer, pl_module, "val")

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._eval_start()

    def on_test_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx, dataloader_idx=0
    ):
        self._eval_batch_end(pl_module, batch, "test")

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._eval_end(trainer, pl_module, "test")


# Batch keys that may hold frames, for a module whose task names none: VSR clips, VFI pairs, generic.
_FRAME_KEYS = ("lq", "img0", "frames", "gt")


def frame_keys(pl_module: Any) -> tuple[str, ...]:
    """The batch keys that hold frames, as the task names them: its inputs, then its target."""
    inputs = tuple(getattr(pl_module, "input_keys", ()))
    target = getattr(pl_module, "target_key", None)
    keys = (*inputs, target) if target is not None else inputs
    return keys or _FRAME_KEYS


def first_frame(batch: Any, frame_key: str | None = None, keys: Sequence[str] = _FRAME_KEYS) -> Tensor | None:
    """``(3, H, W)`` first frame of the first sample of ``batch[frame_key]`` (or of the first of ``keys``)."""
    if not isinstance(batch, Mapping):
        return None
    keys = [frame_key] if frame_key is not None else [k for k in keys if k in batch]
    for key in keys:
        if key not in batch:
            raise KeyError(f"frame_key '{key}' is not in the batch; batch keys: {sorted(batch)}")
        frames = batch[key]
        if isinstance(frames, Tensor) and frames.dim() in (4, 5) and frames.shape[-3] == 3:
            return frames[0, 0] if frames.dim() == 5 else frames[0]
    return None


class MaskVisualiserCallback(pl.Callback):
    """Draws the report's ``maps`` (masks, uncertainty, confidence) of the first validation batch.

    Every ``every_n_val``-th validation (sanity check excluded), each map ``name`` becomes one image
    ``[frame, map, overlay]`` (map index 0 over the first frame of the first sample) logged as
    ``val/skip_maps/<name>`` to every logger that takes images (W&B ``log_image``, TensorBoard
    ``add_image``; a PNG in the logger's folder always) and, with ``out_dir``, saved there as PNG too.
    """

    def __init__(
        self,
        every_n_val: int = 1,
        out_dir: str | Path | None = None,
        max_maps: int = 16,
        frame_key: str | None = None,
    ) -> None:
        super().__init__()
        if every_n_val < 1:
            raise ValueError(f"every_n_val must be >= 1, got {every_n_val}")
        if max_maps < 1:
            raise ValueError(f"max_maps must be >= 1, got {max_maps}")
        self.every_n_val = every_n_val
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.max_maps = max_maps
        self.frame_key = frame_key
        self._val_rounds = 0
        self.saved: list[Path] = []

    def on_validation_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx, dataloader_idx=0
    ):
        if batch_idx != 0 or trainer.sanity_checking or self._val_rounds % self.every_n_val:
            return
        if not trainer.is_global_zero:  # one writer for the PNG files
            return
        report = skipping_model(pl_module, type(self).__name__).skip_report()
        frame = first_frame(batch, self.frame_key, frame_keys(pl_module))
        frame = None if frame is None else frame.detach().float().cpu()
        step = trainer.global_step
        for name, values in list(report.maps.items())[: self.max_maps]:
            heat = normalise_map(values[0].cpu())
            tiles = [heat.expand(3, -1, -1), overlay_map(frame, heat)]
            image = make_row(tiles if frame is None else [frame, *tiles])
            self.saved += log_image(trainer, f"val/skip_maps/{name}", image, step=step)
            if self.out_dir is not None:
                path = self.out_dir / f"{name.replace('/', '_')}_step{step:07d}.png"
                self.saved.append(save_png(image, path))

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._val_rounds += 1
