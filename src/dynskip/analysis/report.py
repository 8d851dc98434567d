"""Sweep report: Pareto plot, markdown table of every job, mask gallery of the best job; with several
sweep folders or ``evaluate --json`` files, their fronts overlaid in one plot and one table each.

Reads only what each job left on disk (``.hydra/overrides.yaml``, ``metrics.json``, PNGs), so it
needs no logger and works on a sweep copied from a cluster.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dynskip.analysis.jobs import COST_KEYS, QUALITY_KEYS, SPEED_KEYS, Job, varying_overrides
from dynskip.analysis.pareto import pareto_front
from dynskip.analysis.plots import Panel, Series, image_gallery, pareto_figure
from dynskip.analysis.sources import Source, load_sources
from dynskip.utils.atomic import AtomicOutput, check_output

log = logging.getLogger(__name__)


@dataclass
class SourceFronts:
    """One source's compared keys, fronts, best job and left-out jobs."""

    source: Source
    quality_key: str | None
    cost_key: str | None
    speed_key: str | None
    front_cost: list[Job]
    front_speed: list[Job]
    best: Job | None
    left_out: dict[str, str]


@dataclass
class Report:
    """What :func:`write_report` wrote, and the numbers behind it. With several sources the job names
    in ``front_*`` and ``left_out`` read ``source: job``, the keys list each source's distinct keys and
    ``best`` is ``None`` (each source's best is in ``sources``)."""

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
    sources: list[SourceFronts] = field(default_factory=list)


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


def _series(
    jobs: Sequence[Job],
    quality: str | None,
    other: str | None,
    front: Sequence[Job],
    axes: Sequence[str],
    name: str | None = None,
) -> Series:
    scored = [
        j for j in jobs if quality and other and j.value(quality) is not None and j.value(other) is not None
    ]
    return Series(
        xs=[j.value(other) for j in scored],
        ys=[j.value(quality) for j in scored],
        labels=[job_label(j, axes) for j in scored],
        front=[scored.index(j) for j in front],
        name=name,
    )


