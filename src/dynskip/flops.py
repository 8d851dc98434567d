"""``dynskip flops``: parameters, dense MACs and the MACs each prunable unit can save, per frame.

Dense MACs are counted with ``torch.utils.flop_counter.FlopCounterMode`` (FLOPs / 2) on the dense
path of any registered model: VSR models get one ``(1, T, 3, H, W)`` clip, VFI models one pair of
``(1, 3, H, W)`` frames. The counter runs on the ``meta`` device when the model allows it (no
arithmetic, instant) and falls back to a real CPU forward for models that read tensor values
(e.g. RIFE's data-dependent scale restart). Models implementing
:class:`~dynskip.skip.protocol.SkippingModel` also list what each unit costs (``skip_units()``).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor, nn

from dynskip.models import build_model, get_entry
from dynskip.skip.cost import count_macs
from dynskip.skip.protocol import SkippingModel, execution_mode

# Benchmark-typical sizes: REDS LR frames (VSR) and Vimeo90K triplets (VFI); REDS clips have 15 frames.
DEFAULT_SIZE = {"vsr": (180, 320), "vfi": (256, 448)}
DEFAULT_FRAMES = {"vsr": 15, "vfi": 1}


def dummy_inputs(task: str, size: tuple[int, int], frames: int, device: str | torch.device = "cpu") -> tuple:
    """Positional inputs of one forward: a VSR clip ``(1, T, 3, H, W)`` or a VFI pair ``(1, 3, H, W)``."""
    h, w = size
    if task == "vsr":
        return (torch.rand(1, frames, 3, h, w, device=device),)
    if task == "vfi":
        return (torch.rand(1, 3, h, w, device=device), torch.rand(1, 3, h, w, device=device))
    raise ValueError(f"unknown task {task!r} for FLOPs counting; expected 'vsr' or 'vfi'")


def _count_dense(model: nn.Module, inputs: tuple[Tensor, ...], device: str) -> tuple[int, dict[str, float]]:
    """MACs of one dense forward, and for a skipping model each recorded unit's dense MACs per frame.

    The units' MACs come from the model's own report of that forward, so they are counted at the size
    each unit really ran at (RIFE pads its input to a multiple of 128; the padding runs too).
    """
    model = model.eval().to(device)
    skipping = isinstance(model, SkippingModel)
    with execution_mode(model, "dense") if skipping else nullcontext():
        macs = count_macs(model, *(x.to(device) for x in inputs))
    return macs, _recorded_unit_macs(model) if skipping else {}


def _recorded_unit_macs(model: SkippingModel) -> dict[str, float]:
    """Dense MACs per frame of each unit the last forward recorded; ``{}`` for a model that keeps no
    report (its units are then priced at the input size)."""
    try:
        report = model.skip_report()
    except NotImplementedError:
        return {}
    return {name: r.dense_macs for name, r in report.units.items()}


def _dense_macs(
    model_name: str, model_kwargs: dict, inputs: tuple[Tensor, ...]
) -> tuple[int, dict[str, float], str]:
    """What :func:`_count_dense` counts, and where: ``meta`` (no arithmetic) or ``cpu``."""
    try:
        return *_count_dense(build_model(model_name, **model_kwargs), inputs, "meta"), "meta"
    except (RuntimeError, NotImplementedError):
        # Data-dependent code (``.item()``, ``nonzero``) cannot run on meta tensors; meta also
        # dropped the weights, hence a fresh model.
        return *_count_dense(build_model(model_name, **model_kwargs), inputs, "cpu"), "cpu"


def flops_report(
    model_name: str,
    size: tuple[int, int] | None = None,
    frames: int | None = None,
    **model_kwargs: Any,
) -> dict[str, Any]:
    """Params, dense GMACs per frame and per-unit savable GMACs of registered model ``model_name``.

    Args:
        model_name: a name from ``dynskip.models.list_models()``.
        size: input ``(H, W)`` (the LR size for VSR); defaults to 180x320 (VSR) / 256x448 (VFI).
        frames: clip length for VSR (default 15); VFI always counts one pair -> one frame.
        model_kwargs: constructor arguments for ``build_model``.

    Returns:
        a JSON-ready dict: ``model``, ``task``, ``size``, ``frames``, ``params``, ``gmacs_dense``
        (whole forward), ``gmacs_dense_per_frame``, ``counted_on``; for skipping models also
        ``skip_units`` (name, group, scale, halo, prunable, ``gmacs_per_frame``, ``share_of_dense``),
        ``gmacs_prunable_per_frame``, ``prunable_share`` and ``max_speedup`` (all prunable units off).
    """
    entry = get_entry(model_name)
    task = entry.task
    if task not in DEFAULT_SIZE:
        raise ValueError(f"model '{model_name}' has task {task!r}; flops_report knows 'vsr' and 'vfi'")
    h, w = DEFAULT_SIZE[task] if size is None else (int(size[0]), int(size[1]))
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive (H, W), got {size}")
    frames = DEFAULT_FRAMES[task] if frames is None or task == "vfi" else int(frames)
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")

    model = build_model(model_name, **model_kwargs)
    params = sum(p.numel() for p in model.parameters())
    units = model.skip_units() if isinstance(model, SkippingModel) else None
    macs, ran, counted_on = _dense_macs(model_name, model_kwargs, dummy_inputs(task, (h, w), frames))

    per_frame = macs / frames
    report: dict[str, Any] = {
        "model": model_name,
        "task": task,
        "size": [h, w],
        "frames": frames,
        "params": params,
        "gmacs_dense": macs / 1e9,
        "gmacs_dense_per_frame": per_frame / 1e9,
        "counted_on": counted_on,
    }
    if units is not None:
        # A unit the dense forward did not run (a train-only head) is priced at the input size.
        unit_macs = {u.name: ran.get(u.name, u.dense_macs(h, w)) for u in units}
        rows = [
            {
                "name": u.name,
                "group": u.group,
                "scale": u.scale,
                "halo": u.halo,
                "prunable": u.prunable,
                "gmacs_per_frame": unit_macs[u.name] / 1e9,
                "share_of_dense": unit_macs[u.name] / per_frame if per_frame else 0.0,
            }
            for u in units
        ]
        prunable = sum(r["gmacs_per_frame"] for r in rows if r["prunable"]) * 1e9
        report["skip_units"] = rows
        report["gmacs_prunable_per_frame"] = prunable / 1e9
        report["prunable_share"] = prunable / per_frame if per_frame else 0.0
        # None: nothing would be left to run (JSON has no infinity).
        report["max_speedup"] = per_frame / (per_frame - prunable) if per_frame > prunable else None
    return report
