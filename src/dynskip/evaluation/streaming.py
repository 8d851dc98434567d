"""Video in, video out with bounded memory: recurrent VSR in overlapping chunks, VFI pair by pair."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from rich.progress import Progress
from torch import Tensor, nn

from dynskip.data.io import to_uint8_hwc, uint8_to_tensor
from dynskip.data.video import VideoWriter, iter_video_frames, probe_video
from dynskip.evaluation.scenes import DEFAULT_SCENE_THRESHOLD, is_scene_cut
from dynskip.evaluation.tiling import tiled_vsr_forward
from dynskip.skip.protocol import calibrate_for
from dynskip.utils.atomic import refuse_same_path

# Frame folders have no frame rate; their output plays at this one.
DEFAULT_FPS = 30.0


def _to_tensor(frame: np.ndarray, device: str) -> Tensor:
    return uint8_to_tensor(np.ascontiguousarray(frame)).to(device)


# Recurrent VSR models need two frames per window (BasicVSR propagates along flows between neighbours).
MIN_WINDOW_FRAMES = 2


def overlapping_windows(
    frames: Iterable[np.ndarray], chunk: int, overlap: int, min_frames: int = MIN_WINDOW_FRAMES
) -> Iterator[tuple[list[np.ndarray], int, int]]:
    """Yield ``(window, keep_from, keep_to)``: each output frame is produced once, from a window with
    up to ``overlap`` frames of context on each side, so a recurrent model sees both directions
    while memory stays bounded by ``chunk + 2 * overlap + min_frames`` frames.

    Every window holds at least ``min_frames`` frames (when the video has that many): a last window
    that would be shorter merges into the one before it, and a window with too little context (``chunk
    1, overlap 0``) borrows a neighbour as context.
    """
    if chunk < 1 or overlap < 0:
        raise ValueError(f"chunk must be >= 1 and overlap >= 0, got chunk={chunk}, overlap={overlap}")
    it = iter(frames)
    buf: list[np.ndarray] = []
    base = 0  # global index of buf[0]
    start = 0  # first frame this window must output
    exhausted = False
    while True:
        # Read far enough to know whether a too-short last window would follow this one.
        while not exhausted and base + len(buf) < start + chunk + overlap + min_frames:
            try:
                buf.append(next(it))
            except StopIteration:
                exhausted = True
        available = base + len(buf)
        end = min(start + chunk, available)
        if end <= start:
            return
        rest = available - end
        if exhausted and rest > 0 and rest + min(overlap, end) < min_frames:
            end = available  # the short tail joins this window
        lo, hi = _with_context(start, end, overlap, min_frames, base, available)
        yield buf[lo - base : hi - base], start - lo, end - lo
        start = end
        drop = max(0, start - max(overlap, min_frames - 1) - base)
        buf = buf[drop:]
        base += drop


def _with_context(start: int, end: int, overlap: int, min_frames: int, base: int, available: int):
    """Window bounds ``[lo, hi)`` around outputs ``[start, end)``: ``overlap`` frames each side where
    they exist, widened (right first) to ``min_frames`` frames."""
    lo, hi = max(start - overlap, base), min(end + overlap, available)
    if hi - lo < min_frames:
        hi = min(lo + min_frames, available)
        lo = max(hi - min_frames, base)
    return lo, hi


@torch.inference_mode()
def upscale_video(
    model: nn.Module,
    src: str | Path,
    dst: str | Path,
    device: str = "cpu",
    chunk: int = 30,
    overlap: int = 5,
    overwrite: bool = False,
    fps: float | None = None,
    on_output: Callable[[Tensor, int], None] | None = None,
    tile: int | None = None,
) -> int:
    """Super-resolve ``src`` into ``dst`` (at ``fps``, default the source's); returns the frames written.

    ``on_output(frames, first)`` sees each window's kept outputs, ``first`` their index in the window.
    ``tile`` processes each window in spatial tiles of that many LR pixels (with context, see
    :mod:`dynskip.evaluation.tiling`). ``dst`` appears only once every frame is written (``VideoWriter``).
    """
    refuse_same_path(dst, [src])  # before anything is read or written
    total, source_fps, _ = probe_video(src)
    if total < MIN_WINDOW_FRAMES:
        raise ValueError(f"upscaling needs at least {MIN_WINDOW_FRAMES} frames; {src} has {total}")
    written = 0

    def forward(lq: Tensor) -> Tensor:
        # Calibrated per input shape before its forward (untimed; a second call for a shape measures
        # nothing), so a skipping model runs with the execution choices measured for what it gets.
        calibrate_for(model, lq)
        return model(lq)

    with (
        VideoWriter(dst, fps=fps or source_fps or DEFAULT_FPS, overwrite=overwrite) as writer,
        Progress(transient=True) as progress,
    ):
        bar = progress.add_task(f"upscale {Path(src).name}", total=total)
        for window, keep_from, keep_to in overlapping_windows(iter_video_frames(src), chunk, overlap):
            lq = torch.stack([_to_tensor(f, device) for f in window])[None]
            out = (tiled_vsr_forward(forward, lq, tile) if tile else forward(lq))[0, keep_from:keep_to]
            if on_output is not None:
                on_output(out, keep_from)
            for frame in out:
                writer.write(to_uint8_hwc(frame))
            written += out.shape[0]
            progress.update(bar, advance=out.shape[0])
    return written


@torch.inference_mode()
def interpolate_video(
    model: nn.Module,
    src: str | Path,
    dst: str | Path,
    factor: int = 2,
    device: str = "cpu",
    overwrite: bool = False,
    fps: float | None = None,
    scene_threshold: float = DEFAULT_SCENE_THRESHOLD,
    scene_cuts: list[int] | None = None,
    on_output: Callable[[Tensor, int], None] | None = None,
) -> int:
    """Insert ``factor - 1`` frames between every pair of ``src``; ``dst`` plays at ``factor`` x fps
    (or ``fps``).

    Across a scene cut (:func:`~dynskip.evaluation.scenes.is_scene_cut` at ``scene_threshold``, 0: off)
    the earlier frame is repeated instead of blending two shots; the index of each frame that starts a
    new shot is appended to ``scene_cuts``. ``on_output(frame, 0)`` sees every frame the model made.
    """
    if factor < 2:
        raise ValueError(f"factor must be >= 2, got {factor}")
    refuse_same_path(dst, [src])  # before anything is read or written
    total, source_fps, _ = probe_video(src)
    if total < 2:
        raise ValueError(f"interpolation needs at least 2 frames to insert frames between; {src} has {total}")
    written = 0
    previous: Tensor | None = None
    with (
        VideoWriter(dst, fps=fps or (source_fps or DEFAULT_FPS) * factor, overwrite=overwrite) as writer,
        Progress(transient=True) as progress,
    ):
        bar = progress.add_task(f"interpolate {Path(src).name}", total=total)
        for index, frame in enumerate(iter_video_frames(src)):
            current = _to_tensor(frame, device)[None]
            if previous is not None:
                cut = is_scene_cut(previous, current, scene_threshold)
                if cut and scene_cuts is not None:
                    scene_cuts.append(index)
                for k in range(1, factor):
                    middle = previous if cut else model(previous, current, k / factor)
                    if on_output is not None and not cut:
                        on_output(middle, 0)
                    writer.write(to_uint8_hwc(middle[0]))
                    written += 1
            writer.write(frame)
            written += 1
            previous = current
            progress.update(bar, advance=1)
    return written
