"""What ``upscale`` / ``interpolate`` add around the streaming loop: RIFE's scale, frame rate, scene
cuts, autocast and the source's audio."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from dynskip.cli.errors import CLIError
from dynskip.evaluation.scenes import DEFAULT_SCENE_THRESHOLD


def add_video_options(p: argparse.ArgumentParser, command: str) -> None:
    p.add_argument(
        "--fps", type=float, default=None, help="output frame rate (default: the input's x factor)"
    )
    p.add_argument("--no-audio", action="store_true", help="do not copy the input's audio stream")
    add_save_masks_option(p)
    if command == "interpolate":
        p.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="RIFE: run the flow blocks at this resolution factor (0.5 for 4K, as Practical-RIFE)",
        )
        p.add_argument(
            "--scene-threshold",
            type=float,
            default=DEFAULT_SCENE_THRESHOLD,
            help="a pair whose 32x32 thumbnails have SSIM below this is a scene cut: the earlier frame is "
            "repeated instead of blending two shots (0: off)",
        )


def add_save_masks_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--save-masks",
        default=None,
        metavar="PATH",
        help="skipping models: a video (or PNG folder) of each output with its skip masks over it",
    )


@contextlib.contextmanager
def mask_recorder(args: argparse.Namespace, model: nn.Module) -> Iterator[dict]:
    """``on_output`` for the streaming loop when ``--save-masks`` is given (else nothing)."""
    if args.save_masks is None:
        yield {}
        return
    from dynskip.evaluation.masks import MaskVideo, require_skipping

    require_skipping(model, args.model)
    with MaskVideo(args.save_masks, fps=args.fps, overwrite=args.overwrite) as video:

        def record(frames: torch.Tensor, first: int) -> None:
            video.add(frames, model.skip_report().maps, first)

        yield {"on_output": record}


def streaming_options(args: argparse.Namespace, model: nn.Module, scene_cuts: list[int]) -> dict:
    """Keyword arguments of ``upscale_video`` / ``interpolate_video`` from the command line."""
    if args.fps is not None and args.fps <= 0:
        raise CLIError(f"--fps must be positive, got {args.fps}")
    options: dict = {"fps": args.fps}
    if args.command == "interpolate":
        _set_rife_scale(model, args.model, args.scale)
        if not 0.0 <= args.scene_threshold <= 1.0:
            raise CLIError(f"--scene-threshold is an SSIM in [0, 1], got {args.scene_threshold}")
        options.update(scene_threshold=args.scene_threshold, scene_cuts=scene_cuts)
    return options


def _set_rife_scale(model: nn.Module, name: str, scale: float) -> None:
    from dynskip.archs.rife_arch import INFERENCE_SCALES, IFNet
    from dynskip.skip.protocol import SkippingModel

    if scale == 1.0:
        return
    if not isinstance(model, IFNet) or isinstance(model, SkippingModel):
        # UGSP-RIFE's mask heads were trained on the scale-1 pyramid; other models have no scales.
        raise CLIError(f"--scale applies to model 'rife'; '{name}' runs at its trained scale only")
    if scale not in INFERENCE_SCALES:
        raise CLIError(f"--scale must be one of {list(INFERENCE_SCALES)} (Practical-RIFE's), got {scale}")
    model.set_scale(scale)


@contextlib.contextmanager
def autocast_context(device: str, dtype: torch.dtype | None) -> Iterator[None]:
    """``torch.autocast`` to ``dtype`` on ``device``'s type; nothing when ``dtype`` is None."""
    if dtype is None:
        yield
        return
    with torch.autocast(torch.device(device).type, dtype=dtype):
        yield


def carry_audio(args: argparse.Namespace, source: Path, target: Path, source_fps: float | None) -> str:
    """Copy ``source``'s audio into ``target`` where it still fits the picture; says what happened."""
    from dynskip.evaluation.audio import audio_streams, copy_audio

    if args.no_audio or target.is_dir() or not audio_streams(source):
        return "none"
    factor = getattr(args, "factor", 1)
    if args.fps is not None and source_fps and abs(args.fps - source_fps * factor) > 1e-3:
        # The output's duration changed with its rate: the sound would drift from the picture.
        return f"not copied: --fps {args.fps} changes the duration (input {source_fps} fps x {factor})"
    copy_audio(source, target)
    return "copied"
