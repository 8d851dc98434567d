"""`make gpu-check` (experiments/gpu_check.py): what it runs, how it records a step, and its refusal on a
machine without CUDA."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "gpu_check.py"
spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
gpu_check = importlib.util.module_from_spec(spec)
sys.modules["gpu_check"] = gpu_check  # dataclasses look their module up there
spec.loader.exec_module(gpu_check)


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(SCRIPT.parents[1] / "src"))
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env)


def test_the_plan_covers_the_gpu_paths(tmp_path: Path) -> None:
    commands = {step.name: " ".join(step.command) for step in gpu_check.plan_steps(tmp_path)}
    assert "-m cuda" in commands["cuda_tests"]
    for workload in ("basicvsr-trunk", "ugsp-decoder"):
        assert f"bench engine --workload {workload} --device cuda" in commands[f"engine_{workload}"]
    for model in ("ugsp-rife", "skipvsr-v2"):
        assert "--size 720x1280" in commands[f"model_{model}_720p"]
        assert (
            f"--model {model}" in commands[f"model_{model}_720p"]
            and "--device cuda" in commands[f"model_{model}_720p"]
        )
    for experiment in ("skipvsr_video", "ugsp_rife_video"):
        train = commands[f"train_{experiment}_bf16"]
        assert "trainer=gpu trainer.precision=bf16-mixed trainer.max_steps=20" in train
    assert sum(step.timeout_s for step in gpu_check.plan_steps(tmp_path)) < 15 * 60
    listed = run_script("--list", "--out", str(tmp_path))
    assert listed.returncode == 0 and listed.stdout.count("\n") == len(commands)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_without_cuda_it_says_so_and_writes_nothing(tmp_path: Path) -> None:
    proc = run_script("--out", str(tmp_path / "gpu"))
    assert proc.returncode == 2
    assert "sees no CUDA device, so nothing was run or written" in proc.stderr
    assert not (tmp_path / "gpu").exists()


def test_a_step_records_its_status_result_and_log(tmp_path: Path) -> None:
    result = tmp_path / "r.json"
    done = {"global_step": 20, "train/loss": 0.1, "val/psnr": 29.0}
    write = f"import json; json.dump({done!r}, open({str(result)!r}, 'w'))"
    ok = gpu_check.run_step(
        gpu_check.Step("ok", [sys.executable, "-c", write], 30, result, gpu_check.trained_all_steps),
        tmp_path,
        30,
    )
    assert ok["ok"] and ok["error"] is None and ok["result"] == done
    assert ok["returncode"] == 0 and (tmp_path / "ok.log").is_file()

    assert gpu_check.trained_all_steps({**done, "global_step": 7}) == "global_step is 7, expected 20"
    # What bf16-mixed SkipVSR training wrote on the CPU: it ran every step, but on NaN.
    nan = gpu_check.trained_all_steps({**done, "train/loss": float("nan")})
    assert nan == "not finite: train/loss=nan"
    assert gpu_check.trained_all_steps({"global_step": 20}) == "not finite: train/loss=None, val/psnr=None"

    fail = gpu_check.Step("fail", [sys.executable, "-c", "raise SystemExit('broken: no kernel')"], 30)
    failed = gpu_check.run_step(fail, tmp_path, 30)
    assert not failed["ok"] and failed["error"] == "exit status 1: broken: no kernel"

    missing = gpu_check.Step("missing", [sys.executable, "-c", "pass"], 30, tmp_path / "none.json")
    assert gpu_check.run_step(missing, tmp_path, 30)["error"].endswith("none.json was not written")

    slow = gpu_check.Step(
        "slow", [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)"], 30
    )
    timed_out = gpu_check.run_step(slow, tmp_path, 1)
    assert timed_out["error"] == "timed out after 1 s" and timed_out["returncode"] is None
    json.dumps([ok, failed, timed_out])  # every record goes into summary.json
