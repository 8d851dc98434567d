"""The ``dynskip`` command: footage evaluation, video in/out, FLOPs, benchmarks, the demo, reports.

Training and dataset evaluation are Hydra entry points (``dynskip-train``, ``dynskip-eval``); this
command covers what works on a single video file or a sweep folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--size must look like HxW (e.g. 256x448), got {text!r}") from err
    return h, w


def _fractions(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"--fractions must be comma-separated numbers, got {text!r}"
        ) from err
    if not all(0 < v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"--fractions must lie in (0, 1], got {values}")
    return values


def _model_arg(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with a YAML value (``1``, ``0.5``, ``true``, ``[2, 3]``, text)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise argparse.ArgumentTypeError(
            f"--model-arg must look like KEY=VALUE (e.g. active_halo_tiles=1), got {text!r}"
        )
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise argparse.ArgumentTypeError(
            f"--model-arg {key}: value {value!r} is not valid YAML ({err})"
        ) from err


def write_json(data: object, path: str | Path | None) -> None:
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def _add_model_args(p: argparse.ArgumentParser, default_model: str | None = None) -> None:
    p.add_argument(
        "--model",
        required=default_model is None,
        default=default_model,
        help="registered model name (see `dynskip models`)",
    )
    p.add_argument("--weights", default=None, help="built-in weights name or checkpoint file")
    p.add_argument("--ckpt", default=None, help="Lightning checkpoint of a trained task")
    p.add_argument("--threshold", type=float, default=None, help="test-time skipping threshold")
    p.add_argument(
        "--model-arg",
        type=_model_arg,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a constructor argument of the model (repeatable), e.g. active_halo_tiles=1",
    )
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])


def _load_model(args: argparse.Namespace) -> tuple[object, dict]:
    """The model named by the ``_add_model_args`` options, and the fields naming it in a result."""
    from dynskip.evaluation.loading import default_weights, load_model
    from dynskip.skip.protocol import SkippingModel

    if args.weights is None and args.ckpt is None:
        args.weights = default_weights(args.model)
    model_args = dict(args.model_arg)
    model = load_model(args.model, args.weights, args.ckpt, args.device, args.threshold, model_args)
    # The threshold the model runs at (its default, --threshold or --model-arg threshold=...).
    threshold = model.threshold if isinstance(model, SkippingModel) else None
    named = {"model": args.model, "weights": args.weights, "ckpt": args.ckpt, "threshold": threshold}
    return model, {**named, "model_args": model_args}


def cmd_evaluate(args: argparse.Namespace) -> dict:
    from dynskip.evaluation.footage import evaluate_footage
    from dynskip.evaluation.report import print_results

    model, named = _load_model(args)
    result = evaluate_footage(
        model,
        args.task,
        args.video,
        frames=args.frames,
        start=args.start,
        device=args.device,
        compare_dense=args.compare_dense,
        repeats=args.repeats,
    )
    result = {**named, **result}
    print_results([result], title=f"{args.model} on {Path(args.video).name}")
    write_json(result, args.json)
    return result


def cmd_video(args: argparse.Namespace) -> None:
    """``upscale`` / ``interpolate``: the model's own video-in, video-out routine."""
    from dynskip.evaluation import streaming

    model, _ = _load_model(args)
    if args.command == "upscale":
        options = {"chunk": args.chunk, "overlap": args.overlap}
        run = streaming.upscale_video
    else:
        options = {"factor": args.factor}
        run = streaming.interpolate_video
    n = run(model, args.input, args.output, device=args.device, overwrite=args.overwrite, **options)
    print(f"wrote {n} frames to {args.output}")


def cmd_bench_model(args: argparse.Namespace) -> dict:
    """Speed-up, MACs saved and PSNR drop of a skipping model on a seeded synthetic clip."""
    from dynskip.data.synthetic import SyntheticClips
    from dynskip.evaluation.footage import evaluate_clip
    from dynskip.evaluation.report import print_results

    if args.frames < 3:
        raise ValueError(f"--frames must be at least 3, got {args.frames}")
    model, named = _load_model(args)
    clips = SyntheticClips("vfi", 1, args.size, seed=7, max_speed=args.speed, texture=args.texture)
    clip = clips.render(0, [float(t) for t in range(args.frames)])
    source = f"synthetic {args.texture} {args.size[0]}x{args.size[1]}, speed {args.speed}, seed 7"
    result = evaluate_clip(
        model, args.task, clip, source, args.device, compare_dense=True, repeats=args.repeats
    )
    result = {**named, **result}
    print_results([result], title=f"bench: {args.model} on {source}")
    write_json(result, args.json)
    return result


def cmd_flops(args: argparse.Namespace) -> dict:
    from dynskip.flops import flops_report

    report = flops_report(args.model, size=args.size, frames=args.frames)
    print(json.dumps(report, indent=2))
    write_json(report, args.json)
    return report


def cmd_bench(args: argparse.Namespace) -> list[dict]:
    from dynskip.evaluation.report import print_rows
    from dynskip.skip.bench import DEFAULT_TILE, run_engine_bench, write_bench_json

    tile = args.tile or DEFAULT_TILE[args.workload]
    rows = run_engine_bench(
        workload=args.workload,
        fractions=args.fractions,
        repeats=args.repeats,
        device=args.device,
        tile=tile,
        size=args.size,
        depth=args.depth,
        clock=args.clock,
    )
    print_rows(rows, title=f"engine bench: {args.workload} ({args.device}, tile {tile}, {args.clock} clock)")
    if args.json:
        meta = {"workload": args.workload, "device": args.device, "tile": tile, "clock": args.clock}
        meta.update({"size": args.size, "depth": args.depth})
        write_bench_json(rows, args.json, meta)
    return rows


