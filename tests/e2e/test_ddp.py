"""2-process DDP on CPU (gloo, trainer=ddp_cpu) reports the same validation metrics as one process:
quality and the skipping monitor's sparsity / cost are torchmetrics states summed over the ranks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hydra_runs import run_train, searchpath_override, write_tiny_conf

# The shipped SkipVSR (trained estimators: the density differs per clip, so an unsynchronised mean
# over one rank's half of the validation set would differ) on 5 synthetic validation clips: an odd
# count, which torch's padding DistributedSampler would split as 3 + 3 with one clip counted twice.
# lr=0: both runs validate the very same weights after their one step; the check is the metric sync.
COMMON = [
    "experiment=skipvsr_video",
    "callbacks=skip",
    "data=synthetic_vsr",
    "data.batch_size=1",
    "data.val.num_samples=5",
    "data.train.augment.crop_size=64",
    "model.weights=reds4",
    "model.backbone=null",
    "task.lr=0",
    "trainer.max_steps=1",
    "trainer.val_check_interval=1",
    "trainer.limit_val_batches=1.0",
    "callbacks.skip_monitor.probe_repeats=1",
    "test=false",
]


def val_metrics(run_dir: Path) -> dict[str, float]:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if k.startswith("val/") and not k.startswith("val/latency/")}


@pytest.mark.slow
def test_ddp_on_cpu_matches_a_single_process(tmp_path: Path) -> None:
    run_train([*COMMON, "trainer=cpu", f"hydra.run.dir={tmp_path / 'single'}"], tmp_path)
    run_train([*COMMON, "trainer=ddp_cpu", f"hydra.run.dir={tmp_path / 'ddp'}"], tmp_path)
    single, ddp = val_metrics(tmp_path / "single"), val_metrics(tmp_path / "ddp")
    assert {"val/psnr", "val/skip/density", "val/skip/gmacs_actual"} <= set(single)
    assert set(ddp) == set(single)
    for key, value in single.items():
        assert ddp[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


@pytest.mark.slow
def test_ddp_subprocess_ranks_inside_a_multirun(tmp_path: Path) -> None:
    """trainer=ddp (Lightning starts rank 1 as a new `python -m dynskip.train`) in a 2-job multirun: each
    job trains with 2 ranks in its own folder; the extra ranks run their job, not the sweep again."""
    conf, sweep = write_tiny_conf(tmp_path / "conf"), tmp_path / "sweep"
    args = [
        "-m",
        "experiment=tiny_vsr",
        "seed=1,2",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
    ]
    proc = run_train([*args, searchpath_override(conf), f"hydra.sweep.dir={sweep}"], tmp_path)
    assert proc.stdout.count("Launching 2 jobs locally") == 1 and "Launching 1 jobs" not in proc.stdout
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == [
        "seed=1,trainer.accelerator=cpu,trainer.devices=2,trainer=ddp",
        "seed=2,trainer.accelerator=cpu,trainer.devices=2,trainer=ddp",
    ]
    for job in jobs:
        assert json.loads((job / "metrics.json").read_text())["global_step"] == 2
        assert (job / "train_ddp_process_1.log").is_file()  # rank 1 ran in the job's own folder
    assert not (tmp_path / "logs").exists()  # and nowhere else
