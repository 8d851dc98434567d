"""``make run``: the main job on the bundled default, no dataset needed.

1. A short Hydra training run (``experiment=demo``: BasicVSR from the official REDS4 weights,
   fine-tuned a few steps on carphone clips) through the same ``train()`` as ``dynskip-train``.
2. Evaluation on carphone_pristine.mp4 of dense BasicVSR, the demo checkpoint and SkipVSR (VSR), and
   dense RIFE v3.9 and UGSP-RIFE (VFI), with measured speed-ups of the skipping models over their
   dense backbones; a results table, ``results.json``, ``results.md`` and input / output / target
   pictures.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from dynskip.assets import asset_path
from dynskip.config import compose_config
from dynskip.evaluation.footage import evaluate_footage, load_frames, vfi_workload, vsr_workload
from dynskip.evaluation.loading import load_model
from dynskip.evaluation.report import print_results, results_markdown
from dynskip.models import list_models
from dynskip.utils.atomic import atomic_write_text
from dynskip.utils.images import make_row, save_png


def train_demo(out: Path, steps: int) -> Path:
    from dynskip.train import train

    # restart=true: a repeated demo moves its earlier training run to train/restarted/<time>/ instead of
    # mixing with it (and then evaluating the earlier run's last.ckpt).
    overrides = ["experiment=demo", f"trainer.max_steps={steps}", "restart=true"]
    cfg = compose_config("train", overrides, out / "train")
    metrics = train(cfg)
    print(f"demo training: {steps} steps, final metrics {json.dumps(metrics)}")
    return out / "train" / "checkpoints" / "last.ckpt"


def picture(model, task: str, clip: torch.Tensor, path: Path) -> None:
    """Input / output / target of the middle output frame."""
    work = (vsr_workload if task == "vsr" else vfi_workload)(model, clip, "cpu")
    with torch.inference_mode():
        pred = work.run()
    k = pred.shape[0] // 2
    if task == "vsr":
        lq = torch.nn.functional.interpolate(
            work.targets[k : k + 1], scale_factor=0.25, mode="bicubic", antialias=True
        )
        inp = torch.nn.functional.interpolate(lq, size=pred.shape[-2:], mode="nearest")[0]
    else:
        inp = 0.5 * (clip[2 * k] + clip[2 * k + 2])  # the two input frames, blended
    save_png(make_row([inp, pred[k], work.targets[k]]), path)


def run_demo(out: Path, frames: int = 30, train_steps: int = 20) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    video = asset_path("carphone")
    ckpt = train_demo(out, train_steps)

    rows: list[dict] = []

    def evaluate(label: str, task: str, name: str, compare: bool, **kwargs) -> None:
        if name not in list_models():
            print(f"note: model '{name}' is not registered in this build; its row is left out")
            return
        model = load_model(name, **kwargs)
        # A VFI pass is ~0.6 s (14 frames): 3 repeats left its speed-up noise-bound (1.06x-1.29x over
        # quiet runs), so it gets 9; a VSR pass is ~5 s and 3 repeats hold.
        repeats = 3 if task == "vsr" else 9
        result = evaluate_footage(model, task, video, frames=frames, compare_dense=compare, repeats=repeats)
        rows.append({"model": label, "task": task, **result})
        if compare:
            dense = result["dense"]
            rows.append({"model": f"{label} (all active)", "task": task, **dense, "frames": result["frames"]})
        if label in ("basicvsr", "rife"):
            picture(model, task, load_frames(video, frames, 0), out / f"{task}_{label}_carphone.png")

    evaluate("basicvsr", "vsr", "basicvsr", False)
    evaluate("basicvsr (demo ckpt)", "vsr", "basicvsr", False, ckpt=ckpt)
    evaluate("skipvsr", "vsr", "skipvsr", True)
    evaluate("rife", "vfi", "rife", False)
    evaluate("ugsp-rife", "vfi", "ugsp-rife", True)

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
