"""``make run``: the main job on the bundled default, no dataset needed.

1. A short Hydra training run (``experiment=demo``: BasicVSR from the official REDS4 weights,
   fine-tuned a few steps on carphone clips) through the same ``train()`` as ``dynskip-train``.
2. Evaluation on carphone_pristine.mp4 of dense BasicVSR, the demo checkpoint and SkipVSR v2 (VSR), and
   dense RIFE v3.9 and UGSP-RIFE (VFI), with measured speed-ups of the skipping models over their
   dense backbones; a results table, ``results.json`` and ``results.md``.
3. Pictures that say what they show (``dynskip.demo_pictures``): labelled input / dense / skipping /
   target panels per task, both skipping models' tile masks over the frame, and speed versus quality of
   both over three thresholds against their dense baselines (``thresholds.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from dynskip.assets import asset_path
from dynskip.config import compose_config
from dynskip.demo_pictures import comparison_picture, mask_picture, speed_quality_plot
from dynskip.evaluation.footage import evaluate_footage, load_frames
from dynskip.evaluation.loading import load_model
from dynskip.evaluation.report import print_results, results_markdown
from dynskip.models import list_models
from dynskip.utils.atomic import atomic_write_text

# A VFI pass is ~0.6 s (14 frames): 3 repeats left its speed-up noise-bound (1.06x-1.29x over quiet runs),
# so it gets 9; a VSR pass is ~5 s and 3 repeats hold.
REPEATS = {"vsr": 3, "vfi": 9}


def train_demo(out: Path, steps: int) -> Path:
    from dynskip.train import train

    # restart=true: a repeated demo moves its earlier training run to train/restarted/<time>/ instead of
    # mixing with it (and then evaluating the earlier run's last.ckpt).
    overrides = ["experiment=demo", f"trainer.max_steps={steps}", "restart=true"]
    cfg = compose_config("train", overrides, out / "train")
    metrics = train(cfg)
    print(f"demo training: {steps} steps, final metrics {json.dumps(metrics)}")
    return out / "train" / "checkpoints" / "last.ckpt"


# Each model's default threshold is evaluated with the other models; these two complete the trade-off plot.
EXTRA_THRESHOLDS = (0.3, 0.7)


def threshold_sweep(name: str, task: str, video: Path, frames: int, default: dict) -> list[dict]:
    """``default`` (the model's row at its default threshold) and the model at ``EXTRA_THRESHOLDS``, each
    timed against its dense baseline, ordered by threshold."""
    results = [default]
    for threshold in EXTRA_THRESHOLDS:
        model = load_model(name, threshold=threshold)
        result = evaluate_footage(
            model, task, video, frames=frames, compare_dense=True, repeats=REPEATS[task]
        )
        results.append({"model": name, "task": task, "threshold": threshold, **result})
    return sorted(results, key=lambda r: r["threshold"])


def demo_pictures(
    out: Path, models: dict[str, torch.nn.Module], video: Path, frames: int, sweeps: dict
) -> None:
    clip = load_frames(video, frames, 0)
    with torch.inference_mode():
        comparison_picture(
            "vsr", clip, ("basicvsr", models["basicvsr"]), ("skipvsr-v2", models["skipvsr-v2"]),
            out / "vsr_comparison_carphone.png",
        )  # fmt: skip
        comparison_picture(
            "vfi", clip, ("rife v3.9", models["rife"]), ("ugsp-rife", models["ugsp-rife"]),
            out / "vfi_comparison_carphone.png",
        )  # fmt: skip
        mask_picture(models["skipvsr-v2"], models["ugsp-rife"], clip, out)
    speed_quality_plot(sweeps, out / "speed_quality_carphone.png")


def run_demo(out: Path, frames: int = 30, train_steps: int = 20) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    video = asset_path("carphone")
    ckpt = train_demo(out, train_steps)

    rows: list[dict] = []
    models: dict[str, torch.nn.Module] = {}

    def evaluate(label: str, task: str, name: str, compare: bool, **kwargs) -> None:
        if name not in list_models():
            print(f"note: model '{name}' is not registered in this build; its row is left out")
            return
        model = load_model(name, **kwargs)
        result = evaluate_footage(
            model, task, video, frames=frames, compare_dense=compare, repeats=REPEATS[task]
        )
        threshold = getattr(model, "threshold", None) if compare else None
        rows.append({"model": label, "task": task, **({"threshold": threshold} if compare else {}), **result})
        if compare:
            dense = result["dense"]
            rows.append({"model": f"{label} (all active)", "task": task, **dense, "frames": result["frames"]})
        models.setdefault(label, model)

    evaluate("basicvsr", "vsr", "basicvsr", False)
    evaluate("basicvsr (demo ckpt)", "vsr", "basicvsr", False, ckpt=ckpt)
    evaluate("skipvsr-v2", "vsr", "skipvsr-v2", True)
    evaluate("rife", "vfi", "rife", False)
    evaluate("ugsp-rife", "vfi", "ugsp-rife", True)

    if {"basicvsr", "skipvsr-v2", "rife", "ugsp-rife"} <= set(models):
        sweeps = {
            f"{task.upper()}: {name} vs its dense baseline": threshold_sweep(
                name, task, video, frames, next(r for r in rows if r["model"] == name)
            )
            for name, task in (("skipvsr-v2", "vsr"), ("ugsp-rife", "vfi"))
        }
        atomic_write_text(out / "thresholds.json", json.dumps(sweeps, indent=2), overwrite=True)
        demo_pictures(out, models, video, frames, sweeps)
    else:
        print("note: a model is missing from this build; no pictures or threshold sweep")

    tables = []
    for task in ("vsr", "vfi"):
        title = f"{task.upper()} on carphone ({frames} frames, {torch.get_num_threads()} threads)"
        task_rows = [r for r in rows if r["task"] == task]
        print_results(task_rows, title=title)
        tables.append(results_markdown(task_rows, title=title))
    # The demo folder is the demo's own: each `make run` refreshes it (atomically, file by file).
    atomic_write_text(out / "results.json", json.dumps(rows, indent=2), overwrite=True)
    atomic_write_text(out / "results.md", "\n".join(tables), overwrite=True)
    print(f"results: {out / 'results.json'}; pictures: {sorted(str(p) for p in out.glob('*.png'))}")
    return rows