def _panel(
    series: Sequence[Series], quality: str | None, other: str | None, title: str, xlabel: str
) -> Panel:
    empty = all(not s.xs for s in series)
    missing = f"no job reports both {quality or 'a quality metric'} and {other or xlabel}" if empty else None
    return Panel(
        title=title,
        xlabel=f"{xlabel} ({other})" if other else xlabel,
        ylabel=quality or "quality",
        series=series,
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
    level: int = 1,
) -> str:
    axes = varying_overrides(jobs)
    keys = _column_keys(jobs, quality, cost, speed)
    ok = [j for j in jobs if j.ok]
    lines = [
        f"{'#' * level} {title}",
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
        lines += ["", f"{'#' * (level + 1)} Left out of the fronts and the plot ({len(dropped)} jobs)", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in dropped.items()]
    lines += _seed_summary(ok, axes, [k for k in (quality, cost, speed) if k in keys], level + 1)
    return "\n".join(lines) + "\n"


def _seed_summary(jobs: Sequence[Job], axes: Sequence[str], keys: Sequence[str], level: int = 2) -> list[str]:
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
        f"{'#' * level} Mean ± std over seeds",
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


def analyse(
    source: Source, quality: str | Sequence[str], cost: str | Sequence[str], speed: str | Sequence[str]
) -> SourceFronts:
    """Resolve the compared keys among ``source``'s own jobs, then its fronts and best job."""
    ok = [j for j in source.jobs if j.ok]
    q_key, c_key, s_key = resolve_key(ok, quality), resolve_key(ok, cost), resolve_key(ok, speed)
    return SourceFronts(
        source,
        q_key,
        c_key,
        s_key,
        _front(ok, q_key, c_key, maximize_other=False),
        _front(ok, q_key, s_key, maximize_other=True),
        pick_best(ok, q_key, c_key),
        left_out(source.jobs, [q_key, c_key, s_key]),
    )


def _source_summary(fronts: SourceFronts) -> dict:
    jobs = fronts.source.jobs
    return {
        "name": fronts.source.name,
        "sweep_dir": str(fronts.source.paths[0]) if fronts.source.paths else None,
        "paths": [str(p) for p in fronts.source.paths],
        "quality_key": fronts.quality_key,
        "cost_key": fronts.cost_key,
        "speed_key": fronts.speed_key,
        "front_cost": [j.name for j in fronts.front_cost],
        "front_speed": [j.name for j in fronts.front_speed],
        "best": fronts.best.name if fronts.best else None,
        "left_out": fronts.left_out,
        "jobs": [
            {"name": j.name, "overrides": j.overrides, "metrics": j.metrics, "error": j.error} for j in jobs
        ],
    }


def _source_table(fronts: SourceFronts, title: str, level: int = 1) -> str:
    return markdown_table(
        fronts.source.jobs,
        fronts.quality_key,
        fronts.cost_key,
        fronts.speed_key,
        [j.name for j in fronts.front_cost],
        [j.name for j in fronts.front_speed],
        fronts.best,
        title,
        fronts.left_out,
        level,
    )


def _gallery(best: Job | None, out: Path) -> Path | None:
    if best is None:
        return None
    images = dict(best.mask_images())
    grid = best.output_grid()
    if grid is not None:
        images["output (input | prediction | target)"] = grid
    if not images:
        log.warning("best job %s saved no mask or output PNG: no gallery", best.name)
        return None
    return image_gallery(images, out / "mask_gallery.png", title=f"best job: {best.name}")


def _out_dir(inputs: Sequence[Path], out_dir: str | Path | None) -> Path:
    if out_dir is not None:
        return Path(out_dir)
    if len(inputs) == 1 and inputs[0].is_dir():
        return inputs[0] / "report"
    raise ValueError(
        f"an output folder is needed for {len(inputs)} inputs or an evaluate JSON file "
        "(--out DIR); only a single sweep folder defaults to SWEEP_DIR/report"
    )


def write_report(
    inputs: str | Path | Sequence[str | Path],
    out_dir: str | Path | None = None,
    quality: str | Sequence[str] = QUALITY_KEYS,
    cost: str | Sequence[str] = COST_KEYS,
    speed: str | Sequence[str] = SPEED_KEYS,
    overwrite: bool = False,
) -> Report:
    """Write ``pareto.png``, ``report.md``, ``summary.json`` and (one sweep) ``mask_gallery.png`` into
    ``out_dir`` (default, for one sweep folder: ``<sweep_dir>/report``). ``inputs``: sweep folders and
    ``evaluate --json`` files; several are overlaid, one series each. ``quality`` / ``cost`` / ``speed``
    are metric keys, or lists of keys of which the first that some job of a source reports is used.

    The folder appears whole or not at all (``dynskip.utils.atomic``); an earlier report in ``out_dir``
    is replaced only with ``overwrite``, and then only the files it wrote."""
    paths = [Path(inputs)] if isinstance(inputs, str | Path) else [Path(p) for p in inputs]
    sources = load_sources(paths)  # names a missing or malformed input first
    out = _out_dir(paths, out_dir)
    check_output(out, folder=True, overwrite=overwrite)  # before anything is written
    for source in sources:  # a report folder written inside a sweep is not one of its jobs
        source.jobs = [
            j for j in source.jobs if not (j.path.is_dir() and (j.path == out or out in j.path.parents))
        ]
    fronts = [analyse(source, quality, cost, speed) for source in sources]
    for f in fronts:
        for name, reason in f.left_out.items():
            log.warning("%s: job %s is left out of the fronts: %s", f.source.name, name, reason)
    with AtomicOutput(out, folder=True, overwrite=overwrite) as output:
        report = (
            _write_single(fronts[0], output.temp) if len(fronts) == 1 else _write_overlay(fronts, output.temp)
        )
    # The files were written under the temporary folder; name them where they now are.
    moved = {f: None if getattr(report, f) is None else out / getattr(report, f).name for f in _PATH_FIELDS}
    return dataclasses.replace(report, **moved)


_PATH_FIELDS = ("table", "pareto", "gallery", "summary")


def _write_single(f: SourceFronts, out: Path) -> Report:
    jobs, name = f.source.jobs, f.source.name
    ok = [j for j in jobs if j.ok]
    axes = varying_overrides(jobs)
    pareto = pareto_figure(
        [
            _panel(
                [_series(ok, f.quality_key, f.cost_key, f.front_cost, axes)],
                f.quality_key,
                f.cost_key,
                "quality vs cost",
                "GMACs / frame",
            ),
            _panel(
                [_series(ok, f.quality_key, f.speed_key, f.front_speed, axes)],
                f.quality_key,
                f.speed_key,
                "quality vs measured speed-up",
                "speed-up",
            ),
        ],
        out / "pareto.png",
        title=f"{name}: {len(ok)} jobs",
    )
    gallery = _gallery(f.best, out)
    table = out / "report.md"
    table.write_text(_source_table(f, f"Sweep report: {name}"))
    summary = out / "summary.json"
    summary.write_text(json.dumps(_source_summary(f), indent=2, default=str))
    names_cost, names_speed = [j.name for j in f.front_cost], [j.name for j in f.front_speed]
    return Report(
        jobs, f.quality_key, f.cost_key, f.speed_key, names_cost, names_speed, f.best, f.left_out,
        table, pareto, gallery, summary, [f],
    )  # fmt: skip


def _keys(fronts: Sequence[SourceFronts], attr: str) -> str | None:
    keys = list(dict.fromkeys(k for f in fronts if (k := getattr(f, attr))))
    return " | ".join(keys) if keys else None


def _write_overlay(fronts: Sequence[SourceFronts], out: Path) -> Report:
    """Every source's points and front in one plot (a colour each), one table section each."""
    cost_series, speed_series = [], []
    for f in fronts:
        ok, axes = [j for j in f.source.jobs if j.ok], varying_overrides(f.source.jobs)
        cost_series.append(_series(ok, f.quality_key, f.cost_key, f.front_cost, axes, f.source.name))
        speed_series.append(_series(ok, f.quality_key, f.speed_key, f.front_speed, axes, f.source.name))
    q_keys, c_keys, s_keys = (
        _keys(fronts, "quality_key"),
        _keys(fronts, "cost_key"),
        _keys(fronts, "speed_key"),
    )
    pareto = pareto_figure(
        [
            _panel(cost_series, q_keys, c_keys, "quality vs cost", "GMACs / frame"),
            _panel(speed_series, q_keys, s_keys, "quality vs measured speed-up", "speed-up"),
        ],
        out / "pareto.png",
        title=f"{len(fronts)} sources, filled markers on each one's front: "
        + ", ".join(f.source.name for f in fronts),
    )
    lines = [
        f"# Report: {len(fronts)} sources overlaid",
        "",
        "Each source's own front (its keys resolved among its own jobs); `pareto.png` draws them together.",
        "",
    ]
    for f in fronts:
        lines += [_source_table(f, f"{f.source.name} ({', '.join(map(str, f.source.paths))})", level=2), ""]
    table = out / "report.md"
    table.write_text("\n".join(lines))
    summary = out / "summary.json"
    summary.write_text(json.dumps({"sources": [_source_summary(f) for f in fronts]}, indent=2, default=str))

    def named(f: SourceFronts, jobs: Sequence[Job]) -> list[str]:
        return [f"{f.source.name}: {j.name}" for j in jobs]

    return Report(
        jobs=[j for f in fronts for j in f.source.jobs],
        quality_key=q_keys,
        cost_key=c_keys,
        speed_key=s_keys,
        front_cost=[n for f in fronts for n in named(f, f.front_cost)],
        front_speed=[n for f in fronts for n in named(f, f.front_speed)],
        best=None,
        left_out={f"{f.source.name}: {name}": why for f in fronts for name, why in f.left_out.items()},
        table=table,
        pareto=pareto,
        gallery=None,
        summary=summary,
        sources=list(fronts),
    )
