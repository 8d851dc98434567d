"""Sweep figures drawn with matplotlib's object API (no pyplot: no global backend, safe headless)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from PIL import Image

from dynskip.utils.atomic import atomic_file


@dataclass
class Series:
    """Points of one source: ``front`` indexes its Pareto-optimal points among ``xs`` / ``ys``;
    ``name`` labels it in the legend (``None``: a single unnamed series, drawn red and grey)."""

    xs: Sequence[float]
    ys: Sequence[float]
    labels: Sequence[str]
    front: Sequence[int]
    name: str | None = None


@dataclass
class Panel:
    """One scatter of one or more series, each with its own front."""

    title: str
    xlabel: str
    ylabel: str
    series: Sequence[Series]
    missing: str | None = None  # why the panel has no points (shown instead of the scatter)


def _draw_series(ax: Axes, series: Series, color: str | None) -> None:
    xs, ys = np.asarray(series.xs, dtype=float), np.asarray(series.ys, dtype=float)
    on_front = np.zeros(len(xs), dtype=bool)
    on_front[list(series.front)] = True
    front_color = color or "tab:red"
    ax.scatter(
        xs[~on_front],
        ys[~on_front],
        s=30,
        zorder=2,
        label="dominated" if color is None and on_front.sum() < len(xs) else None,
        **({"facecolors": "none", "edgecolors": color} if color else {"c": "0.6"}),
    )
    front_label = series.name if color else "Pareto front"
    ax.scatter(xs[on_front], ys[on_front], c=front_color, s=50, edgecolors="k", label=front_label, zorder=3)
    order = sorted(series.front, key=lambda i: xs[i])
    ax.plot(
        xs[order], ys[order], c=front_color, lw=1.2, drawstyle="steps-post" if len(order) > 1 else "default"
    )
    labelled: set[tuple[float, float]] = set()
    for x, y, label in zip(xs, ys, series.labels, strict=True):
        if (float(x), float(y)) in labelled:  # identical points (repeated dense baselines) share a label
            continue
        labelled.add((float(x), float(y)))
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)


def _draw(ax: Axes, panel: Panel) -> None:
    ax.set_title(panel.title)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    ax.grid(True, alpha=0.3)
    drawn = [series for series in panel.series if len(series.xs)]
    if not drawn:
        ax.text(
            0.5, 0.5, panel.missing or "no data", ha="center", va="center", transform=ax.transAxes, wrap=True
        )
        return
    overlay = len(panel.series) > 1 or panel.series[0].name is not None
    for i, series in enumerate(panel.series):  # a source keeps its colour in every panel
        if len(series.xs):
            _draw_series(ax, series, f"C{i % 10}" if overlay else None)
    ax.legend(loc="best", fontsize=8)


def pareto_figure(panels: Sequence[Panel], path: str | Path, title: str | None = None) -> Path:
    """Side-by-side Pareto panels saved as one PNG."""
    fig = Figure(figsize=(6.0 * len(panels), 4.5), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=True):
        _draw(ax, panel)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, dpi=120)


def image_gallery(images: dict[str, Path], path: str | Path, title: str | None = None) -> Path:
    """Stack PNGs (one ``[frame, map, overlay]`` row per mask) vertically, each under its name."""
    if not images:
        raise ValueError("image_gallery needs at least one image")
    arrays = {name: np.asarray(Image.open(p).convert("RGB")) for name, p in images.items()}
    width = 10.0
    heights = [width * a.shape[0] / a.shape[1] + 0.4 for a in arrays.values()]
    fig = Figure(figsize=(width, sum(heights) + (0.5 if title else 0.0)), layout="constrained")
    axes = fig.subplots(len(arrays), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, (name, array) in zip(axes, arrays.items(), strict=True):
        ax.imshow(array, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, dpi=100)


def save_figure(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Save ``fig`` as a PNG atomically (temporary in the same folder, renamed when complete), replacing
    ``path``: figures are refreshed by design, and an interrupted save leaves no truncated picture."""
    path = Path(path)
    with atomic_file(path, overwrite=True) as temp:
        fig.savefig(temp, dpi=dpi, format="png")
    return path
