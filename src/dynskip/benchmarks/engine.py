"""Wall-clock benchmark of the tile engine against the dense network it replaces.

Workloads (batch 1, fp32, random tile masks with exactly ``round(fraction * tiles)`` active tiles per
sample, a fresh mask per block) are rows of :data:`WORKLOAD_SPECS`; a spec's ``kind`` picks the engine
entry (``"residual"``: a chain of residual blocks, ``"masked"``: a masked conv chain with a 1x1 head):

- ``"basicvsr-trunk"``: one BasicVSR propagation trunk's 30 ``ResidualBlockNoBN`` (conv3x3 64->64,
  ReLU, conv3x3), 64 x 180 x 320 features (a 720x1280 output frame at x4), residual skip.
- ``"ugsp-decoder"``: UGSP's 1/4-level decoder (``GLBlock`` with ``in_nf=148``) at 256x448 input,
  i.e. 148 x 64 x 112 features: ``conv_head`` (3x3 148->148, PReLU) + 5 x (3x3 148->148, PReLU),
  masked features, then ``conv_last`` 1x1 over the concatenation of the 6 outputs (888 -> 36).

Rows: ``fraction``, ``dense_s`` (the plain dense modules, channels-last, ``torch.no_grad``),
``sparse_s`` (engine forced sparse, plans built inside the timed call), ``auto_s`` (engine
``mode="auto"``: sparse, or dense above the cut-over), ``speedup`` = dense / auto, ``ideal`` =
1 / fraction, ``efficiency`` = speedup / ideal, ``sparse_speedup`` = dense / sparse. Dense, sparse
and auto runs are interleaved in one process, ``repeats`` rounds after a warm-up round; times are
medians, speed-ups medians of the per-round ratios.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from rich.progress import Progress
from torch import Tensor, nn

from dynskip.skip.engine import masked_chain, residual_skip_chain
from dynskip.skip.plan import TilePlan
from dynskip.skip.tiles import random_tile_mask, tile_grid_shape
from dynskip.utils.atomic import atomic_write_text
from dynskip.utils.checks import check_choice
from dynskip.utils.timing import interleaved_samples

__all__ = [
    "DEFAULT_TILE",
    "WORKLOADS",
    "WORKLOAD_SPECS",
    "WorkloadSpec",
    "format_table",
    "run_engine_bench",
    "write_bench_json",
]


@dataclass(frozen=True)
class WorkloadSpec:
    """One benchmark workload as data: the engine entry it runs, its features and its default tile.

    ``kind``: ``"residual"`` (``depth`` blocks conv3x3, ReLU, conv3x3 with a skip, through
    :func:`~dynskip.skip.engine.residual_skip_chain`) or ``"masked"`` (conv3x3 + PReLU, then ``depth``
    more, bias-free, masked features, then a 1x1 ``head_channels`` conv over the concatenation of all
    outputs, through :func:`~dynskip.skip.engine.masked_chain`). ``size`` is the feature ``(H, W)``.
    """

    kind: Literal["residual", "masked"]
    channels: int
    size: tuple[int, int]
    depth: int
    tile: int  # chosen by measurement (experiments/engine_bench.md, tile sweep)
    head_channels: int = 0
    shared_mask: bool = False  # one mask for every block (SkipVSR v2 decides per patch for a whole trunk)


WORKLOAD_SPECS: dict[str, WorkloadSpec] = {
    "basicvsr-trunk": WorkloadSpec("residual", channels=64, size=(180, 320), depth=30, tile=32),
    "ugsp-decoder": WorkloadSpec(
        "masked", channels=148, size=(64, 112), depth=5, tile=16, head_channels=4 + 32
    ),
    # SkipVSR v2's own execution: a trunk's 30 blocks under one patch mask, at the LR size of the
    # unseen bikes clip (272x640 output), at the model's patch since round 7 (8 px).
    "skipvsr-v2-trunk": WorkloadSpec(
        "residual", channels=64, size=(68, 160), depth=30, tile=8, shared_mask=True
    ),
}
WORKLOADS = tuple(WORKLOAD_SPECS)
DEFAULT_TILE = {name: spec.tile for name, spec in WORKLOAD_SPECS.items()}


def _residual_block_f(c: int) -> nn.Sequential:
    """BasicVSR ``ResidualBlockNoBN`` without its skip: conv3x3, ReLU, conv3x3."""
    return nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(), nn.Conv2d(c, c, 3, 1, 1))


class _Workload:
    """Modules, input and the three runs (dense, sparse, auto) of one benchmark workload."""

    def __init__(
        self,
        spec: WorkloadSpec,
        device: torch.device,
        tile: int,
        seed: int,
        size: tuple[int, int] | None = None,
        depth: int | None = None,
    ):
        torch.manual_seed(seed)
        self.kind, self.tile = spec.kind, tile
        c, (h, w), n = spec.channels, size or spec.size, depth or spec.depth
        if spec.kind == "residual":
            self.blocks = [_residual_block_f(c) for _ in range(n)]
            modules: list[nn.Module] = self.blocks
        else:
            self.layers = [nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.PReLU(c)]
            for _ in range(n):
                self.layers += [nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.PReLU(c)]
            self.head = nn.Conv2d(c * (n + 1), spec.head_channels, 1)
            modules = [*self.layers, self.head]
        for m in modules:
            m.to(device).eval().requires_grad_(False)
        if spec.kind == "residual":  # as BasicVSR's trunks hold them: no weight reorder per tile call
            for m in modules:
                m.to(memory_format=torch.channels_last)
        self.size = (h, w)
        self.x = torch.randn(1, c, h, w, device=device).contiguous(memory_format=torch.channels_last)
        self.units = len(self.blocks) if spec.kind == "residual" else 1
        self.shared_mask = spec.shared_mask

    def masks(self, fraction: float, gen: torch.Generator) -> list[Tensor]:
        grid = tile_grid_shape(*self.size, self.tile)
        if self.shared_mask:
            return [random_tile_mask(1, grid, fraction, gen, self.x.device)] * self.units
        return [random_tile_mask(1, grid, fraction, gen, self.x.device) for _ in range(self.units)]

    def dense(self) -> Tensor:
        x = self.x
        if self.kind == "residual":
            for block in self.blocks:
                x = x + block(x)
            return x
        outs = []
        for i in range(0, len(self.layers), 2):
            x = self.layers[i + 1](self.layers[i](x))
            outs.append(x)
        return self.head(torch.cat(outs, 1))

    def engine(self, masks: Sequence[Tensor], mode: str) -> Tensor:
        plans = [TilePlan.from_mask(m, self.tile, self.size) for m in masks]
        if self.kind == "residual":
            return residual_skip_chain(self.x, self.blocks, plans, mode)
        return masked_chain(self.x, self.layers, plans[0], mode, head=[self.head])


def run_engine_bench(
    workload: str = "basicvsr-trunk",
    fractions: Sequence[float] = (1.0, 0.75, 0.5, 0.25, 0.1),
    repeats: int = 3,
    device: str | torch.device = "cpu",
    tile: int | None = None,
    seed: int = 0,
    size: tuple[int, int] | None = None,
    depth: int | None = None,
    clock: str = "wall",
) -> list[dict]:
    """Time dense vs. engine at each active fraction; one row per fraction (see the module doc).

    ``size`` (feature ``H, W``) and ``depth`` (residual blocks; decoder convs after ``conv_head``)
    shrink a workload for quick runs; ``None`` keeps the defaults above. ``clock``: ``"wall"``, or
    ``"cpu"`` (this process's CPU time, CPU device with one torch thread only), which a machine
    shared with other jobs disturbs far less than wall time.
    """
    if workload not in WORKLOADS:
        raise ValueError(f"workload must be one of {WORKLOADS}, got {workload!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
    if not fractions or not all(0.0 < f <= 1.0 for f in fractions):
        raise ValueError(f"fractions must be non-empty and in (0, 1], got {tuple(fractions)}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise ValueError(f"depth must be an int >= 1, got {depth!r}")
    device = torch.device(device)
    check_choice(clock, "clock", ("wall", "cpu"))
    if clock == "cpu" and (device.type != "cpu" or torch.get_num_threads() != 1):
        raise ValueError(
            f"clock='cpu' needs the CPU device and one torch thread, got {device.type} with "
            f"{torch.get_num_threads()} threads (CPU time counts every thread's spinning)"
        )
    timer = time.perf_counter if clock == "wall" else time.process_time
    tile = DEFAULT_TILE[workload] if tile is None else tile
    bench = _Workload(WORKLOAD_SPECS[workload], device, tile, seed, size, depth)
    gen = torch.Generator().manual_seed(seed)
    rows = []
    with torch.no_grad(), Progress(transient=True) as progress:
        bar = progress.add_task(f"bench {workload}", total=len(fractions) * (repeats + 1))
        for fraction in fractions:
            masks = bench.masks(fraction, gen)
            runs = {"dense": bench.dense, "sparse": lambda m=masks: bench.engine(m, "sparse")}
            runs["auto"] = lambda m=masks: bench.engine(m, "auto")
            # One warm-up round first (allocator, oneDNN primitives), then ``repeats`` timed rounds.
            times = interleaved_samples(
                runs, repeats, warmup=1, device=device, clock=timer, after_round=lambda: progress.advance(bar)
            )
            rows.append(_row(fraction, times))
    return rows


def _row(fraction: float, times: dict[str, list[float]]) -> dict:
    """Medians, and speed-ups as medians of per-round ratios: a round's runs are adjacent in time,
    so their ratio cancels most of the drift of a shared machine's load."""
    med = {name: statistics.median(t) for name, t in times.items()}
    ratio = {
        name: statistics.median(d / s for d, s in zip(times["dense"], times[name], strict=True))
        for name in ("sparse", "auto")
    }
    return {
        "fraction": fraction,
        "dense_s": med["dense"],
        "sparse_s": med["sparse"],
        "auto_s": med["auto"],
        "speedup": ratio["auto"],
        "ideal": 1.0 / fraction,
        "efficiency": ratio["auto"] * fraction,
        "sparse_speedup": ratio["sparse"],
        "rounds": len(times["dense"]),
    }


def machine_info(device: str | torch.device = "cpu") -> dict:
    """CPU count, load, torch version and threads, and the GPU name when ``device`` is CUDA."""
    info = {
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "python": platform.python_version(),
    }
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def write_bench_json(
    rows: list[dict], path: str | Path, meta: dict | None = None, overwrite: bool = True
) -> Path:
    """Write ``{"meta": machine info + meta, "rows": rows}`` atomically; ``meta`` holds workload, tile, ....
    An existing ``path`` is replaced only with ``overwrite``."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise TypeError(f"rows must be a list of dicts, got {type(rows).__name__}")
    meta = dict(meta or {})
    payload = {"meta": {**machine_info(meta.get("device", "cpu")), **meta}, "rows": rows}
    return atomic_write_text(path, json.dumps(payload, indent=2) + "\n", overwrite=overwrite)


def format_table(rows: list[dict]) -> str:
    """Markdown table of benchmark rows."""
    lines = [
        "| fraction | dense s | sparse s | auto s | speed-up (auto) | ideal | efficiency "
        "| speed-up (sparse) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['fraction']:.2f} | {r['dense_s']:.3f} | {r['sparse_s']:.3f} | {r['auto_s']:.3f} | "
            f"{r['speedup']:.2f} | {r['ideal']:.2f} | {r['efficiency']:.2f} | {r['sparse_speedup']:.2f} |"
        )
    return "\n".join(lines)
