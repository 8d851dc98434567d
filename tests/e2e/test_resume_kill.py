"""Kill a real training process mid-epoch, resume it with the same config plus ckpt_path=last: it goes
on from the last checkpoint with optimiser, scheduler, sparsity schedule and step counters restored,
and the CSV log keeps every row of both."""

from __future__ import annotations

import csv
import json
import subprocess
import time
from pathlib import Path

import pytest
import torch

from dynskip.skiptrain.schedules import BudgetSchedule
from hydra_runs import run_train, searchpath_override, train_command, train_env, write_tiny_conf

MAX_STEPS, EVERY, WARMUP, BUDGET = 28, 4, 40, 0.5  # MAX_STEPS % EVERY == 0: the end is saved too


def overrides(conf: Path, run_dir: Path) -> list[str]:
    return [
        "experiment=tiny_skipvsr",
        searchpath_override(conf),
        f"hydra.run.dir={run_dir}",
        f"model.budget={BUDGET}",
        f"trainer.max_steps={MAX_STEPS}",
        "trainer.val_check_interval=1000",  # no validation: only training and checkpoints
        f"callbacks.model_checkpoint.every_n_train_steps={EVERY}",
        f"callbacks.skip_schedule.budget_warmup_steps={WARMUP}",  # still warming up at the end
        "task.scheduler={_target_:torch.optim.lr_scheduler.StepLR,_partial_:true,step_size:7,gamma:0.9}",
    ]


def saved_step(ckpt: Path) -> int | None:
    try:
        return int(torch.load(ckpt, weights_only=True)["global_step"])
    except (FileNotFoundError, RuntimeError, EOFError):  # not written yet
        return None


def logged_train_steps(log: Path) -> list[int]:
    with log.open(newline="") as file:
        return [int(row["step"]) for row in csv.DictReader(file) if row.get("train/loss")]


def check_states(ckpt: Path, step: int) -> dict[int, int]:
    """Scheduler epochs and sparsity schedule as saved at ``step``; returns Adam's step per parameter."""
    state = torch.load(ckpt, weights_only=True)
    assert state["global_step"] == step
    assert state["lr_schedulers"][0]["last_epoch"] == step
    (schedule,) = [v for k, v in state["callbacks"].items() if k.startswith("SkipScheduleCallback")]
    assert schedule == {"budget_target": BUDGET}
    return {k: int(s["step"]) for k, s in state["optimizer_states"][0]["state"].items()}


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    conf, run_dir = write_tiny_conf(tmp_path / "conf"), tmp_path / "run"
    last = run_dir / "checkpoints" / "last.ckpt"
    proc = subprocess.Popen(
        train_command(*overrides(conf, run_dir)),
        cwd=tmp_path,
        env=train_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 400
        while (saved_step(last) or 0) < 2 * EVERY:
            assert proc.poll() is None, "the training process ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint after 400 s"
            time.sleep(0.1)
        proc.kill()  # SIGKILL mid-epoch (32 batches an epoch): no teardown, no final checkpoint
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    saved = saved_step(last)
    assert saved is not None and saved % EVERY == 0 and 2 * EVERY <= saved < MAX_STEPS
    assert not (run_dir / "metrics.json").exists()  # it really died before the end
    adam_at_kill = check_states(last, saved)

    resumed = run_train([*overrides(conf, run_dir), "ckpt_path=last"], tmp_path)
    log = resumed.stdout + resumed.stderr
    assert f"resuming from {last}" in log
    assert "Restored all states from the checkpoint" in log
    adam = check_states(last, MAX_STEPS)  # counted on from `saved`, not from zero
    # Adam's moments and step counts were restored: every parameter took exactly the remaining steps.
    assert adam == {k: n + MAX_STEPS - saved for k, n in adam_at_kill.items()}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["global_step"] == MAX_STEPS
    # Every row stays: the killed run's (up to the kill, past its checkpoint), then the resumed run's.
    steps = logged_train_steps(run_dir / "csv" / "metrics.csv")
    before_kill = len(steps) - (MAX_STEPS - saved)
    assert before_kill >= saved and steps == [*range(before_kill), *range(saved, MAX_STEPS)]
    # The budget warm-up went on from the restored step: its last value is the one of the last step.
    assert metrics["skip/budget"] == pytest.approx(BudgetSchedule(BUDGET, WARMUP)(MAX_STEPS - 1))
