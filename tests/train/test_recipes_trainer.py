"""Every shipped recipe trains where the command line says: `trainer=gpu` gives a GPU trainer and
`trainer=ddp` GPU DDP, whatever the recipe's own (CPU-sized) trainer default is."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import pytest

from dynskip.config import compose_config, config_dir

EXPERIMENTS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))
SWEEPS = sorted(p.stem for p in (config_dir() / "sweep").glob("*.yaml"))
# Sized for this project's 2-core machine: they default to `trainer=cpu` (and say so in their defaults).
CPU_SIZED = {
    "experiment=demo",
    "experiment=skipvsr_video",
    "experiment=skipvsr_video_finetune",
    "experiment=skipvsr_v2_footage",
    "experiment=skipvsr_v2_footage_distill",
    "experiment=ugsp_rife_video",
    "experiment=ugsp_rife_video_mixed",
    "experiment=ugsp_rife_video_uncertainty",
    "experiment=ugsp_rife_video_finetune",
    "experiment=ugsp_rife_video_finetune_fresh",
    "experiment=ugsp_rife_video_finetune_sprites",
    "experiment=ugsp_rife_video_finetune_varied",
    "experiment=ugsp_rife_footage",
    "experiment=ugsp_rife_footage_uncertainty",
    "sweep=carphone_tiny",
}
# sweep=optuna_pareto needs the optuna extra's sweeper plugin to compose.
NEEDS_OPTUNA = pytest.mark.skipif(
    find_spec("hydra_plugins") is None or find_spec("hydra_plugins.hydra_optuna_sweeper") is None,
    reason="the optuna extra is not installed",
)
RECIPES = [f"experiment={name}" for name in EXPERIMENTS] + [
    pytest.param(f"sweep={name}", marks=NEEDS_OPTUNA) if "optuna" in name else f"sweep={name}"
    for name in SWEEPS
]


def compose_recipe(recipe: str, overrides: list[str], output_dir: Path):
    config_name = "eval" if recipe.startswith("experiment=rife_eval") else "train"
    return compose_config(config_name, [recipe, *overrides], output_dir)


def test_the_recipe_lists_are_current() -> None:
    names = {f"experiment={name}" for name in EXPERIMENTS} | {f"sweep={name}" for name in SWEEPS}
    assert names >= CPU_SIZED, sorted(CPU_SIZED - names)


@pytest.mark.parametrize("recipe", RECIPES)
def test_trainer_gpu_puts_every_recipe_on_the_gpu(recipe: str, tmp_path: Path) -> None:
    cfg = compose_recipe(recipe, ["trainer=gpu"], tmp_path)
    assert cfg.trainer.accelerator == "gpu", (
        f"{recipe} trainer=gpu composes accelerator={cfg.trainer.accelerator}"
    )
    assert cfg.trainer.devices == 1


@pytest.mark.parametrize("recipe", RECIPES)
def test_trainer_ddp_gives_gpu_ranks(recipe: str, tmp_path: Path) -> None:
    cfg = compose_recipe(recipe, ["trainer=ddp", "trainer.devices=4"], tmp_path)
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.devices == 4
    assert cfg.trainer.strategy.startswith("ddp") and "spawn" not in cfg.trainer.strategy


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipes_keep_their_default_trainer(recipe: str, tmp_path: Path) -> None:
    """Without `trainer=`, CPU-sized recipes stay on the CPU and the others leave the choice to Lightning."""
    expected = "cpu" if recipe in CPU_SIZED else "auto"
    assert compose_recipe(recipe, [], tmp_path).trainer.accelerator == expected
