"""Training entry point (thin): compose config, instantiate, fit, test, write metrics.json.

dynskip-train experiment=basicvsr_reds
dynskip-train -m model.budget=0.3,0.5 seed=1,2      # a multirun sweep
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.loggers import WandbLogger

from dynskip.config import check_paths, config_search_path
from dynskip.schema import check_types
from dynskip.utils.atomic_checkpoint import newest_loadable_checkpoint, remove_stale_temporaries
from dynskip.utils.ddp_hydra import ddp_job_scope, pin_ddp_children_to_this_job
from dynskip.utils.extras import require_logger_extras
from dynskip.utils.instantiate import instantiate_group
from dynskip.utils.run_history import is_extra_rank, move_earlier_run, refuse_mixed_run
from dynskip.utils.wandb_mode import ensure_wandb_mode, finish_wandb

log = logging.getLogger(__name__)

WANDB_ID_FILE = "wandb_run_id"  # in the run folder: the W&B run a resumed job continues


def checkpoint_dir(cfg: DictConfig) -> Path:
    """The checkpoint callback's ``dirpath``, else ``<output_dir>/checkpoints``."""
    dirpath = OmegaConf.select(cfg, "callbacks.model_checkpoint.dirpath", default=None)
    return Path(dirpath) if dirpath else Path(cfg.paths.output_dir) / "checkpoints"


def resolve_ckpt_path(ckpt_path: str | None, checkpoints: Path) -> str | None:
    """``"last"`` -> the newest checkpoint in ``checkpoints`` that loads (``last.ckpt`` unless it is
    damaged; skipped ones are logged with the reason), a fresh start when there is none; or a path."""
    if ckpt_path in (None, ""):
        return None
    if ckpt_path == "last":
        if checkpoints.is_dir() and not is_extra_rank():
            remove_stale_temporaries(checkpoints)
        newest = newest_loadable_checkpoint(checkpoints) if checkpoints.is_dir() else None
        if newest is not None:
            log.info("resuming from %s", newest)
            return str(newest)
        log.info("ckpt_path=last but %s holds no checkpoint: starting fresh", checkpoints)
        return None
    if not Path(ckpt_path).is_file():
        raise FileNotFoundError(f"ckpt_path={ckpt_path} does not exist")
    return ckpt_path


def prepare_run_folder(cfg: DictConfig) -> None:
    """Keep one run per folder: resuming (``ckpt_path=last``) continues the run there, ``restart=true``
    moves an earlier run aside first, anything else is refused when the folder holds a run."""
    if is_extra_rank():  # DDP ranks re-run this job after the first rank has set the folder up
        return
    output_dir, checkpoints = Path(cfg.paths.output_dir), checkpoint_dir(cfg)
    ckpt_path = cfg.get("ckpt_path")
    # A checkpoint of this folder's own run, by name or as "last", continues that run.
    resuming = ckpt_path == "last" or (
        bool(ckpt_path) and Path(ckpt_path).resolve().parent == checkpoints.resolve()
    )
    if cfg.get("restart", False):
        if resuming:
            raise ValueError(
                f"restart=true with ckpt_path={ckpt_path}: resume the run or start it over, not both"
            )
        move_earlier_run(output_dir, checkpoints)
    elif not resuming:
        refuse_mixed_run(output_dir, checkpoints)


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        if (isinstance(value, torch.Tensor) and value.numel() == 1) or isinstance(value, int | float):
            out[key] = float(value)
    return out


def write_metrics(trainer: pl.Trainer, output_dir: Path, metrics: dict[str, float]) -> None:
    """``metrics.json`` in the run folder (rank zero only), so analysis needs no logger."""
    if trainer.is_global_zero:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))


def wandb_resume_id(ckpt_path: str | None) -> str | None:
    """The W&B run id that the run owning ``ckpt_path`` (``RUN/checkpoints/*.ckpt``) logged to, if known."""
    if ckpt_path is None:
        return None
    path = Path(ckpt_path).resolve().parent.parent / WANDB_ID_FILE
    if not path.is_file():
        return None
    return path.read_text().strip() or None


