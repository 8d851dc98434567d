"""`make gpu-check`: one short pass over the GPU paths, under 5 minutes on one GPU, results as JSON.

    python experiments/gpu_check.py [--out results/gpu] [--budget-s 290] [--list]

Steps, each timed, with its own time limit and its log and JSON under --out:
  1. the `cuda`-marked tests (`pytest -m cuda`),
  2. `dynskip bench engine --device cuda` for both workloads,
  3. `dynskip bench model --device cuda` at 720p: ugsp-rife on 1280x720 frames, skipvsr-v2 to 1280x720,
  4. 20 training steps of `skipvsr_video` and of `ugsp_rife_video` with
     `trainer=gpu trainer.precision=bf16-mixed`.
`summary.json` holds the environment and every step. Exit status: 0 all passed, 1 a step failed or was
cut by the budget, 2 torch sees no CUDA (then nothing runs and nothing is written).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
TRAIN_STEPS = 20


@dataclass
class Step:
    """One command; ``result`` is the JSON file it writes (read into the summary), ``check`` names what is
    wrong with that result (``None`` when fine)."""

    name: str
    command: list[str]
    timeout_s: float
    result: Path | None = None
    check: Callable[[dict], str | None] | None = None


def trained_all_steps(metrics: dict) -> str | None:
    """A run that finished its steps with a finite loss and validation PSNR (bf16 can turn them NaN)."""
    steps = metrics.get("global_step")
    if steps != TRAIN_STEPS:
        return f"global_step is {steps}, expected {TRAIN_STEPS}"
    bad = [k for k in ("train/loss", "val/psnr") if not math.isfinite(metrics.get(k, math.nan))]
    return f"not finite: {', '.join(f'{k}={metrics.get(k)}' for k in bad)}" if bad else None


def plan_steps(out: Path) -> list[Step]:
    dynskip = [sys.executable, "-m", "dynskip.cli.main"]
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-m", "cuda"]
    steps = [Step("cuda_tests", [*pytest, f"--junitxml={out / 'cuda_tests.xml'}", "tests"], 150)]
    for workload in ("basicvsr-trunk", "ugsp-decoder"):
        result = out / f"engine_{workload.replace('-', '_')}.json"
        command = [
            *dynskip,
            "bench",
            "engine",
            "--workload",
            workload,
            "--device",
            "cuda",
            "--json",
            str(result),
        ]
        steps.append(Step(f"engine_{workload}", command, 60, result))
    # bench model's --size is the frame size for VFI and the HR (output) size for VSR.
    for name, task, frames in (("ugsp-rife", "vfi", 5), ("skipvsr-v2", "vsr", 10)):
        result = out / f"model_{name.replace('-', '_')}_720p.json"
        command = [*dynskip, "bench", "model", "--task", task, "--model", name, "--size", "720x1280"]
        command += ["--frames", str(frames), "--device", "cuda", "--json", str(result)]
        steps.append(Step(f"model_{name}_720p", command, 90, result))
    for experiment in ("skipvsr_video", "ugsp_rife_video"):
        run_dir = out / f"train_{experiment}"
        command = [sys.executable, "-m", "dynskip.train", f"experiment={experiment}", "trainer=gpu"]
        command += ["trainer.precision=bf16-mixed", f"trainer.max_steps={TRAIN_STEPS}"]
        command += [f"trainer.val_check_interval={TRAIN_STEPS}", "trainer.limit_val_batches=1", "test=false"]
        command += ["logger=csv", f"hydra.run.dir={run_dir}"]
        steps.append(
            Step(f"train_{experiment}_bf16", command, 120, run_dir / "metrics.json", trained_all_steps)
        )
    return steps


def environment() -> dict:
    props = torch.cuda.get_device_properties(0)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": commit.stdout.strip() or None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "gpu": props.name,
        "gpu_memory_gib": round(props.total_memory / 2**30, 1),
        "capability": f"{props.major}.{props.minor}",
        "gpus": torch.cuda.device_count(),
    }


def _text(data: str | bytes | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else data or ""


def run_step(step: Step, out: Path, timeout_s: float) -> dict:
    """Run ``step`` from the repository root within ``timeout_s``; its output goes to ``<name>.log``."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(step.command, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
        returncode, output, error = proc.returncode, proc.stdout + proc.stderr, None
    except subprocess.TimeoutExpired as err:
        returncode, output = None, _text(err.stdout) + _text(err.stderr)
        error = f"timed out after {timeout_s:.0f} s"
    record: dict = {
        "name": step.name,
        "command": shlex.join(step.command),
        "returncode": returncode,
        "seconds": round(time.perf_counter() - start, 1),
        "log": str(out / f"{step.name}.log"),
    }
    (out / f"{step.name}.log").write_text(output)
    if error is None and returncode != 0:
        tail = output.strip().splitlines()[-1:] or [""]
        error = f"exit status {returncode}: {tail[0][:300]}"
    if error is None and step.result is not None:
        if not step.result.is_file():
            error = f"{step.result} was not written"
        else:
            record["result"] = json.loads(step.result.read_text())
            error = step.check(record["result"]) if step.check else None
    record["ok"], record["error"] = error is None, error
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "results" / "gpu", help="where the JSON goes")
    parser.add_argument("--budget-s", type=float, default=290.0, help="stop starting steps after this")
    parser.add_argument("--list", action="store_true", help="print the commands and exit (needs no GPU)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    steps = plan_steps(out)
    if args.list:
        for step in steps:
            print(f"{step.name} (limit {step.timeout_s:.0f} s): {shlex.join(step.command)}")
        return 0
    if not torch.cuda.is_available():
        build = "a CPU build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
        print(
            f"gpu-check: torch {torch.__version__} ({build}) sees no CUDA device, so nothing was run or "
            f"written. Run it on a machine with an NVIDIA GPU, with a CUDA build of torch in {sys.prefix}.",
            file=sys.stderr,
        )
        return 2
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"env": environment(), "steps": []}
    start = time.perf_counter()
    for step in steps:
        left = args.budget_s - (time.perf_counter() - start)
        if left < 10:
            record = {"name": step.name, "command": shlex.join(step.command), "ok": False}
            record["error"] = f"not started: the {args.budget_s:.0f} s budget was spent"
        else:
            record = run_step(step, out, min(step.timeout_s, left))
        summary["steps"].append(record)
        status = "ok" if record["ok"] else f"FAILED ({record['error']})"
        print(f"{step.name}: {status} in {record.get('seconds', 0)} s", flush=True)
    summary["seconds"] = round(time.perf_counter() - start, 1)
    summary["ok"] = all(record["ok"] for record in summary["steps"])
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    verdict = "passed" if summary["ok"] else "FAILED"
    print(f"gpu-check {verdict} in {summary['seconds']} s: {out / 'summary.json'}")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
