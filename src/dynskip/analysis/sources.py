"""What a report overlays: sweep folders (one series each) and ``dynskip evaluate --json`` results
(one series per evaluated model, plus one per dense baseline they were compared against).

A result is read into a :class:`Job` whose metrics carry the result's own keys (``psnr``,
``gmacs_per_frame``, ``speedup``), so the report's key lists find them after the sweep keys.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dynskip.analysis.jobs import Job, load_sweep

# Keys of a result that a report compares (the dense baseline runs at speed-up 1 by definition).
RESULT_KEYS: tuple[str, ...] = ("psnr", "ssim", "gmacs_per_frame", "speedup", "active_fraction")


@dataclass
class Source:
    """One series of points: ``name`` labels it in the plot and the table."""

    name: str
    jobs: list[Job]
    paths: list[Path] = field(default_factory=list)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _metrics(result: dict, keys: Sequence[str]) -> dict[str, float]:
    return {key: v for key in keys if (v := _number(result.get(key))) is not None}


def read_results(path: Path) -> list[dict]:
    """The result objects of an ``evaluate --json`` file (one object, or a list of them)."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None
    results = data if isinstance(data, list) else [data]
    for i, result in enumerate(results):
        if not (isinstance(result, dict) and _number(result.get("psnr")) is not None):
            where = f"{path}" if not isinstance(data, list) else f"{path}[{i}]"
            raise ValueError(
                f"{where}: expected a `dynskip evaluate --json` result (an object with a numeric psnr), "
                f"got {type(result).__name__}"
                + (f" with keys {sorted(result)[:8]}" if isinstance(result, dict) else "")
            )
    return results


def _result_jobs(path: Path, index: int, result: dict) -> tuple[str, Job, tuple[str, Job] | None]:
    """(series name, the model's point, (baseline series name, the dense point) or None)."""
    model = str(result.get("model") or path.stem)
    named = [result.get(k) for k in ("weights", "ckpt") if result.get(k)]
    series = model + (f" ({', '.join(map(str, named))})" if named else "")
    threshold = result.get("threshold")
    label = f"{path.stem}[{index}]" + ("" if threshold is None else f" threshold={threshold}")
    # The threshold labels a point in the plot; the file and index name it in the table.
    overrides = {} if threshold is None else {"threshold": threshold}
    job = Job(name=label, path=path, overrides=overrides, metrics=_metrics(result, RESULT_KEYS))
    dense = result.get("dense")
    if not isinstance(dense, dict) or _number(dense.get("psnr")) is None:
        return series, job, None
    dense_metrics = {**_metrics(dense, RESULT_KEYS), "speedup": 1.0}
    baseline = dense.get("baseline") or "every unit active"
    dense_job = Job(name=f"dense ({path.stem}[{index}])", path=path, metrics=dense_metrics)
    return series, job, (f"{model} dense ({baseline})", dense_job)


def load_results(paths: Sequence[Path]) -> list[Source]:
    """Every result of the ``evaluate --json`` files, grouped into one series per model (and weights)
    and one per dense baseline, in first-seen order."""
    sources: dict[str, Source] = {}

    def add(name: str, job: Job, path: Path) -> None:
        source = sources.setdefault(name, Source(name, []))
        source.jobs.append(job)
        if path not in source.paths:
            source.paths.append(path)

    for path in paths:
        for index, result in enumerate(read_results(path)):
            series, job, dense = _result_jobs(path, index, result)
            add(series, job, path)
            if dense is not None:
                add(*dense, path)
    return list(sources.values())


def load_sources(inputs: Sequence[str | Path]) -> list[Source]:
    """Sweep folders and ``evaluate --json`` files, in the order given (results grouped after the
    folders). A missing input, or one that is neither, fails naming it."""
    if not inputs:
        raise ValueError("report needs at least one sweep folder or evaluate JSON file")
    folders, files = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            folders.append(item)
        elif item.is_file() and item.suffix == ".json":
            files.append(item)
        elif item.exists():
            raise ValueError(f"{item}: expected a sweep folder or an evaluate .json file")
        else:
            raise FileNotFoundError(f"report input {item} does not exist")
    names = [folder.resolve().name for folder in folders]
    sources = [
        Source(name if names.count(name) == 1 else str(folder), load_sweep(folder), [folder])
        for folder, name in zip(folders, names, strict=True)
    ]
    return sources + load_results(files)
