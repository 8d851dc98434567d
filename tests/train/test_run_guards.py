"""Guards around a run: wrongly typed config values fail before anything runs, naming the key; every
shipped experiment and sweep passes the schema; resuming a finished run changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from dynskip.config import compose_config, config_dir
from dynskip.schema import check_types
from dynskip.train import train
from helpers.training import TINY_VSR


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("seed=abc", "seed='abc' (expected int)"),
        ("trainer.max_steps=ten", "trainer.max_steps='ten' (expected int)"),
        ("data.batch_size=two", "data.batch_size='two' (expected int)"),
        ("test=maybe", "test='maybe' (expected bool)"),
        ("test=no", "test='no' (expected bool)"),  # OmegaConf reads it as False, the run as true
        ("train=off", "train='off' (expected bool)"),
        (
            "callbacks.model_checkpoint.every_n_train_steps=x",
            "callbacks.model_checkpoint.every_n_train_steps='x'",
        ),
    ],
)
def test_wrong_type_fails_before_training_naming_the_key(override: str, named: str, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="wrong type") as err:
        train(compose_config("train", [*TINY_VSR, override], tmp_path))
    assert named in str(err.value)
    assert not any(tmp_path.iterdir())  # nothing ran, nothing was written


def test_train_false_with_a_checkpoint_is_refused(tmp_path: Path) -> None:
    cfg = compose_config("train", [*TINY_VSR, "train=false", "ckpt_path=run/last.ckpt"], tmp_path)
    with pytest.raises(
        ValueError, match=r"train=false with ckpt_path='run/last\.ckpt': test a checkpoint with"
    ):
        train(cfg)
    assert not any(tmp_path.iterdir())


def test_budget_type_is_checked(tmp_path: Path) -> None:
    cfg = compose_config("train", ["experiment=skipvsr_video", "model.budget=half"], tmp_path)
    with pytest.raises(TypeError, match=r"model\.budget='half'"):
        check_types(cfg)


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml")))
def test_shipped_experiments_fit_the_schema(experiment: str, tmp_path: Path) -> None:
    name = "eval" if experiment.startswith("rife_eval") else "train"
    check_types(compose_config(name, [f"experiment={experiment}"], tmp_path))


def test_resuming_a_finished_run_keeps_its_metrics(tmp_path: Path) -> None:
    overrides = [*TINY_VSR, "trainer.max_steps=2", "trainer.val_check_interval=2"]
    first = train(compose_config("train", overrides, tmp_path))
    written = (tmp_path / "metrics.json").read_text()
    again = train(compose_config("train", [*overrides, "ckpt_path=last"], tmp_path))
    assert again == first and (tmp_path / "metrics.json").read_text() == written
