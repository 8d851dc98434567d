"""Same seed, same numbers: two CPU runs of a tiny skipping model (random crops, Gumbel noise, random
init) give identical metrics.json; timing figures aside."""

from __future__ import annotations

import json
from pathlib import Path

from dynskip.config import compose_config
from dynskip.train import train

TINY_SKIPVSR = [
    "experiment=skipvsr_video",
    "callbacks=skip",
    "callbacks.skip_monitor.latency_probe=false",
    "data=synthetic_vsr",
    "data.train.augment.crop_size=64",
    "model.backbone=null",
    "model.num_feat=8",
    "model.num_block=2",
    "model.num_groups=2",
    "model.hidden=4",
    "phase1_steps=1",
    "debug=smoke",
    "trainer.max_steps=2",
    "trainer.val_check_interval=2",
    "test=false",
    "seed=7",
]


def run(out: Path) -> dict[str, float]:
    train(compose_config("train", TINY_SKIPVSR, out))
    return json.loads((out / "metrics.json").read_text())


def test_same_seed_same_metrics(tmp_path: Path) -> None:
    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    assert "train/loss" in first and "val/psnr" in first and "val/skip/density" in first
    assert first == second