def cmd_models(args: argparse.Namespace) -> None:
    from dynskip.models import get_entry, list_models

    for name in list_models():
        entry = get_entry(name)
        print(f"{name:12s} task={entry.task:4s} weights={sorted(entry.pretrained)}")


def cmd_demo(args: argparse.Namespace) -> None:
    from dynskip.demo import run_demo

    run_demo(Path(args.out), frames=args.frames, train_steps=args.train_steps)


def cmd_report(args: argparse.Namespace) -> None:
    from dynskip.analysis import write_report
    from dynskip.analysis.jobs import COST_KEYS, QUALITY_KEYS, SPEED_KEYS

    report = write_report(
        args.inputs,
        args.out,
        quality=args.quality or QUALITY_KEYS,
        cost=args.cost or COST_KEYS,
        speed=args.speed or SPEED_KEYS,
    )
    for fronts in report.sources:
        jobs = fronts.source.jobs
        ok = sum(job.ok for job in jobs)
        best = fronts.best.name if fronts.best else None
        where = f"{fronts.source.name}: " if len(report.sources) > 1 else ""
        print(f"{where}{len(jobs)} jobs ({ok} with metrics.json); best: {best}")
    for name, reason in report.left_out.items():
        print(f"left out of the fronts: {name}: {reason}")
    for path in (report.table, report.pareto, report.gallery, report.summary):
        if path is not None:
            print(f"wrote {path}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dynskip", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("evaluate", help="quality, speed and MACs of a model on a video")
    p.add_argument("--task", required=True, choices=["vsr", "vfi"])
    _add_model_args(p)
    p.add_argument("--video", required=True, help="video file or frame folder")
    p.add_argument("--frames", type=int, default=None, help="number of frames (default: all)")
    p.add_argument("--start", type=int, default=0, help="first frame")
    p.add_argument("--compare-dense", action="store_true", help="also run all units active; report speedup")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (median)")
    p.add_argument("--json", default=None, help="write the results here")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("upscale", help="super-resolve a video x4")
    p.add_argument("input")
    p.add_argument("output", help="video file (.mp4/.mkv/...) or a folder for PNG frames")
    _add_model_args(p, default_model="basicvsr")
    p.add_argument("--chunk", type=int, default=30, help="frames produced per recurrent window")
    p.add_argument("--overlap", type=int, default=5, help="context frames on each side of a window")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(func=cmd_video)

    p = sub.add_parser("interpolate", help="raise a video's frame rate")
    p.add_argument("input")
    p.add_argument("output")
    _add_model_args(p, default_model="rife")
    p.add_argument("--factor", type=int, default=2)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(func=cmd_video)

    p = sub.add_parser("flops", help="params, dense GMACs and what each prunable unit can save")
    p.add_argument("--model", required=True)
    p.add_argument("--size", type=_size, default=None, help="input HxW (VSR: LR size)")
    p.add_argument("--frames", type=int, default=None, help="frames per clip (VSR)")
    p.add_argument("--json", default=None)
    p.set_defaults(func=cmd_flops)

    p = sub.add_parser("bench", help="benchmarks")
    bench = p.add_subparsers(dest="bench", required=True)
    q = bench.add_parser("engine", help="sparse engine vs dense, interleaved medians")
    q.add_argument("--workload", default="basicvsr-trunk", choices=["basicvsr-trunk", "ugsp-decoder"])
    q.add_argument("--fractions", type=_fractions, default=(1.0, 0.75, 0.5, 0.25, 0.1))
    q.add_argument("--repeats", type=int, default=5)
    q.add_argument("--tile", type=int, default=None)
    q.add_argument("--size", type=_size, default=None, help="feature HxW (default: the workload's)")
    q.add_argument("--depth", type=int, default=None, help="blocks / decoder convs (default: the workload's)")
    q.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    q.add_argument(
        "--clock",
        default="wall",
        choices=["wall", "cpu"],
        help="wall time, or one-thread CPU time (robust on a shared machine)",
    )
    q.add_argument("--json", default=None)
    q.set_defaults(func=cmd_bench)
    q = bench.add_parser(
        "model", help="a skipping model vs its dense baseline on a synthetic clip (allowed footage)"
    )
    q.add_argument("--task", required=True, choices=["vsr", "vfi"])
    _add_model_args(q)
    q.add_argument("--size", type=_size, required=True, help="frame HxW (VSR: the HR size)")
    q.add_argument("--frames", type=int, default=5)
    q.add_argument("--texture", default="dead_leaves", choices=["noise", "dead_leaves"])
    q.add_argument("--speed", type=float, default=4.0, help="largest motion, pixels per frame")
    q.add_argument("--repeats", type=int, default=3, help="timed repeats (median)")
    q.add_argument("--json", default=None)
    q.set_defaults(func=cmd_bench_model)

    p = sub.add_parser("models", help="list registered models and their built-in weights")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("demo", help="what `make run` does: short training + evaluation on carphone")
    p.add_argument("--out", default="results/demo")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--train-steps", type=int, default=20)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "report",
        help="Pareto plot, job table and mask gallery of sweeps and evaluate results (fronts overlaid)",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="SWEEP_DIR_OR_JSON",
        help="Hydra multirun folders (logs/train/multiruns/<date>) and `dynskip evaluate --json` files; "
        "several are overlaid, one front each (results grouped per model, dense baselines apart)",
    )
    p.add_argument(
        "-o", "--out", default=None, help="output folder (default for one sweep folder: SWEEP_DIR/report)"
    )
    p.add_argument("--quality", default=None, help="key to maximise (default: test/psnr|val/psnr)")
    p.add_argument("--cost", default=None, help="key to minimise (default: val/skip/gmacs_actual)")
    p.add_argument("--speed", default=None, help="speed-up key (default: val/latency/speedup)")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
