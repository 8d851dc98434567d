"""Skipping callbacks in a real ``pl.Trainer`` on CPU, with a tiny fake skipping model."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.loggers import TensorBoardLogger
from torch import Tensor, nn
from torch.utils.data import DataLoader

from dynskip.callbacks.skip import (
    MaskVisualiserCallback,
    SkipMonitorCallback,
    SkipScheduleCallback,
    first_frame,
    frame_keys,
    latency_probe,
)
from dynskip.methods.ugsp.schedules import UGSPTemperature
from dynskip.skip.protocol import SkipKnobs, SkippingModel, SkipRecorder, SkipUnit
from dynskip.skiptrain.losses import budget_loss
from dynskip.skiptrain.relax import GumbelGate
from dynskip.utils.images import normalise_map

H = W = 8
BODY_MACS = 3 * 3 * 9  # Conv2d(3, 3, 3): C_out * C_in * k * k per position
HEAD_MACS = 1 * 3 * 9


class TinySkipNet(SkipKnobs, nn.Module):
    """``x + body(x) * mask``, the mask from a gated conv head; records one unit per forward."""

    def __init__(self) -> None:
        nn.Module.__init__(self)
        self.head = nn.Conv2d(3, 1, 3, padding=1)
        self.body = nn.Conv2d(3, 3, 3, padding=1)
        self.gate = GumbelGate()
        self.recorder = SkipRecorder(self.skip_units())
        self.history: list[tuple[float, float]] = []  # (temperature, budget) seen by training forwards

    def skip_units(self) -> list[SkipUnit]:
        return [SkipUnit("body", "block", macs_per_pixel=BODY_MACS, halo=1)]

    def skip_report(self):
        return self.recorder.report()

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        self.recorder.reset(frames=b)
        if self.training:
            self.history.append((self.temperature, self.budget))
        if self.execution_mode == "dense":
            mask, overhead = torch.ones(b, 1, h, w), 0.0
        else:
            self.gate.temperature, self.gate.threshold = self.temperature, self.threshold
            mask, overhead = self.gate(self.head(x)), float(HEAD_MACS * b * h * w)
        self.recorder.record("body", mask, overhead_macs=overhead)
        self.recorder.add_map("mask", mask)
        self.recorder.add_map("uncertainty", 3.0 * x[:, :1] - 1.0)  # outside [0, 1]: min-max scaled
        return x + self.body(x) * mask


class TinyTask(pl.LightningModule):
    def __init__(self, model: nn.Module | None = None) -> None:
        super().__init__()
        self.model = model if model is not None else TinySkipNet()

    def predict(self, batch: dict) -> Tensor:
        return self.model(batch["lq"])

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        pred = self.predict(batch)
        density = self.model.skip_report().density()
        return F.mse_loss(pred, batch["gt"]) + budget_loss(density, self.model.budget)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.predict(batch)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.predict(batch)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _loader(n: int = 4) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    items = [
        {"lq": torch.rand(3, H, W, generator=g), "gt": torch.rand(3, H, W, generator=g)} for _ in range(n)
    ]
    return DataLoader(items, batch_size=2)


def _trainer(tmp_path, callbacks, logger=False, **kwargs) -> pl.Trainer:
    options = dict(
        max_epochs=1, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0, log_every_n_steps=1
    )
    options.update(kwargs)
    return pl.Trainer(
        accelerator="cpu",
        devices=1,
        logger=logger,
        callbacks=callbacks,
        default_root_dir=tmp_path,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **options,
    )


def test_fake_model_implements_protocol() -> None:
    assert isinstance(TinySkipNet(), SkippingModel)
    assert not isinstance(nn.Conv2d(1, 1, 1), SkippingModel)


# --- SkipScheduleCallback --------------------------------------------------------------------------
def test_schedule_callback_sets_knobs_per_step(tmp_path) -> None:
    task = TinyTask()
    task.model.budget = 0.4  # the target, read at fit start
    schedule = SkipScheduleCallback(
        temperature={"kind": "linear", "start": 1.0, "end": 0.5, "length": 4, "unit": "step"},
        budget_warmup_steps=4,
    )
    trainer = _trainer(tmp_path, [schedule], max_epochs=1, limit_train_batches=6, limit_val_batches=0)
    trainer.fit(task, _loader(12))
    seen = task.model.history
    assert len(seen) == 6
    for step, (temperature, budget) in enumerate(seen):
        assert temperature == pytest.approx(1.0 - 0.5 * min(step / 4, 1))
        assert budget == pytest.approx(1.0 - 0.6 * min(step / 4, 1))
    assert trainer.callback_metrics["skip/budget"].item() == pytest.approx(0.4)


def test_schedule_callback_epoch_unit_and_constant() -> None:
    cb = SkipScheduleCallback(temperature=UGSPTemperature(), budget=0.3, budget_warmup_steps=10)
    cb.on_fit_start(None, TinyTask())
    assert cb.values_at(epoch=75, step=5) == pytest.approx({"temperature": 0.5, "budget": 0.65})
    assert SkipScheduleCallback(temperature=0.7).temperature(123) == 0.7


def test_schedule_callback_exceptions() -> None:
    with pytest.raises(ValueError, match=r"budget target must lie in \[0, 1\], got 1.2"):
        SkipScheduleCallback(budget=1.2)
    with pytest.raises(ValueError, match="budget_warmup_steps must be >= 0, got -1"):
        SkipScheduleCallback(budget_warmup_steps=-1)
    with pytest.raises(TypeError, match="temperature must be a TemperatureSchedule"):
        SkipScheduleCallback(temperature="fast")
    with pytest.raises(TypeError, match=r"pl_module.model to implement SkippingModel.*got Linear"):
        SkipScheduleCallback().on_fit_start(None, TinyTask(model=nn.Linear(1, 1)))


# --- SkipMonitorCallback ---------------------------------------------------------------------------
def test_monitor_logs_density_macs_and_latency(tmp_path) -> None:
    monitor = SkipMonitorCallback(latency_probe=True, probe_modes=("dense", "masked"), probe_repeats=2)
    trainer = _trainer(tmp_path, [monitor])
    trainer.fit(TinyTask(), _loader(), _loader(2))
    m = {k: v.item() for k, v in trainer.callback_metrics.items()}
    for key in ("train/skip/density", "train/skip/unit/body", "val/skip/group/block/density"):
        assert 0.0 <= m[key] <= 1.0
    # Per frame: dense = body MACs on every position; actual = mask share of body + the head.
    assert m["val/skip/gmacs_dense"] == pytest.approx(BODY_MACS * H * W / 1e9)
    expected_actual = (m["val/skip/density"] * BODY_MACS + HEAD_MACS) * H * W / 1e9
    assert m["val/skip/gmacs_actual"] == pytest.approx(expected_actual, rel=1e-5)
    assert m["val/latency/dense_ms"] > 0 and m["val/latency/masked_ms"] > 0
    assert m["val/latency/speedup"] == pytest.approx(m["val/latency/dense_ms"] / m["val/latency/masked_ms"])


def test_monitor_logs_the_test_stage_under_its_own_keys(tmp_path) -> None:
    # A sweep report pairs test quality with test cost, so the test stage logs its own statistics.
    monitor = SkipMonitorCallback(latency_probe=True, probe_modes=("dense", "masked"), probe_repeats=2)
    trainer = _trainer(tmp_path, [monitor])
    task = TinyTask()
    trainer.test(task, _loader(2))
    m = {k: v.item() for k, v in trainer.callback_metrics.items()}
    assert m["test/skip/gmacs_dense"] == pytest.approx(BODY_MACS * H * W / 1e9)
    assert 0.0 <= m["test/skip/density"] <= 1.0 and m["test/latency/speedup"] > 0
    assert not any(key.startswith("val/") for key in m)


def test_latency_probe_restores_mode_and_validates() -> None:
    task = TinyTask().eval()
    task.model.execution_mode = "masked"
    batch = next(iter(_loader(2)))
    ms = latency_probe(task, batch, modes=("dense", "sparse"), repeats=2, warmup=0)
    assert set(ms) == {"dense", "sparse"} and all(v > 0 for v in ms.values())
    assert task.model.execution_mode == "masked"
    with pytest.raises(ValueError, match=r"mode must be one of .* got 'fast'"):
        latency_probe(task, batch, modes=("fast",))
    with pytest.raises(ValueError, match="probe_modes"):
        SkipMonitorCallback(probe_modes=("dense", "turbo"))


def test_latency_probe_calibrates_each_mode_on_the_task_inputs_before_timing() -> None:
    class Calibrated(TinySkipNet):
        def calibrate(self, *example_inputs: Tensor) -> None:
            self.calibrated.append((self.execution_mode, [tuple(x.shape) for x in example_inputs]))

        def forward(self, x: Tensor) -> Tensor:
            self.forwards_after_calibration.append(len(self.calibrated))
            return super().forward(x)

    model = Calibrated()
    model.calibrated, model.forwards_after_calibration = [], []
    task = TinyTask(model).eval()
    batch = next(iter(_loader(2)))
    latency_probe(task, batch, modes=("dense", "sparse"), repeats=1, warmup=0)
    assert model.calibrated == []  # the task names no input keys: nothing to calibrate on
    task.input_keys = ("lq",)
    latency_probe(task, batch, modes=("dense", "sparse"), repeats=1, warmup=0)
    assert model.calibrated == [("dense", [(2, 3, H, W)]), ("sparse", [(2, 3, H, W)])]
    assert model.forwards_after_calibration[-2:] == [2, 2]  # every timed pass after both calibrations


# --- MaskVisualiserCallback ------------------------------------------------------------------------
def test_visualiser_saves_pngs_and_logs_to_tensorboard(tmp_path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = TensorBoardLogger(save_dir=tmp_path / "tb", name="", version=0)
    visualiser = MaskVisualiserCallback(every_n_val=1, out_dir=tmp_path / "maps")
    trainer = _trainer(tmp_path, [visualiser], logger=logger, max_epochs=2)
    trainer.fit(TinyTask(), _loader(), _loader(2))
    out_pngs = sorted(p.name for p in (tmp_path / "maps").glob("*.png"))
    assert out_pngs == [
        "mask_step0000002.png",
        "mask_step0000004.png",
        "uncertainty_step0000002.png",
        "uncertainty_step0000004.png",
    ]
    assert len(list((tmp_path / "tb" / "version_0" / "images").glob("*.png"))) == 4
    events = EventAccumulator(str(tmp_path / "tb" / "version_0"), size_guidance={"images": 0}).Reload()
    assert set(events.Tags()["images"]) == {"val/skip_maps/mask", "val/skip_maps/uncertainty"}


def test_visualiser_every_n_val_skips_rounds(tmp_path) -> None:
    visualiser = MaskVisualiserCallback(every_n_val=2, out_dir=tmp_path / "maps")
    trainer = _trainer(tmp_path, [visualiser], max_epochs=3)
    trainer.fit(TinyTask(), _loader(), _loader(2))
    steps = sorted({p.stem.split("_step")[1] for p in (tmp_path / "maps").glob("*.png")})
    assert steps == ["0000002", "0000006"]  # validation rounds 0 and 2


def test_visualiser_helpers() -> None:
    clip = torch.rand(2, 5, 3, 4, 4)
    assert torch.equal(first_frame({"lq": clip, "gt": clip}), clip[0, 0])
    assert torch.equal(first_frame({"img0": clip[:, 0]}), clip[0, 0])
    assert first_frame({"other": clip}) is None
    with pytest.raises(KeyError, match="frame_key 'x' is not in the batch"):
        first_frame({"lq": clip}, "x")
    mask = torch.tensor([[[0.0, 0.5]]])
    assert torch.equal(normalise_map(mask), mask)
    torch.testing.assert_close(
        normalise_map(torch.tensor([[[-2.0, 0.0, 2.0]]])), torch.tensor([[[0.0, 0.5, 1.0]]])
    )
    with pytest.raises(ValueError, match="every_n_val must be >= 1, got 0"):
        MaskVisualiserCallback(every_n_val=0)


# --- all together ----------------------------------------------------------------------------------
def test_all_callbacks_fast_dev_run(tmp_path) -> None:
    callbacks = [
        SkipScheduleCallback(temperature=0.5, budget=0.5, budget_warmup_steps=2),
        SkipMonitorCallback(probe_repeats=1),
        MaskVisualiserCallback(out_dir=tmp_path / "maps"),
    ]
    trainer = pl.Trainer(
        fast_dev_run=2,
        accelerator="cpu",
        callbacks=callbacks,
        default_root_dir=tmp_path,
        enable_progress_bar=False,
    )
    task = TinyTask()
    trainer.fit(task, _loader(), _loader(2))
    assert task.model.temperature == 0.5
    assert "val/latency/speedup" in trainer.callback_metrics
    assert len(list((tmp_path / "maps").glob("*.png"))) == 2


def test_frame_keys_come_from_the_task() -> None:
    from dynskip.tasks.vfi import VFITask
    from dynskip.tasks.vsr import VSRTask

    assert frame_keys(VSRTask.__new__(VSRTask)) == ("lq", "gt")
    assert frame_keys(VFITask.__new__(VFITask)) == ("img0", "img1", "gt")
    assert frame_keys(TinyTask.__new__(TinyTask)) == ("lq", "img0", "frames", "gt")  # names none
    clip = torch.rand(2, 5, 3, 4, 4)
    batch = {"gt": clip, "img0": clip[:, 1]}
    assert torch.equal(first_frame(batch, keys=("img0", "img1", "gt")), clip[0, 1])
    assert torch.equal(first_frame(batch, keys=("gt",)), clip[0, 0])
