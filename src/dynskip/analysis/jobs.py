"""The jobs of a multirun folder: their overrides, their ``metrics.json`` and their mask pictures.

A job is any folder below the sweep folder holding ``.hydra/overrides.yaml`` or ``metrics.json`` (the
contract written by :func:`dynskip.train.train`); a job without ``metrics.json`` failed or still runs.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# Metric keys tried in order when the caller names none: the test set when it ran, else validation,
# else an `evaluate --json` result's own keys. Cost and speed follow the same order, so that quality and
# cost come from the same stage.
QUALITY_KEYS: tuple[str, ...] = ("test/psnr", "val/psnr", "psnr")
COST_KEYS: tuple[str, ...] = ("test/skip/gmacs_actual", "val/skip/gmacs_actual", "gmacs_per_frame")
SPEED_KEYS: tuple[str, ...] = ("test/latency/speedup", "val/latency/speedup", "speedup")

# PNGs written by MaskVisualiserCallback through dynskip.utils.images.log_image.
_MASK_PNG = re.compile(r"^val_skip_maps_(?P<name>.+)_step(?P<step>\d+)\.png$")
_GRID_PNG = re.compile(r"^val_images_step(?P<step>\d+)\.png$")


def parse_override(text: str) -> tuple[str, object]:
    """``"model.budget=0.3"`` -> ``("model.budget", 0.3)``; ``+``/``++`` prefixes are dropped."""
    key, sep, value = text.partition("=")
    if not sep:
        return text.lstrip("~+"), None
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        parsed = value
    return key.lstrip("+"), parsed


@dataclass
class Job:
    """One multirun job: ``name`` is its folder relative to the sweep folder."""

    name: str
    path: Path
    overrides: dict[str, object] = field(default_factory=dict)
    metrics: dict[str, float] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.metrics is not None

    def value(self, keys: str | Sequence[str]) -> float | None:
        """The first of ``keys`` present (and finite) in ``metrics.json``, else ``None``."""
        for key in [keys] if isinstance(keys, str) else keys:
            value = (self.metrics or {}).get(key)
            if isinstance(value, int | float) and math.isfinite(value):
                return float(value)
        return None

    def images(self, pattern: re.Pattern[str]) -> dict[str, Path]:
        """Latest-step PNG per name among the job's PNGs matching ``pattern`` (W&B copies excluded)."""
        best: dict[str, tuple[int, Path]] = {}
        for png in sorted(self.path.rglob("*.png")):
            if "wandb" in png.relative_to(self.path).parts:
                continue
            match = pattern.match(png.name)
            if match is None:
                continue
            name, step = match.groupdict().get("name", "output"), int(match["step"])
            if name not in best or step > best[name][0]:
                best[name] = (step, png)
        return {name: path for name, (_, path) in sorted(best.items())}

    def mask_images(self) -> dict[str, Path]:
        return self.images(_MASK_PNG)

    def output_grid(self) -> Path | None:
        return next(iter(self.images(_GRID_PNG).values()), None)


def _read_job(path: Path, root: Path) -> Job:
    job = Job(name=str(path.relative_to(root)) if path != root else path.name, path=path)
    overrides = path / ".hydra" / "overrides.yaml"
    if overrides.is_file():
        items = yaml.safe_load(overrides.read_text()) or []
        job.overrides = dict(parse_override(str(item)) for item in items)
    metrics = path / "metrics.json"
    if not metrics.is_file():
        job.error = "no metrics.json (failed, killed or still running)"
        return job
    try:
        data = json.loads(metrics.read_text())
    except json.JSONDecodeError as err:
        job.error = f"unreadable metrics.json: {err}"
        return job
    if not isinstance(data, dict):
        job.error = f"metrics.json must hold a JSON object, got {type(data).__name__}"
        return job
    job.metrics = {k: float(v) for k, v in data.items() if isinstance(v, int | float)}
    return job


def _job_dirs(root: Path) -> Iterable[Path]:
    seen: set[Path] = set()
    for marker in [*root.rglob(".hydra/overrides.yaml"), *root.rglob("metrics.json")]:
        job = marker.parent.parent if marker.name == "overrides.yaml" else marker.parent
        if "wandb" in job.relative_to(root).parts or job in seen:
            continue
        seen.add(job)
        yield job


def load_sweep(sweep_dir: str | Path) -> list[Job]:
    """Every job below ``sweep_dir`` (a Hydra multirun folder), sorted by folder name."""
    root = Path(sweep_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"sweep folder {root} does not exist")
    jobs = [_read_job(path, root) for path in sorted(_job_dirs(root))]
    if not jobs:
        raise FileNotFoundError(
            f"no job found in {root}: expected sub-folders with .hydra/overrides.yaml or metrics.json "
            "(the sweep folder of a `dynskip-train -m ...` run)"
        )
    return jobs


def varying_overrides(jobs: Sequence[Job]) -> list[str]:
    """Override keys whose value differs between jobs (the swept axes), in first-seen order."""
    keys = list(dict.fromkeys(k for job in jobs for k in job.overrides))
    return [k for k in keys if len({repr(job.overrides.get(k)) for job in jobs}) > 1]