def build_components(
    cfg: DictConfig, wandb_id: str | None = None
) -> tuple[pl.LightningDataModule, pl.LightningModule, pl.Trainer]:
    """Everything a run needs, instantiated from ``cfg``; config errors surface here, before fitting.

    ``wandb_id``: continue that W&B run (a resumed job) instead of starting a new one.
    """
    check_paths(cfg)
    require_logger_extras(cfg.get("logger"))
    wandb_cfg = (cfg.get("logger") or {}).get("wandb")
    if wandb_cfg is not None:
        ensure_wandb_mode()
        if wandb_id is not None:
            with open_dict(cfg):
                wandb_cfg.id, wandb_cfg.resume = wandb_id, "allow"
    datamodule = hydra.utils.instantiate(cfg.data)
    model = hydra.utils.instantiate(cfg.model)
    task = hydra.utils.instantiate(cfg.task, model=model, _convert_="partial")
    callbacks = instantiate_group(cfg.get("callbacks"), "callback")
    loggers = instantiate_group(cfg.get("logger"), "logger")
    trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
        if isinstance(logger, WandbLogger) and trainer.is_global_zero:
            # Remembered in the run folder, so `ckpt_path=last` continues this W&B run.
            output_dir = Path(cfg.paths.output_dir)
            output_dir.mkdir(parents=True, exist_ok=True)
            (output_dir / WANDB_ID_FILE).write_text(str(logger.version))
    return datamodule, task, trainer


def finished_metrics(output_dir: Path, max_steps: int | None) -> dict[str, float] | None:
    """The saved metrics of a run that already reached ``max_steps``, else ``None``.

    Resuming such a run (a sweep re-launched with ``ckpt_path=last``) would fit no step, validate
    nothing and overwrite ``metrics.json`` with less; it is skipped instead.
    """
    path = output_dir / "metrics.json"
    if max_steps is None or max_steps < 0 or not path.is_file():
        return None
    metrics = json.loads(path.read_text())
    return metrics if metrics.get("global_step", -1) >= max_steps else None


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit (and test) the configured task; returns and writes the final scalar metrics."""
    check_types(cfg)
    if not cfg.get("train", True) and cfg.get("ckpt_path"):
        # Without training the checkpoint would never be loaded: the test would score fresh weights.
        raise ValueError(
            f"train=false with ckpt_path={cfg.ckpt_path!r}: test a checkpoint with dynskip-eval "
            "ckpt_path=..., or drop ckpt_path"
        )
    output_dir = Path(cfg.paths.output_dir)
    prepare_run_folder(cfg)
    ckpt_path = (
        resolve_ckpt_path(cfg.get("ckpt_path"), checkpoint_dir(cfg)) if cfg.get("train", True) else None
    )
    if ckpt_path is not None and (done := finished_metrics(output_dir, cfg.trainer.get("max_steps"))):
        log.info("%s already reached max_steps=%s: nothing to resume", output_dir, cfg.trainer.max_steps)
        return done
    pl.seed_everything(cfg.seed, workers=True)
    wandb_id = wandb_resume_id(ckpt_path)
    if wandb_id is not None:
        log.info("continuing W&B run %s", wandb_id)
    datamodule, task, trainer = build_components(cfg, wandb_id)
    try:
        if cfg.get("train", True):
            trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        metrics = scalar_metrics(trainer.callback_metrics)
        if cfg.get("test", False) and datamodule.has_test():
            trainer.test(task, datamodule=datamodule)
            metrics.update(scalar_metrics(trainer.callback_metrics))
        metrics["global_step"] = float(trainer.global_step)
        write_metrics(trainer, output_dir, metrics)
        return metrics
    finally:
        finish_wandb()


@hydra.main(version_base="1.3", config_path=config_search_path(), config_name="train")
def main(cfg: DictConfig) -> float | None:
    pin_ddp_children_to_this_job()  # trainer=ddp in a multirun: extra ranks re-run this job only
    with ddp_job_scope():
        metrics = train(cfg)
    # Optimisation target for Hydra sweepers (e.g. Optuna); named by `optimized_metric`.
    target = cfg.get("optimized_metric")
    if target is None:
        return None
    names = [target] if isinstance(target, str) else list(target)
    missing = [name for name in names if name not in metrics]
    if missing:  # a sweeper given None fails obscurely; name the key and what the job did report
        raise KeyError(f"optimized_metric {missing} is not among this job's metrics: {sorted(metrics)}")
    return metrics[target] if isinstance(target, str) else tuple(metrics[name] for name in names)


if __name__ == "__main__":
    main()
