"""Options every ``dynskip`` subcommand spells the same way: inputs, device, task, precision."""

from __future__ import annotations

import glob
from pathlib import Path

import torch

from dynskip.cli.errors import CLIError, warn_deprecated

TASK_COMMANDS = {"vsr": "upscale", "vfi": "interpolate"}
PRECISIONS = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def expand_inputs(patterns: list[str], what: str = "input") -> list[Path]:
    """Files or folders named by ``patterns`` (paths or globs), in order; each must exist."""
    if not patterns:
        raise CLIError(f"no {what} given; expected a video file, a frame folder or a glob")
    found: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise CLIError(f"{what} glob {pattern!r} matches no file or folder")
            found += [Path(m) for m in matches]
        elif Path(pattern).exists():
            found.append(Path(pattern))
        else:
            raise CLIError(
                f"{what} {pattern!r} does not exist; expected a video file, a frame folder or a glob"
            )
    return found


def available_devices() -> list[str]:
    return ["cpu", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))]


def resolve_device(text: str) -> str:
    """``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``; an unavailable one is an error."""
    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(text)
    except RuntimeError as err:
        raise CLIError(f"--device {text!r} is not a device; expected auto, cpu, cuda or cuda:N") from err
    if device.type == "cpu":
        return "cpu"
    if device.type != "cuda":
        raise CLIError(f"--device {text!r}: only auto, cpu, cuda and cuda:N are supported")
    index = 0 if device.index is None else device.index
    if index >= torch.cuda.device_count():
        raise CLIError(
            f"--device {text!r} is not available here; available: {', '.join(available_devices())}"
        )
    return text


def resolve_task(model: str, task: str | None, command: str) -> str:
    """The model's task from the registry; a ``--task`` given (deprecated) must agree with it."""
    from dynskip.models import get_entry

    registered = get_entry(model).task
    if task is None:
        return registered
    if task != registered:
        raise CLIError(
            f"--task {task} does not match model '{model}', a {registered} model; drop --task "
            f"(it is inferred from the model)"
        )
    warn_deprecated("--task", f"it is inferred from the model ('{model}' is {registered}); drop it")
    return registered


def require_task(model: str, command: str, expected: str) -> None:
    """``upscale`` needs a VSR model and ``interpolate`` a VFI one; say which command fits otherwise."""
    from dynskip.models import get_entry

    task = get_entry(model).task
    if task != expected:
        raise CLIError(
            f"{command} needs a {expected} model; '{model}' is a {task} model (use `dynskip "
            f"{TASK_COMMANDS.get(task, 'evaluate')}` for it)"
        )


def autocast_dtype(precision: str, device: str) -> torch.dtype | None:
    """The autocast dtype of ``--fp16`` / ``--bf16`` on ``device`` (None: float32)."""
    dtype = PRECISIONS[precision]
    if dtype is torch.float16 and torch.device(device).type == "cpu":
        raise CLIError(
            "--fp16 needs a CUDA device: CPU float16 convolutions have no fast kernel (a 64-channel 3x3 "
            "conv ran ~190x slower than float32 on this project's CPU); use --bf16 on the CPU"
        )
    return dtype
