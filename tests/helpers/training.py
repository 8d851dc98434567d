"""Tiny in-process training runs through Hydra compose (``dynskip.train.train``)."""

from __future__ import annotations

from pathlib import Path

from dynskip.config import compose_config
from dynskip.train import train

# BasicVSR with 2 residual blocks, random init, synthetic clips, smoke-sized trainer, no test stage.
TINY_VSR = ["data=synthetic_vsr", "model.weights=null", "model.num_block=2", "debug=smoke", "test=false"]


def train_tiny_vsr(out: Path, *overrides: str) -> dict[str, float]:
    """Train ``TINY_VSR`` plus ``overrides`` into ``out``; the run's metrics."""
    return train(compose_config("train", [*TINY_VSR, *overrides], out))
