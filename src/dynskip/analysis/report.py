"""Sweep report: Pareto plot, markdown table of every job, mask gallery of the best job.

Reads only what each job left on disk (``.hydra/overrides.yaml``, ``metrics.json``, PNGs), so it
needs no logger and works on a sweep copied from a cluster.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dynskip.analysis.jobs import COST_KEYS, QUALITY_KEYS, SPEED_KEYS, Job, load_sweep, varying_overrides
from dynskip.analysis.pareto import pareto_front
from dynskip.analysis.plots import Panel, image_gallery, pareto_figure
from dynskip.utils.atomic import AtomicOutput, check_output

log = logging.getLogger(__name__)


@dataclass
class Report:
    """What :func:`write_report` wrote, and the numbers behind it."""

    jobs: list[Job]
    quality_key: str | None
    cost_key: str | None
    speed_key: str | None
    front_cost: list[str]  # job names on the quality-vs-cost front
    front_speed: list[str]  # job names on the quality-vs-speed-up front
    best: Job | None
    left_out: dict[str, str]  # job name -> why it is on neither front nor in the plot
    table: Path
    pareto: Path
    gallery: Path | None
    summary: Path


def resolve_key(jobs: Sequence[Job], keys: str | Sequence[str]) -> str | None:
    """The first of ``keys`` that some job reports (so every job is compared on the same metric)."""
    for key in [keys] if isinstance(keys, str) else keys:
        if any(job.value(key) is not None for job in jobs):
            return key
    return None


def job_label(job: Job, axes: Sequence[str]) -> str:
    """Short point label from the swept overrides: ``budget=0.3 seed=1``."""
    parts = [f"{key.rsplit('.', 1)[-1]}={job.overrides.get(key)}" for key in axes]
    return " ".join(parts) or job.name


def left_out(jobs: Sequence[Job], keys: Sequence[str | None]) -> dict[str, str]:
    """Jobs that cannot be placed on a front, each with the reason: no ``metrics.json``, or a missing
    metric. Named in the report so that a job lost to a crash or a skipped test stage is not silently
    absent from the plot."""
    reasons: dict[str, str] = {}
    for job in jobs:
        if not job.ok:
            reasons[job.name] = job.error or "no metrics"
            continue
        missing = [key for key in keys if key and job.value(key) is None]
        if missing:
            reasons[job.name] = "metrics.json lacks " + ", ".join(f"`{key}`" for key in missing)
    return reasons


def _front(jobs: Sequence[Job], quality: str | None, other: str | None, maximize_other: bool) -> list[Job]:
    if not (quality and other):
        return []
    scored = [(j, (j.value(quality), j.value(other))) for j in jobs]
    scored = [(j, p) for j, p in scored if None not in p]
    front = pareto_front([p for _, p in scored], (True, maximize_other))
    return [scored[i][0] for i in front]


def _panel(
    jobs: Sequence[Job],
    quality: str | None,
    other: str | None,
    front: Sequence[Job],
    title: str,
    xlabel: str,
    axes: Sequence[str],
) -> Panel:
    scored = [
        j for j in jobs if quality and other and j.value(quality) is not None and j.value(other) is not None
    ]
    missing = None if scored else f"no job reports both {quality or 'a quality metric'} and {other or xlabel}"
    return Panel(
        title=title,
        xlabel=f"{xlabel} ({other})" if other else xlabel,
        ylabel=quality or "quality",
        xs=[j.value(other) for j in scored],
        ys=[j.value(quality) for j in scored],
        labels=[job_label(j, axes) for j in scored],
        front=[scored.index(j) for j in front],
        missing=missing,
    )


def pick_best(jobs: Sequence[Job], quality: str | None, cost: str | None) -> Job | None:
    """Highest quality; ties go to the cheaper job."""
    scored = [j for j in jobs if quality and j.value(quality) is not None]
    if not scored:
        return None
    return max(scored, key=lambda j: (j.value(quality), -(j.value(cost) or 0.0) if cost else 0.0))


def _fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _override(value: object) -> str:
    return "—" if value is None else str(value)  # as typed on the command line, not rounded


def _column_keys(jobs: Sequence[Job], quality: str | None, cost: str | None, speed: str | None) -> list[str]:
    stage = quality.split("/", 1)[0] if quality and "/" in quality else "val"
    wanted = [
        quality,
        f"{stage}/ssim",
        cost,
        "val/skip/density",
        "val/skip/macs_saved_fraction",
        speed,
        "val/latency/sparse_ms",
        "global_step",
    ]
    keys = list(dict.fromkeys(k for k in wanted if k))
    return [k for k in keys if any(j.value(k) is not None for j in jobs)]


def markdown_table(
    jobs: Sequence[Job],
    quality: str | None,
    cost: str | None,
    speed: str | None,
    front_cost: Sequence[str],
    front_speed: Sequence[str],
    best: Job | None,
    title: str,
    dropped: dict[str, str] | None = None,
) -> str:
    axes = varying_overrides(jobs)
    keys = _column_keys(jobs, quality, cost, speed)
    ok = [j for j in jobs if j.ok]
    lines = [
        f"# {title}",
        "",
        f"{len(jobs)} jobs, {len(ok)} with metrics.json. Quality `{quality}`, "
        f"cost `{cost}` (GMACs per frame), speed-up `{speed}` (dense / sparse latency).",
        "Front: `C` on the quality-vs-cost Pareto front, `S` on the quality-vs-speed-up front; "
        f"best job (highest quality): `{best.name if best else '—'}`.",
        "",
        "| job | " + " | ".join([*axes, *keys, "front"]) + " |",
        "|" + "---|" * (len(axes) + len(keys) + 2),
    ]
    for job in jobs:
        marks = ("C" if job.name in front_cost else "") + ("S" if job.name in front_speed else "")
        cells = [f"`{job.name}`", *(_override(job.overrides.get(a)) for a in axes)]
        if job.ok:
            cells += [_fmt(job.value(k), 0 if k == "global_step" else 3) for k in keys]
        elif keys:  # the reason goes in the first metric column
            cells += [job.error or "—", *[""] * (len(keys) - 1)]
        lines.append("| " + " | ".join([*cells, marks or ""]) + " |")
    if dropped:
        lines += ["", f"## Left out of the fronts and the plot ({len(dropped)} jobs)", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in dropped.items()]
    lines += _seed_summary(ok, axes, [k for k in (quality, cost, speed) if k in keys])
    return "\n".join(lines) + "\n"


def _seed_summary(jobs: Sequence[Job], axes: Sequence[str], keys: Sequence[str]) -> list[str]:
    """Mean ± sample std over seeds per configuration, when the sweep varies ``seed``. Each cell names
    how many seeds reported the metric; a single value gets no spread (a std of one run is not 0)."""
    if "seed" not in axes or not keys:
        return []
    group_axes = [a for a in axes if a != "seed"]
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        groups.setdefault(tuple(repr(job.overrides.get(a)) for a in group_axes), []).append(job)
    lines = [
        "",
        "## Mean ± std over seeds",
        "",
        "`n` counts the seeds that reported the metric; `seeds` counts the jobs with metrics.json.",
        "",
        "| " + " | ".join([*group_axes, "seeds", *keys]) + " |",
        "|" + "---|" * (len(group_axes) + 1 + len(keys)),
    ]
    for members in groups.values():
        cells = [_override(members[0].overrides.get(a)) for a in group_axes] + [str(len(members))]
        for key in keys:
            values = [v for v in (j.value(key) for j in members) if v is not None]
            if not values:
                cells.append("—")
                continue
            mean = statistics.fmean(values)
            if len(values) == 1:
                cells.append(f"{mean:.3f} (n=1)")
            else:
                cells.append(f"{mean:.3f} ± {statistics.stdev(values):.3f} (n={len(values)})")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_report(
    sweep_dir: str | Path,
    out_dir: str | Path | None = None,
    quality: str | Sequence[str] = QUALITY_KEYS,
    cost: str | Sequence[str] = COST_KEYS,
    speed: str | Sequence[str] = SPEED_KEYS,
    overwrite: bool = False,
) -> Report:
    """Write ``pareto.png``, ``report.md``, ``mask_gallery.png`` and ``summary.json`` into ``out_dir``
    (default ``<sweep_dir>/report``). ``quality`` / ``cost`` / ``speed`` are ``metrics.json`` keys, or
    lists of keys of which the first that some job reports is used.

    The folder appears whole or not at all (``dynskip.utils.atomic``); an earlier report in ``out_dir``
    is replaced only with ``overwrite``, and then only the files it wrote."""
    sweep_dir = Path(sweep_dir)
    out = Path(out_dir) if out_dir is not None else sweep_dir / "report"
    check_output(out, folder=True, overwrite=overwrite)  # before reading the sweep
    jobs = [j for j in load_sweep(sweep_dir) if out not in j.path.parents and j.path != out]
    with AtomicOutput(out, folder=True, overwrite=overwrite) as output:
        report = _write_report_files(jobs, sweep_dir, output.temp, quality, cost, speed)
    # The files were written under the temporary folder; name them where they now are.
    moved = {f: None if getattr(report, f) is None else out / getattr(report, f).name for f in _PATH_FIELDS}
    return dataclasses.replace(report, **moved)


_PATH_FIELDS = ("table", "pareto", "gallery", "summary")


def _write_report_files(
    jobs: list[Job],
    sweep_dir: Path,
    out: Path,
    quality: str | Sequence[str],
    cost: str | Sequence[str],
    speed: str | Sequence[str],
) -> Report:
    ok = [j for j in jobs if j.ok]
    q_key, c_key, s_key = resolve_key(ok, quality), resolve_key(ok, cost), resolve_key(ok, speed)
    front_cost = _front(ok, q_key, c_key, maximize_other=False)
    front_speed = _front(ok, q_key, s_key, maximize_other=True)
    axes = varying_overrides(jobs)
    pareto = pareto_figure(
        [
            _panel(ok, q_key, c_key, front_cost, "quality vs cost", "GMACs / frame", axes),
            _panel(ok, q_key, s_key, front_speed, "quality vs measured speed-up", "speed-up", axes),
        ],
        out / "pareto.png",
        title=f"{sweep_dir.name}: {len(ok)} jobs",
    )
    best = pick_best(ok, q_key, c_key)
    dropped = left_out(jobs, [q_key, c_key, s_key])
    for name, reason in dropped.items():
        log.warning("sweep job %s is left out of the fronts: %s", name, reason)
    gallery = None
    if best is not None:
        images = dict(best.mask_images())
        grid = best.output_grid()
        if grid is not None:
            images["output (input | prediction | target)"] = grid
        if images:
            gallery = image_gallery(images, out / "mask_gallery.png", title=f"best job: {best.name}")
        else:
            log.warning("best job %s saved no mask or output PNG: no gallery", best.name)
    names_cost, names_speed = [j.name for j in front_cost], [j.name for j in front_speed]
    table = out / "report.md"
    table.write_text(
        markdown_table(
            jobs,
            q_key,
            c_key,
            s_key,
            names_cost,
            names_speed,
            best,
            f"Sweep report: {sweep_dir.name}",
            dropped,
        )
    )
    summary = out / "summary.json"
    summary.write_text(
        json.dumps(
            {
                "sweep_dir": str(sweep_dir),
                "quality_key": q_key,
                "cost_key": c_key,
                "speed_key": s_key,
                "front_cost": names_cost,
                "front_speed": names_speed,
                "best": best.name if best else None,
                "left_out": dropped,
                "jobs": [
                    {"name": j.name, "overrides": j.overrides, "metrics": j.metrics, "error": j.error}
                    for j in jobs
                ],
            },
            indent=2,
            default=str,
        )
    )
    return Report(
        jobs, q_key, c_key, s_key, names_cost, names_speed, best, dropped, table, pareto, gallery, summary
    )
