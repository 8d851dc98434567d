"""A built wheel works without the source tree: it carries every Hydra yaml, installs without `-e` into a
fresh venv (no system site-packages: a missing file or undeclared dependency shows), and its commands
run from another folder. Needs the package index (torch from its local wheel); about a minute."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from dynskip.config import config_dir

REPO = Path(__file__).resolve().parents[2]


def run(cmd: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH / DYNSKIP_CONF: the installed wheel alone must serve the command.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "DYNSKIP_CONF", "VIRTUAL_ENV"}}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def check(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (
        f"{' '.join(proc.args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


def build_wheel(tmp_path: Path) -> Path:
    """Build from a copy holding only what the sdist would, so no build folder lands in the checkout."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(REPO / "src", source / "src", ignore=ignore)
    dist = tmp_path / "dist"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    check(run([*pip_wheel, "-w", str(dist), str(source)], tmp_path))
    (wheel,) = dist.glob("dynskip-*.whl")
    return wheel


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_tree(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    shipped = {p.relative_to(config_dir()).as_posix() for p in config_dir().rglob("*.yaml")}
    with zipfile.ZipFile(wheel) as archive:
        packed = {
            n.removeprefix("dynskip/conf/") for n in archive.namelist() if n.startswith("dynskip/conf/")
        }
    assert shipped and shipped <= packed, f"yaml missing from the wheel: {sorted(shipped - packed)}"

    venv = tmp_path / "venv"
    check(run([sys.executable, "-m", "venv", str(venv)], tmp_path))
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    # The torch running this test (the local CPU wheel) first, so the install pulls no other build.
    check(run([*pip, f"torch=={torch.__version__.split('+')[0]}"], tmp_path))
    check(run([*pip, str(wheel)], tmp_path))

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    bin_dir = venv / "bin"
    job = check(run([str(bin_dir / "dynskip-train"), "--cfg", "job"], outside))
    assert "task_name: train" in job and "_target_: pytorch_lightning.Trainer" in job
    gpu = check(
        run(
            [str(bin_dir / "dynskip-train"), "experiment=skipvsr_video", "trainer=gpu", "--cfg", "job"],
            outside,
        )
    )
    assert "accelerator: gpu" in gpu
    models = check(run([str(bin_dir / "dynskip"), "models"], outside))
    assert {"basicvsr", "rife", "skipvsr", "ugsp-rife"} <= {
        line.split()[0] for line in models.splitlines() if line
    }
    # The wheel's own dependencies leave wandb out; logger=wandb then names the extra.
    no_wandb = run([str(bin_dir / "dynskip-train"), "logger=wandb", "hydra.run.dir=run"], outside)
    assert no_wandb.returncode != 0 and "pip install 'dynskip[wandb]'" in no_wandb.stderr + no_wandb.stdout
    assert not (outside / "run" / "wandb").exists()
