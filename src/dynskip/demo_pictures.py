"""`make run`'s pictures, each saying what it shows: labelled input / dense / skipping / target panels,
the skipping models' tile masks over the frame (what ran, what was skipped), and speed versus quality of
both skipping models over thresholds against their dense baselines."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from dynskip.analysis.pareto import pareto_front
from dynskip.analysis.plots import Panel, Series, pareto_figure, save_figure
from dynskip.archs.rife_arch import PAD_MULTIPLE
from dynskip.data.degrade import bi_degrade
from dynskip.evaluation.footage import vfi_workload, vsr_workload
from dynskip.metrics.psnr import psnr
from dynskip.utils.images import overlay_map, to_uint8_image

VSR_SCALE = 4


def labelled_row(panels: Sequence[tuple[str, Tensor]], path: Path, title: str) -> Path:
    """``(label, (3, H, W) image)`` panels side by side, each titled, nearest-neighbour, one PNG."""
    height, width = panels[0][1].shape[-2:]
    scale = max(1.0, 220 / height)  # small frames (QCIF) are drawn enlarged, pixel for pixel
    fig = Figure(figsize=(len(panels) * width * scale / 100 + 0.2, height * scale / 100 + 0.9))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (label, image) in zip(axes, panels, strict=True):
        ax.imshow(to_uint8_image(image), interpolation="nearest")
        ax.set_title(label, fontsize=8)
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.8, wspace=0.03)
    return save_figure(fig, path, dpi=100)


def run_workload(model: nn.Module, task: str, clip: Tensor):
    work = (vsr_workload if task == "vsr" else vfi_workload)(model, clip, "cpu")
    with torch.inference_mode():
        work.prepare()  # calibrated as evaluate calibrates it, so the pictures show the route it times
        return work, work.run()


def frame_psnr(pred: Tensor, target: Tensor) -> float:
    return float(psnr(pred[None], target[None]).mean())


def comparison_picture(
    task: str, clip: Tensor, dense: tuple[str, nn.Module], skipping: tuple[str, nn.Module], path: Path
) -> Path:
    """Input, dense output, skipping output and target of the middle output frame, PSNR in the labels."""
    (dense_name, dense_model), (skip_name, skip_model) = dense, skipping
    work, dense_pred = run_workload(dense_model, task, clip)
    _, skip_pred = run_workload(skip_model, task, clip)
    k = dense_pred.shape[0] // 2
    target = work.targets[k]
    if task == "vsr":
        lq = bi_degrade(target[None], scale=VSR_SCALE)
        inp = torch.nn.functional.interpolate(lq, size=target.shape[-2:], mode="nearest")[0]
        input_label = f"input: LR frame {k} (BI x{VSR_SCALE}, enlarged)"
    else:
        inp = 0.5 * (clip[2 * k] + clip[2 * k + 2])
        input_label = f"input: frames {2 * k} and {2 * k + 2} (blended)"
    panels = [
        (input_label, inp),
        (f"dense output: {dense_name}, {frame_psnr(dense_pred[k], target):.2f} dB", dense_pred[k]),
        (f"skipping output: {skip_name}, {frame_psnr(skip_pred[k], target):.2f} dB", skip_pred[k]),
        (f"target: frame {2 * k + 1 if task == 'vfi' else k}", target),
    ]
    what = "super-resolution x4" if task == "vsr" else "frame interpolation (middle frame)"
    return labelled_row(panels, path, f"{task.upper()} on carphone: {what}")


def mask_over_frame(mask: Tensor, frame: Tensor, cell: int) -> Tensor:
    """A ``(1, gh, gw)`` tile map drawn over ``frame`` ``(3, H, W)``: each tile ``cell`` pixels, the grid
    anchored top-left (border tiles and padding cut off); red where it ran, blue where skipped."""
    heat = mask.float().cpu().repeat_interleave(cell, -2).repeat_interleave(cell, -1)
    heat = heat[..., : frame.shape[-2], : frame.shape[-1]]
    if heat.shape[-2:] != frame.shape[-2:]:
        raise ValueError(
            f"a {tuple(mask.shape[-2:])} grid of {cell}-pixel tiles does not cover {tuple(frame.shape)}"
        )
    return overlay_map(frame, heat)


def skipvsr_masks(model: nn.Module, clip: Tensor) -> list[tuple[str, Tensor]]:
    """SkipVSR v2's patches computed at the middle frame, per trunk (``frames/<trunk>`` maps)."""
    work, _ = run_workload(model, "vsr", clip)
    maps, k = work.reports[0].maps, work.targets.shape[0] // 2
    frame, cell = work.targets[k], model.patch * VSR_SCALE
    panels = [(f"frame {k} (target)\n", frame)]
    for name in ("backward_trunk", "forward_trunk"):
        mask = maps[f"frames/{name}"][k]
        label = f"skipvsr-v2 {name.replace('_', ' ')}:\n{float(mask.mean()):.0%} of its patches ran"
        panels.append((label, mask_over_frame(mask, frame, cell)))
    return panels


