"""A run folder holds one run: a new run into a folder with another run's files is refused, unless it
resumes that run (``ckpt_path=last``) or starts over (``restart=true``), which moves the earlier run's
files aside, never deleting them.

Without this, Lightning wrote the new run's ``last-v1.ckpt`` next to the old ``last.ckpt``, the CSV
log and ``metrics.json`` were replaced, and ``ckpt_path=last`` would later resume the old run.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

# What a training run leaves in its output folder (Hydra's .hydra/ and the job log are Hydra's own).
RUN_FILES = ("checkpoints", "csv", "tensorboard", "wandb", "metrics.json", "wandb_run_id")
RESTARTED_DIR = "restarted"  # restart=true moves an earlier run to <output_dir>/restarted/<time>/


# Set by Lightning's DDP launcher, torchrun, SLURM (srun) and LSF for each process of a job.
_RANK_VARS = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def is_extra_rank() -> bool:
    """True in a DDP process other than the first: only the first checks and moves the folder (the
    others would see what it already wrote, or race it)."""
    return any(int(os.environ.get(var) or 0) > 0 for var in _RANK_VARS)


def _holds_something(path: Path) -> bool:
    return path.is_file() or (path.is_dir() and any(path.iterdir()))


def earlier_run_files(output_dir: Path, checkpoint_dir: Path) -> list[Path]:
    """The files and folders an earlier run left: checkpoints, logs, metrics (empty folders ignored)."""
    found = [output_dir / name for name in RUN_FILES if _holds_something(output_dir / name)]
    if checkpoint_dir != output_dir / "checkpoints" and any(checkpoint_dir.glob("*.ckpt")):
        found.append(checkpoint_dir)
    return found


def refuse_mixed_run(output_dir: Path, checkpoint_dir: Path) -> None:
    """Raise ``FileExistsError`` when ``output_dir`` holds another run, naming it and the ways out."""
    found = earlier_run_files(output_dir, checkpoint_dir)
    if found:
        raise FileExistsError(
            f"{output_dir} already holds a training run ({', '.join(p.name for p in found)}); a new run "
            "there would mix with it. Resume it with ckpt_path=last, start over with restart=true (moves "
            f"those to {output_dir / RESTARTED_DIR}/<time>/, deletes nothing), or choose another "
            "folder with hydra.run.dir=..."
        )


def _archive_dir(output_dir: Path) -> Path:
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    for n in range(1000):  # two restarts within a second get their own folders
        candidate = output_dir / RESTARTED_DIR / (stamp if n == 0 else f"{stamp}_{n}")
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a fresh folder under {output_dir / RESTARTED_DIR}")


def move_earlier_run(output_dir: Path, checkpoint_dir: Path) -> Path | None:
    """``restart=true``: move the earlier run's files into ``<output_dir>/restarted/<time>/``, logging
    each move; returns that folder (``None`` when there was nothing to move)."""
    found = earlier_run_files(output_dir, checkpoint_dir)
    if not found:
        return None
    archive = _archive_dir(output_dir)
    for path in found:
        target = archive / path.name
        path.rename(target)  # same folder tree: a rename, nothing copied or deleted
        log.warning("restart=true: moved the earlier run's %s to %s", path, target)
    return archive
