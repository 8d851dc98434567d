"""Benchmark a model on real footage: VSR (BI x4 then super-resolve) or VFI (drop, then re-create,
every other frame), with quality, measured speed and counted MACs.

The MACs are counted with ``FlopCounterMode`` on the very forward that is evaluated, so for a
skipping model in sparse mode they are the convolutions that really ran (tiles, halos, estimator).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from rich.progress import Progress
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from dynskip.data.degrade import degrade
from dynskip.data.video import read_video
from dynskip.metrics.psnr import psnr
from dynskip.metrics.ssim import ssim
from dynskip.skip.protocol import SkippingModel, calibrate_for, execution_mode
from dynskip.utils.checks import check_choice
from dynskip.utils.timing import interleaved_median


@dataclass
class Workload:
    """One evaluation pass: ``run()`` returns predictions aligned with ``targets`` ``(N, 3, H, W)``.

    ``reports`` collects the skip report of every forward of the last ``run()`` (skipping models);
    ``prepare()`` calibrates a skipping model for these inputs (untimed, before any counted pass).
    """

    run: Callable[[], Tensor]
    targets: Tensor
    inputs_desc: str
    reports: list = field(default_factory=list)
    prepare: Callable[[], None] = lambda: None


def _collect(model: nn.Module, reports: list) -> None:
    if isinstance(model, SkippingModel):
        reports.append(model.skip_report())


def load_frames(video: str | Path, frames: int | None, start: int) -> Tensor:
    """``(T, 3, H, W)`` float frames in [0, 1] from a video file or a frame folder."""
    clip = torch.from_numpy(read_video(video, start=start, count=frames))
    return clip.permute(0, 3, 1, 2).float().div(255.0)


@torch.inference_mode()
def vsr_workload(
    model: nn.Module, gt: Tensor, device: str, scale: int = 4, degradation: str = "bi"
) -> Workload:
    h, w = (gt.shape[-2] // scale) * scale, (gt.shape[-1] // scale) * scale
    gt = gt[..., :h, :w]
    lq = degrade(gt, degradation, scale=scale).to(device)[None]  # (1, T, 3, h/4, w/4), uint8 levels

    def run() -> Tensor:
        work.reports.clear()
        out = model(lq)[0].float().clamp(0, 1).cpu()  # float: autocast may return half precision
        _collect(model, work.reports)
        return out

    work = Workload(
        run,
        gt,
        f"{degradation.upper()} x{scale} of {tuple(gt.shape)}",
        prepare=partial(calibrate_for, model, lq),
    )
    return work


@torch.inference_mode()
def vfi_workload(model: nn.Module, frames: Tensor, device: str) -> Workload:
    if frames.shape[0] < 3:
        raise ValueError(f"VFI evaluation needs at least 3 frames, got {frames.shape[0]}")
    idx = list(range(1, frames.shape[0] - 1, 2))  # odd frames are dropped and re-created
    img0 = frames[[i - 1 for i in idx]].to(device)
    img1 = frames[[i + 1 for i in idx]].to(device)

    def run() -> Tensor:
        work.reports.clear()
        outs = []
        for k in range(len(idx)):  # batch 1 per pair: the latency a user sees frame by frame
            outs.append(model(img0[k : k + 1], img1[k : k + 1], 0.5))
            _collect(model, work.reports)
        return torch.cat(outs).float().clamp(0, 1).cpu()

    desc = f"{len(idx)} odd frames from their neighbours"
    work = Workload(run, frames[idx], desc, prepare=partial(calibrate_for, model, img0[:1], img1[:1]))
    return work


SSIM_PROTOCOL = {"vsr": "basicsr", "vfi": "rife"}  # what each field's papers report (metrics.ssim)


def quality(pred: Tensor, target: Tensor, ssim_protocol: str = "basicsr") -> dict[str, float]:
    """Mean over frames of PSNR / SSIM on RGB and PSNR on Y, after uint8 rounding."""
    return {
        "psnr": float(psnr(pred, target).mean()),
        "ssim": float(ssim(pred, target, protocol=ssim_protocol).mean()),
        "psnr_y": float(psnr(pred, target, channel="y").mean()),
    }


def counted_run(work: Workload) -> tuple[Tensor, float]:
    """One evaluated forward pass and the GMACs its convolutions and matmuls performed."""
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        pred = work.run()
    return pred, counter.get_total_flops() / 2e9


def skip_fields(reports: list) -> dict:
    """Active fractions averaged over every forward of a pass (frames are the same size)."""
    if not reports:
        return {}

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    units = reports[0].units
    return {
        "active_fraction": mean([float(r.density(prunable_only=True)) for r in reports]),
        "active_fraction_per_group": {
            g: mean([float(r.density(g, prunable_only=True)) for r in reports])
            for g in reports[0].groups()
            if reports[0].select(g, prunable_only=True)
        },
        "active_fraction_per_unit": {n: mean([float(r.units[n].fraction) for r in reports]) for n in units},
    }


_PRECISION_NAMES = {None: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


def _under_autocast(ctx: Callable, device: str, dtype: torch.dtype) -> Callable:
    """``ctx`` (a mode's context factory) entered together with autocast to ``dtype`` on ``device``."""

    @contextlib.contextmanager
    def both():
        with ctx(), torch.autocast(torch.device(device).type, dtype=dtype):
            yield

    return both


def _check_task(task: str) -> None:
    check_choice(task, "task", ("vsr", "vfi"))


def evaluate_footage(
    model: nn.Module,
    task: str,
    video: str | Path,
    frames: int | None = None,
    start: int = 0,
    device: str = "cpu",
    compare_dense: bool = False,
    repeats: int = 3,
    **options: object,
) -> dict:
    """Quality, seconds per output frame and GMACs per output frame of ``model`` on ``video``.

    With ``compare_dense`` (skipping models only) the dense baseline runs too: the same model with every
    unit active, or, when the model names one (``model.dense_reference()``, e.g. a SkipVSR whose backbone
    was fine-tuned: the official BasicVSR it started from), that model. Both are timed in one process,
    interleaved, and ``speedup`` / ``psnr_drop`` / ``macs_saved_fraction`` compare the two.
    ``options`` are :func:`evaluate_clip`'s (``degradation``, ``autocast``).
    """
    _check_task(task)  # before reading the video
    clip = load_frames(video, frames, start)
    return evaluate_clip(model, task, clip, str(video), device, compare_dense, repeats, **options)


def _dense_modes(
    model: nn.Module, make: Callable[[nn.Module], Workload], work: Workload, device: str
) -> tuple[dict[str, tuple[Workload, Callable]], object]:
    """The eager dense baseline as a mode, and what it is (None: the model itself, every unit on)."""
    reference = getattr(model, "dense_reference", None)
    if reference is None:
        return {"dense": (work, lambda: execution_mode(model, "dense"))}, None
    dense_model = reference().eval().to(device)
    if torch.device(device).type == "cuda":  # as load_model prepares the model under test
        dense_model = dense_model.to(memory_format=torch.channels_last)
    return {"dense": (make(dense_model), contextlib.nullcontext)}, reference


def _compiled_dense(model: nn.Module, reference: object, device: str, backend: str) -> nn.Module:
    """``torch.compile`` of the dense baseline: the model itself (dense models), the network named by
    ``dense_reference``, or the skipping model with every unit on."""
    from dynskip.evaluation.loading import _DenseMode

    if not isinstance(model, SkippingModel):
        dense = model
    elif reference is not None:
        dense = reference().eval().to(device)
    else:
        dense = _DenseMode(model)
    return torch.compile(dense, backend=backend)


def _with_progress(modes: dict, progress: Progress, task_id: int) -> dict:
    """``modes`` whose workloads advance the progress bar by one on every pass."""

    def counted(work: Workload) -> Workload:
        def run() -> Tensor:
            out = work.run()
            progress.advance(task_id)
            return out

        return Workload(run, work.targets, work.inputs_desc, work.reports, work.prepare)

    return {name: (counted(w), ctx) for name, (w, ctx) in modes.items()}


def evaluate_clip(
    model: nn.Module,
    task: str,
    clip: Tensor,
    source: str,
    device: str = "cpu",
    compare_dense: bool = False,
    repeats: int = 3,
    degradation: str = "bi",
    autocast: torch.dtype | None = None,
    compile_backend: str | None = None,
) -> dict:
    """:func:`evaluate_footage` on frames ``clip`` ``(T, 3, H, W)`` in [0, 1]; ``source`` names them.

    ``degradation`` (VSR): ``bi`` or ``bd`` x4. ``autocast``: run (and time) every model under autocast
    to this dtype; ``fp32_psnr`` and ``psnr_drop_vs_fp32`` then report what the precision cost.
    ``compile_backend``: also time the dense baseline under ``torch.compile`` (``compiled_dense``,
    ``speedup_vs_compiled``), so a speed-up also stands against a compiled model.
    """
    _check_task(task)
    if clip.dim() != 4 or clip.shape[1] != 3:
        raise ValueError(f"clip must be (T, 3, H, W) frames, got {tuple(clip.shape)} from {source}")

    def make(net: nn.Module) -> Workload:
        if task == "vsr":
            return vsr_workload(net, clip, device, degradation=degradation)
        return vfi_workload(net, clip, device)

    work = make(model)
    n_out = work.targets.shape[0]
    is_skip = isinstance(model, SkippingModel)
    if compare_dense and not is_skip:
        raise ValueError("--compare-dense needs a skipping model (one implementing SkippingModel)")

    modes: dict[str, tuple[Workload, Callable]] = {"model": (work, contextlib.nullcontext)}
    reference = None
    if compare_dense:
        dense_modes, reference = _dense_modes(model, make, work, device)
        modes.update(dense_modes)
    if compile_backend is not None:  # the same baseline whether or not --compare-dense ran
        compiled = _compiled_dense(model, getattr(model, "dense_reference", None), device, compile_backend)
        modes["compiled_dense"] = (make(compiled), contextlib.nullcontext)

    fp32 = {}
    if autocast is not None:  # the reference pass, before autocast wraps every mode
        with torch.inference_mode():
            fp32 = {"fp32_psnr": quality(work.run(), work.targets, SSIM_PROTOCOL[task])["psnr"]}
        modes = {name: (w, _under_autocast(ctx, device, autocast)) for name, (w, ctx) in modes.items()}

    # Passes: a counted one per mode, then warm-up and timed repeats.
    passes = len(modes) * (2 + repeats)
    with Progress(transient=True) as progress:
        bar = progress.add_task(f"evaluate {Path(source).name}", total=passes)
        modes = _with_progress(modes, progress, bar)
        results = _score_modes(modes, task, n_out)
        seconds = interleaved_median(
            {n: _timed(*m) for n, m in modes.items()}, repeats=repeats, device=device
        )
    out = {
        "task": task,
        "video": source,
        "frames": n_out,
        "inputs": work.inputs_desc,
        "device": device,
        "ssim_protocol": SSIM_PROTOCOL[task],
        "precision": _PRECISION_NAMES[autocast],
        "params": sum(p.numel() for p in model.parameters()),
        "threads": torch.get_num_threads(),
        **results["model"],
        "seconds_per_frame": seconds["model"] / n_out,
    }
    if fp32:
        out.update(fp32, psnr_drop_vs_fp32=fp32["fp32_psnr"] - out["psnr"])
    if compare_dense:
        dense = {
            **results["dense"],
            "seconds_per_frame": seconds["dense"] / n_out,
            "baseline": "same model, every unit active" if reference is None else str(reference),
        }
        out["dense"] = dense
        out["speedup"] = seconds["dense"] / seconds["model"]
        out["psnr_drop"] = dense["psnr"] - out["psnr"]
        out["macs_saved_fraction"] = 1.0 - out["gmacs_per_frame"] / dense["gmacs_per_frame"]
    if compile_backend is not None:
        out["compiled_dense"] = {
            **results["compiled_dense"],
            "seconds_per_frame": seconds["compiled_dense"] / n_out,
            "backend": compile_backend,
        }
        out["speedup_vs_compiled"] = seconds["compiled_dense"] / seconds["model"]
    return out


def _score_modes(modes: dict, task: str, n_out: int) -> dict[str, dict]:
    """Quality of every mode, and the GMACs it counts (not under ``torch.compile``: the counter
    would see the compiled graph's kernels, not the model's convolutions)."""
    results: dict[str, dict] = {}
    for name, (mode_work, ctx) in modes.items():
        with ctx():
            if name == "compiled_dense":
                with torch.inference_mode():
                    pred = mode_work.run()
                results[name] = quality(pred, mode_work.targets, SSIM_PROTOCOL[task])
                continue
            if name == "model":
                with torch.inference_mode():
                    mode_work.prepare()
            pred, gmacs = counted_run(mode_work)
            scores = quality(pred, mode_work.targets, SSIM_PROTOCOL[task])
            results[name] = {**scores, "gmacs_per_frame": gmacs / n_out}
            if name == "model":
                results[name].update(skip_fields(mode_work.reports))
    return results


def _timed(mode_work: Workload, ctx: Callable) -> Callable[[], object]:
    def call() -> object:
        with ctx(), torch.inference_mode():
            return mode_work.run()

    return call
