"""A fabricated multirun folder, as `dynskip-train -m model.budget=... seed=...` leaves it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

# (budget, seed) -> (psnr, gmacs, speed-up): 0.5/seed 2 is dominated on both fronts.
JOBS = {
    (0.3, 1): (30.0, 1.0, 2.5),
    (0.5, 1): (31.0, 2.0, 1.8),
    (0.5, 2): (30.5, 2.1, 1.5),
    (0.7, 1): (32.0, 3.0, 1.2),
}


def fabricate_sweep(root: Path, failed: bool = True) -> Path:
    """A folder laid out as `dynskip-train -m model.budget=... seed=...` leaves it."""
    (root / "multirun.yaml").parent.mkdir(parents=True, exist_ok=True)
    (root / "multirun.yaml").write_text("hydra: {}\n")
    for (budget, seed), (psnr, gmacs, speedup) in JOBS.items():
        job = root / f"model.budget={budget},seed={seed}"
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(
            f"- experiment=skipvsr_video\n- model.budget={budget}\n- seed={seed}\n"
        )
        metrics = {
            "val/psnr": psnr - 0.1,
            "test/psnr": psnr,
            "test/ssim": 0.9,
            "val/skip/gmacs_actual": gmacs,
            "val/skip/density": budget,
            "val/latency/speedup": speedup,
            "global_step": 4.0,
        }
        (job / "metrics.json").write_text(json.dumps(metrics))
        images = job / "csv" / "images"
        images.mkdir(parents=True)
        for step in (2, 4):
            for name in ("forward_mask", "backward_mask"):
                pixels = np.full((8, 24, 3), 40 * step + int(budget * 100), np.uint8)
                Image.fromarray(pixels).save(images / f"val_skip_maps_{name}_step{step:07d}.png")
            Image.fromarray(np.zeros((8, 30, 3), np.uint8)).save(images / f"val_images_step{step:07d}.png")
    if failed:
        job = root / "model.budget=0.9,seed=1"
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(
            "- experiment=skipvsr_video\n- model.budget=0.9\n- seed=1\n"
        )
    return root