def ugsp_rife_masks(model: nn.Module, clip: Tensor) -> list[tuple[str, Tensor]]:
    """UGSP-RIFE's tile masks of the middle predicted frame, over the padded grid RIFE runs on."""
    work, pred = run_workload(model, "vfi", clip)
    k = pred.shape[0] // 2
    maps, frame = work.reports[k].maps, pred[k]
    padded_h = math.ceil(frame.shape[-2] / PAD_MULTIPLE) * PAD_MULTIPLE
    panels = [(f"frame {2 * k + 1} (ugsp-rife output)\n", frame)]
    for name in sorted(n for n in maps if n.startswith("mask/")):
        mask = maps[name][0]
        cell = padded_h // mask.shape[-2]
        shown = mask_over_frame(mask, frame, cell)
        kept = float(
            mask[..., : math.ceil(frame.shape[-2] / cell), : math.ceil(frame.shape[-1] / cell)].mean()
        )
        panels.append((f"ugsp-rife {name.removeprefix('mask/')}:\n{kept:.0%} of its tiles ran", shown))
    return panels


def mask_picture(skipvsr: nn.Module, ugsp_rife: nn.Module, clip: Tensor, out: Path) -> list[Path]:
    """One row per model: the frame, then its tile masks over it."""
    legend = "red: computed, blue: skipped"
    return [
        labelled_row(
            skipvsr_masks(skipvsr, clip), out / "masks_skipvsr_carphone.png", f"SkipVSR v2 masks ({legend})"
        ),
        labelled_row(
            ugsp_rife_masks(ugsp_rife, clip),
            out / "masks_ugsp_rife_carphone.png",
            f"UGSP-RIFE masks ({legend})",
        ),
    ]


def speed_quality_plot(sweeps: dict[str, Sequence[dict]], path: Path) -> Path:
    """PSNR against measured speed-up, one panel per task: a skipping model's ``evaluate`` results over
    thresholds (its Pareto front drawn) and its dense baseline at 1x."""
    panels = []
    for title, results in sweeps.items():
        xs, ys = [r["speedup"] for r in results], [r["psnr"] for r in results]
        model = Series(
            xs=xs,
            ys=ys,
            labels=[f"t={r['threshold']}" for r in results],
            front=pareto_front(list(zip(ys, xs, strict=True)), (True, True)),
            name=f"{results[0]['model']} (thresholds)",
        )
        dense_psnr = sum(r["dense"]["psnr"] for r in results) / len(results)
        dense = Series(xs=[1.0], ys=[dense_psnr], labels=["dense"], front=[0], name="dense baseline")
        panels.append(Panel(title, "speed-up over the dense baseline (x)", "PSNR (dB)", [model, dense]))
    return pareto_figure(panels, path, title="speed vs quality on carphone (measured on this machine)")
