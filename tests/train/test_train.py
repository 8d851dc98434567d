"""Smoke training through Hydra compose for both tasks, checkpoint resume, config errors."""

import json
from pathlib import Path

import pytest
import torch

from dynskip.config import compose_config
from dynskip.train import train

TINY_VSR = ["data=synthetic_vsr", "model.weights=null", "model.num_block=2", "debug=smoke"]
TINY_VFI = ["task=vfi", "model=rife", "data=synthetic_vfi", "model.weights=null", "debug=smoke"]


def run(overrides: list[str], out: Path) -> dict:
    return train(compose_config("train", overrides, out))


@pytest.mark.parametrize("overrides", [TINY_VSR, TINY_VFI], ids=["vsr", "vfi"])
def test_smoke_training_writes_metrics_and_checkpoint(overrides, tmp_path):
    metrics = run([*overrides, "trainer.max_steps=2", "trainer.val_check_interval=2"], tmp_path)
    assert metrics["global_step"] == 2
    assert "val/psnr" in metrics and "test/psnr" in metrics
    assert not [k for k in metrics if k.startswith("val/psnr/")]  # lone samples get no per-clip score
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["val/psnr"] == pytest.approx(metrics["val/psnr"])
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert any(k.startswith("model.") for k in ckpt["state_dict"])


def test_resume_continues_from_the_saved_step(tmp_path):
    base = [*TINY_VSR, "trainer.val_check_interval=2", "test=false"]
    run([*base, "trainer.max_steps=2"], tmp_path)
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2
    metrics = run([*base, "trainer.max_steps=4", "ckpt_path=last"], tmp_path)
    assert metrics["global_step"] == 4


def test_missing_dataset_root_fails_before_training(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data\.train\.root=/nonexistent/vimeo_triplet"):
        run(["task=vfi", "model=rife", "data=vimeo90k_triplet", "paths.data_dir=/nonexistent"], tmp_path)


def test_unknown_key_is_named(tmp_path):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match=r"trainer\.max_stepz"):
        compose_config("train", ["trainer.max_stepz=3"], tmp_path)
