"""Inputs and checks shared by the reliability battery (imported by its test files)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from dynskip.cli.main import main
from dynskip.data.video import VideoWriter


def tiny_video(path: Path, frames: int = 6, size: tuple[int, int] = (16, 20), seed: int = 0) -> Path:
    """A short random-noise clip (video file or PNG folder, by ``path``'s suffix)."""
    rng = np.random.default_rng(seed)
    with VideoWriter(path, fps=10) as writer:
        for _ in range(frames):
            writer.write(rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return path


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below ``root`` (hidden ones included)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def leftovers(folder: Path) -> list[str]:
    """Temporary outputs still in ``folder`` (see ``dynskip.utils.atomic``)."""
    return sorted(p.name for p in folder.iterdir() if ".dynskip-tmp-" in p.name)


def cli_ok(argv: list[str]) -> None:
    """``main(argv)`` succeeds; ``--debug`` lets a failure show its own traceback, not just exit code 2."""
    assert main(["--debug", *argv]) == 0
