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
from dynskip.schema import check_types
from dynskip.train import build_components, scalar_metrics, write_metrics
from dynskip.utils.wandb_mode import finish_wandb


def evaluate(cfg: DictConfig) -> dict[str, float]:
    check_types(cfg)
    pl.seed_everything(cfg.seed, workers=True)
    datamodule, task, trainer = build_components(cfg)
    try:
        ckpt = cfg.get("ckpt_path")
        trainer.test(task, datamodule=datamodule, ckpt_path=ckpt, weights_only=True if ckpt else None)
        metrics = scalar_metrics(trainer.callback_metrics)
        write_metrics(trainer, Path(cfg.paths.output_dir), metrics)
        return metrics
    finally:
        finish_wandb()


@hydra.main(version_base="1.3", config_path=config_search_path(), config_name="eval")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
