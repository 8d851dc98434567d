"""Memory checks the ``dynskip`` commands run before loading a model, from the input's probe (a video header,
or the first image of a frame folder): nothing is decoded beyond that."""

from __future__ import annotations

from pathlib import Path

from dynskip.data.video import probe_video
from dynskip.evaluation.memory import (
    check_memory,
    estimate_bytes,
    frames_bytes,
    interpolate_remedy,
    upscale_remedy,
)
from dynskip.evaluation.tiling import DEFAULT_TILE_OVERLAP

VSR_SCALE = 4
# VFI models pad frames to a multiple of this (RIFE: 128; the others less), and run on the padded size.
VFI_PAD = 128


def _padded(size: tuple[int, int], multiple: int) -> tuple[int, int]:
    return (-(-size[0] // multiple) * multiple, -(-size[1] // multiple) * multiple)


def check_upscale_memory(
    model: str, src: str | Path, chunk: int, overlap: int, tile: int | None, limit: int | None
) -> int:
    """``upscale``: the estimate for one recurrent window (of one tile with ``tile``) of ``src``."""
    info = probe_video(src)
    window = min(info.frames, chunk + 2 * overlap + 1)
    size = info.size
    if tile:
        side = tile + 2 * DEFAULT_TILE_OVERLAP
        size = (min(side, size[0]), min(side, size[1]))
    # The window's x4 output frames stay alongside the pass.
    hr = (info.size[0] * VSR_SCALE, info.size[1] * VSR_SCALE)
    estimate = estimate_bytes(model, size, window) + frames_bytes(window, hr)
    what = f"upscale of {Path(src).name} ({info.size[0]}x{info.size[1]}) with {model}"
    check_memory(estimate, limit, what, upscale_remedy())
    return estimate


def check_interpolate_memory(model: str, src: str | Path, limit: int | None) -> int:
    """``interpolate``: one frame pair at the padded size the model runs at."""
    info = probe_video(src)
    estimate = estimate_bytes(model, _padded(info.size, VFI_PAD)) + frames_bytes(3, info.size)
    what = f"interpolate of {Path(src).name} ({info.size[0]}x{info.size[1]}) with {model}"
    check_memory(estimate, limit, what, interpolate_remedy())
    return estimate


def check_evaluate_memory(
    model: str, task: str, video: str | Path, frames: int | None, start: int, limit: int | None
) -> int:
    """``evaluate``: the whole clip is held (inputs, targets, predictions) and VSR runs it in one pass."""
    info = probe_video(video)
    count = max(1, (info.frames - start) if frames is None else frames)
    height, width = info.size
    if task == "vsr":
        lr = (height // VSR_SCALE, width // VSR_SCALE)
        # Clip, targets and predictions at full size are held while the model runs.
        estimate = estimate_bytes(model, lr, frames_per_pass=count) + frames_bytes(3 * count, info.size)
        remedy = "Evaluate fewer frames (--frames) or a smaller crop of the video."
    else:
        estimate = estimate_bytes(model, _padded(info.size, VFI_PAD)) + frames_bytes(3 * count, info.size)
        remedy = f"Evaluate fewer frames (--frames). {interpolate_remedy()}"
    what = f"evaluate {model} on {count} frames of {Path(video).name} ({height}x{width})"
    check_memory(estimate, limit, what, remedy)
    return estimate
