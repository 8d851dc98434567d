"""Evaluation entry point (thin): the configured model (official weights or a trained checkpoint) on a
test set with the standard protocol.

    dynskip-eval model=rife data=vimeo90k_triplet
    dynskip-eval task=vsr model=basicvsr data=reds ckpt_path=path/to/last.ckpt
"""

from __future__ import annotations

from pathlib import Path

import hydra
import pytorch_lightning as pl
from omegaconf import DictConfig

from dynskip.config import config_search_path
from dynskip.evaluation.loading import RANDOM_WEIGHTS, RandomWeightsError, refuse_random_weights
from dynskip.schema import check_types
from dynskip.train import build_components, scalar_metrics, write_metrics
from dynskip.utils.wandb_mode import finish_wandb

HYDRA_REMEDY = (
    "Set model.weights=FILE or ckpt_path=FILE (a trained run), or allow_random_weights=true to run it "
    "untrained"
)


def weights_label(cfg: DictConfig) -> str | None:
    """``"random"`` when the configured model would be evaluated untrained and that is allowed; refused
    (:class:`RandomWeightsError`) when it is not allowed."""
    name, weights = cfg.model.get("name"), cfg.model.get("weights")
    if name is None or cfg.model.get("_target_") != "dynskip.models.build_model":
        return None  # not a registry model: its weights are the config's business
    try:
        refuse_random_weights(name, weights, cfg.get("ckpt_path"), HYDRA_REMEDY)
    except RandomWeightsError:
        allow = cfg.get("allow_random_weights", False)
        if not isinstance(allow, bool):  # "no" would read as true
            raise TypeError(f"allow_random_weights must be true or false, got {allow!r}") from None
        if not allow:
            raise
        return RANDOM_WEIGHTS
    return None


def evaluate(cfg: DictConfig) -> dict[str, float | str]:
    check_types(cfg)
    random_weights = weights_label(cfg)  # before any data or model is built
    pl.seed_everything(cfg.seed, workers=True)
    datamodule, task, trainer = build_components(cfg)
    try:
        ckpt = cfg.get("ckpt_path")
        trainer.test(task, datamodule=datamodule, ckpt_path=ckpt, weights_only=True if ckpt else None)
        metrics: dict[str, float | str] = dict(scalar_metrics(trainer.callback_metrics))
        if random_weights:
            metrics["weights"] = random_weights
        write_metrics(trainer, Path(cfg.paths.output_dir), metrics)
        return metrics
    finally:
        finish_wandb()


@hydra.main(version_base="1.3", config_path=config_search_path(), config_name="eval")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
