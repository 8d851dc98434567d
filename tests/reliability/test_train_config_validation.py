"""Typed config keys are checked before any work: a wrong type or a value out of range stops the run
at once, naming the key, the value and what it expects, with nothing written to the run folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from dynskip.config import compose_config
from dynskip.train import train
from helpers.training import TINY_VSR


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("task.lr=abc", "task.lr='abc' (expected float)"),
        ("task.lr=1e-4x", "task.lr='1e-4x' (expected float)"),
        ("trainer.val_check_interval=often", "trainer.val_check_interval='often'"),
    ],
)
def test_wrong_type_is_refused_naming_the_key(override: str, named: str, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="wrong type") as err:
        train(compose_config("train", [*TINY_VSR, override], tmp_path))
    assert named in str(err.value)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("task.lr=-1e-4", "task.lr=-0.0001 (expected >= 0)"),
        ("trainer.max_steps=-5", "trainer.max_steps=-5 (expected >= -1)"),
        ("trainer.val_check_interval=0", "trainer.val_check_interval=0 (expected > 0)"),
        ("trainer.log_every_n_steps=0", "trainer.log_every_n_steps=0 (expected >= 1)"),
        ("data.batch_size=0", "data.batch_size=0 (expected >= 1)"),
        ("data.num_workers=-2", "data.num_workers=-2 (expected >= 0)"),
        ("model.num_block=-1", "model.num_block=-1 (expected >= 1)"),
        ("seed=-3", "seed=-3 (expected in [0, 4.29497e+09])"),
        ("callbacks.model_checkpoint.save_top_k=-2", "callbacks.model_checkpoint.save_top_k=-2"),
    ],
)
def test_value_out_of_range_is_refused_naming_the_key(override: str, named: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="out of range") as err:
        train(compose_config("train", [*TINY_VSR, override], tmp_path))
    assert named in str(err.value)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("model.threshold=-0.1", "model.threshold=-0.1 (expected in [0, 1])"),
        ("model.threshold=1.5", "model.threshold=1.5 (expected in [0, 1])"),
        ("model.budget=2", "model.budget=2 (expected in [0, 1])"),
        ("model.temperature=0", "model.temperature=0 (expected > 0)"),
    ],
)
def test_skipping_knobs_out_of_range_are_refused(override: str, named: str, tmp_path: Path) -> None:
    cfg = compose_config("train", ["experiment=skipvsr_video", override], tmp_path)
    with pytest.raises(ValueError, match="out of range") as err:
        train(cfg)
    assert named in str(err.value)
    assert not any(tmp_path.iterdir())


def test_every_bad_key_is_named_at_once(tmp_path: Path) -> None:
    cfg = compose_config("train", [*TINY_VSR, "task.lr=-1.0", "data.batch_size=0"], tmp_path)
    with pytest.raises(ValueError) as err:
        train(cfg)
    assert "task.lr=-1.0" in str(err.value) and "data.batch_size=0" in str(err.value)


def test_lightning_conventions_stay_allowed(tmp_path: Path) -> None:
    """-1 steps means no limit, 0 step checkpoints means none, a float interval is a fraction."""
    from dynskip.schema import check_types

    overrides = [
        *TINY_VSR,
        "trainer.max_steps=-1",
        "trainer.max_epochs=1",
        "trainer.val_check_interval=0.5",
        "callbacks.model_checkpoint.every_n_train_steps=0",
        "callbacks.model_checkpoint.save_top_k=-1",
    ]
    check_types(compose_config("train", overrides, tmp_path))
