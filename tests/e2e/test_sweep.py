"""Sweep configs compose; a real 2-job multirun writes readable job folders that the report reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from dynskip.analysis import write_report
from dynskip.config import config_dir
from hydra_runs import run_train, searchpath_override, write_tiny_conf


def compose_with_hydra(overrides: list[str]) -> DictConfig:
    """The train config with its ``hydra`` node (sweeper, launcher), as a launch would see it."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # so ${hydra:...} resolves
    return cfg


@pytest.mark.parametrize(
    ("experiment", "task", "model"),
    [("skipvsr_video", "vsr", "skipvsr"), ("ugsp_rife_video", "vfi", "ugsp-rife")],
)
def test_budget_grid_composes_for_either_task(experiment: str, task: str, model: str) -> None:
    cfg = compose_with_hydra([f"experiment={experiment}", "sweep=budget_grid", "logger=wandb"])
    assert cfg.hydra.mode.name == "MULTIRUN"
    assert dict(cfg.hydra.sweeper.params) == {"model.budget": "0.3,0.5,0.7", "seed": "1,2"}
    assert cfg.hydra.runtime.choices.task == task and cfg.model.name == model
    assert {"skip_schedule", "skip_monitor", "mask_visualiser", "model_checkpoint"} <= set(cfg.callbacks)
    assert cfg.sweep_name == "budget_grid"
    wandb = cfg.logger.wandb
    assert wandb.group == "budget_grid"
    assert {task, model, f"budget{cfg.model.budget}"} <= set(wandb.tags)
    assert cfg.hydra.sweep._get_node("subdir")._value() == "${hydra.job.override_dirname}"


def test_optuna_pareto_composes() -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="the optuna extra is not installed")
    cfg = compose_with_hydra(["experiment=skipvsr_video", "sweep=optuna_pareto"])
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper")
    assert list(sweeper.direction) == ["maximize", "minimize"]
    assert sweeper.sampler._target_ == "optuna.samplers.NSGAIISampler"
    assert list(cfg.optimized_metric) == ["val/psnr", "val/skip/gmacs_actual"]
    assert "skip_monitor" in cfg.callbacks  # the monitor logs the cost the sweeper minimises


def test_slurm_launcher_composes() -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the slurm extra is not installed")
    cfg = compose_with_hydra(["experiment=skipvsr_video", "hydra/launcher=slurm", "trainer=ddp"])
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert launcher.tasks_per_node == launcher.gpus_per_node
    assert cfg.trainer.strategy.startswith("ddp")


def test_two_job_multirun_writes_readable_job_folders(tmp_path: Path) -> None:
    """`dynskip-train -m seed=1,2` in a real process: one folder per job, named by its override."""
    conf = write_tiny_conf(tmp_path / "conf")
    sweep = tmp_path / "sweep"
    run_train(
        ["-m", "experiment=tiny_vsr", "seed=1,2", searchpath_override(conf), f"hydra.sweep.dir={sweep}"],
        tmp_path,
    )
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["seed=1", "seed=2"]
    metrics = {}
    for seed in (1, 2):
        job = sweep / f"seed={seed}"
        assert yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()) == [
            "experiment=tiny_vsr",
            f"seed={seed}",
        ]
        metrics[seed] = json.loads((job / "metrics.json").read_text())
        assert metrics[seed]["global_step"] == 2 and "val/psnr" in metrics[seed]
        assert (job / "checkpoints" / "last.ckpt").is_file()
    assert metrics[1]["val/psnr"] != metrics[2]["val/psnr"]  # the seed reached the initialisation
    report = write_report(sweep)
    assert [j.name for j in report.jobs] == ["seed=1", "seed=2"] and report.quality_key == "val/psnr"


@pytest.mark.slow
def test_budget_sweep_of_a_skipping_model_and_its_report(tmp_path: Path) -> None:
    """sweep=budget_grid (2 budgets, 1 seed) on a tiny SkipVSR, then `dynskip report`."""
    conf = write_tiny_conf(tmp_path / "conf")
    sweep = tmp_path / "sweep"
    args = ["-m", "experiment=tiny_skipvsr", "sweep=budget_grid", "model.budget=0.2,0.8", "seed=1"]
    run_train([*args, searchpath_override(conf), f"hydra.sweep.dir={sweep}"], tmp_path)
    names = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert names == ["model.budget=0.2,seed=1", "model.budget=0.8,seed=1"]
    report = write_report(sweep)
    assert report.cost_key == "val/skip/gmacs_actual" and report.speed_key == "val/latency/speedup"
    assert all(job.ok for job in report.jobs) and report.front_cost
    for job in report.jobs:  # the schedule callback ran each job at its swept budget
        assert job.metrics["skip/budget"] == pytest.approx(job.overrides["model.budget"])
    assert report.pareto.is_file() and report.table.read_text().count("| `model.budget=") == 2
    assert report.gallery is not None and report.gallery.is_file()  # output grids at least


@pytest.mark.slow
def test_optuna_pareto_search_runs(tmp_path: Path) -> None:
    """sweep=optuna_pareto with the pinned optuna extra: 2 NSGA-II trials, each a job the report reads."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="the optuna extra is not installed")
    conf = write_tiny_conf(tmp_path / "conf")
    sweep = tmp_path / "sweep"
    args = ["experiment=tiny_skipvsr", "sweep=optuna_pareto", "hydra.sweeper.n_trials=2"]
    run_train([*args, searchpath_override(conf), f"hydra.sweep.dir={sweep}"], tmp_path)
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["name"] == "optuna" and results["solutions"]
    for solution in results["solutions"]:  # (PSNR, GMACs) per Pareto trial, from each job's metrics
        assert len(solution["values"]) == 2 and 0.15 <= solution["params"]["model.budget"] <= 0.9
    report = write_report(sweep)
    assert len(report.jobs) == 2 and all(job.ok for job in report.jobs)
    assert all(name.startswith("model.budget=") for name in (job.name for job in report.jobs))
