"""The ``dynskip`` command: footage evaluation, video in/out, FLOPs, benchmarks, the demo, reports.

Training and dataset evaluation are Hydra entry points (``dynskip-train``, ``dynskip-eval``); this
command covers what works on a single video file or a sweep folder.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from dynskip import __version__
from dynskip.cli.errors import CLIError, Parser, one_line_warnings, run_reporting_errors, warn_deprecated
from dynskip.cli.options import autocast_dtype, expand_inputs, resolve_device, resolve_task
from dynskip.cli.video import add_save_masks_option, add_video_options


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except the empty ones (None, False, [])."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, [], argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


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


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _gib(text: str) -> int:
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"must be a number of GiB, got {text!r}") from err
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 GiB, got {value}")
    return int(value * 1024**3)


def parse_model_arg(text: str) -> tuple[str, object]:
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


def print_summary(command: str, done: str, seconds: float, output: object) -> None:
    """The line a long command ends with, e.g. ``evaluate: 14 frames in 3.2 s -> r.json`` (stderr, so it
    stays clear of ``--json`` on stdout, and after the progress bar, which clears itself)."""
    print(f"{command}: {done} in {seconds:.1f} s -> {output or 'no file written'}", file=sys.stderr)


def write_json(data: object, path: str | Path | None, overwrite: bool = False) -> None:
    """Write ``data`` atomically; an existing file is replaced only with ``overwrite``."""
    from dynskip.utils.atomic import atomic_write_text

    if path is not None:
        atomic_write_text(path, json.dumps(data, indent=2), overwrite=overwrite)


def _check_json(args: argparse.Namespace, inputs: tuple = (), out_is_json: bool = True) -> None:
    """Refuse a JSON output (``-o`` / ``--json PATH``) over an input or an existing file (without
    ``--overwrite``) before any work. ``out_is_json=False``: ``-o`` is another output (a video, an
    exported model), checked by its command; only ``--json PATH`` is checked here."""
    from dynskip.utils.atomic import check_output

    for path in (getattr(args, "out", None) if out_is_json else None, _json_file(args)):
        if path is not None:
            check_output(path, folder=False, overwrite=getattr(args, "overwrite", False), inputs=inputs)


def _json_path(text: str) -> str:
    """``--json PATH`` (the older spelling of ``-o PATH``) must name a .json file, so that a bare
    ``--json`` followed by the input cannot take the input for its path and overwrite it."""
    if Path(text).suffix.lower() != ".json":
        raise argparse.ArgumentTypeError(
            f"--json takes no value or a .json path, got {text!r}; give inputs before --json or use -o"
        )
    return text


def _add_output_args(p: argparse.ArgumentParser, out_help: str = "write the JSON results here") -> None:
    p.add_argument("-o", "--out", default=None, help=out_help)
    p.add_argument(
        "--json",
        nargs="?",
        const=True,
        default=None,
        type=_json_path,
        metavar="PATH",
        help="print machine-readable JSON on stdout (with PATH: write it there, as -o)",
    )


def emit(result: object, args: argparse.Namespace, out: str | Path | None = None) -> None:
    """Write ``result`` to ``out`` and to ``--json PATH``; a bare ``--json`` prints it on stdout."""
    overwrite = getattr(args, "overwrite", False)
    write_json(result, out, overwrite)
    json_file = _json_file(args)
    if json_file is not None:
        if out is None or not _same_file(json_file, out):
            write_json(result, json_file, overwrite)
    elif args.json:
        print(json.dumps(result, indent=2))


def wants_table(args: argparse.Namespace) -> bool:
    """Human tables go to stdout unless a bare ``--json`` takes it for the JSON."""
    return args.json is not True


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
        type=parse_model_arg,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a constructor argument of the model (repeatable), e.g. active_halo_tiles=1",
    )
    _add_device_arg(p)
    precision = p.add_mutually_exclusive_group()
    for name, what in (("fp16", "float16 (CUDA)"), ("bf16", "bfloat16 (CUDA or CPU)")):
        precision.add_argument(
            f"--{name}",
            dest="precision",
            action="store_const",
            const=name,
            help=f"run the model under {what} autocast",
        )
    p.set_defaults(precision="fp32")
    p.add_argument(
        "--allow-random-weights",
        action="store_true",
        help="run a model that has no trained weights (results are marked weights: random)",
    )


def _add_memory_limit(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-memory",
        type=_gib,
        default=None,
        metavar="GIB",
        help="refuse runs estimated above this memory (default: half of this machine's RAM)",
    )


def _add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")


def _load_model(args: argparse.Namespace) -> tuple[object, dict]:
    """The model named by the ``_add_model_args`` options, and the fields naming it in a result."""
    from dynskip.evaluation.loading import RANDOM_WEIGHTS, default_weights, load_model
    from dynskip.skip.protocol import SkippingModel

    if args.weights is None and args.ckpt is None:
        args.weights = default_weights(args.model)
    model_args = dict(args.model_arg)
    model = load_model(
        args.model,
        args.weights,
        args.ckpt,
        args.device,
        args.threshold,
        model_args,
        args.allow_random_weights,
    )
    if args.weights is None and args.ckpt is None:
        args.weights = RANDOM_WEIGHTS
    # The threshold the model runs at (its default, --threshold or --model-arg threshold=...).
    threshold = model.threshold if isinstance(model, SkippingModel) else None
    named = {"model": args.model, "weights": args.weights, "ckpt": args.ckpt, "threshold": threshold}
    return model, {**named, "model_args": model_args}


def cmd_evaluate(args: argparse.Namespace) -> list[dict]:
    from dynskip.evaluation.footage import evaluate_footage
    from dynskip.evaluation.preflight import check_evaluate_memory
    from dynskip.evaluation.report import print_results

    if args.video is not None:
        warn_deprecated("--video", f"pass the video as the input: dynskip evaluate {args.video} ...")
        args.inputs = [*args.inputs, args.video]
    inputs = expand_inputs(args.inputs)
    if args.save_masks is not None and len(inputs) > 1:
        raise CLIError(f"--save-masks writes one video; {len(inputs)} inputs were given")
    task = resolve_task(args.model, args.task, "evaluate")
    _check_json(args, inputs=tuple(inputs))
    if args.save_masks is not None:
        _check_evaluation_masks(args, inputs[0])
    for video in inputs:
        check_evaluate_memory(args.model, task, video, args.frames, args.start, args.max_memory)
    model, named = _load_model(args)
    if args.save_masks is not None:
        _save_evaluation_masks(args, model, task, inputs[0])
    start = time.perf_counter()
    results = []
    for video in inputs:
        result = evaluate_footage(
            model,
            task,
            video,
            frames=args.frames,
            start=args.start,
            device=args.device,
            compare_dense=args.compare_dense,
            repeats=args.repeats,
            degradation=args.degradation,
            autocast=args.autocast,
            compile_backend=args.compile_backend if args.compile else None,
        )
        results.append({**named, **result})
        if wants_table(args):
            print_results([results[-1]], title=f"{args.model} on {video.name}")
    # One input gives one JSON object, as before several inputs were accepted.
    emit(results[0] if len(results) == 1 else results, args, args.out)
    frames = sum(r["frames"] for r in results)
    print_summary("evaluate", f"{frames} frames", time.perf_counter() - start, args.out or _json_file(args))
    return results


def _check_evaluation_masks(args: argparse.Namespace, video: Path) -> None:
    """``evaluate --save-masks``, before the model loads: never the input or a JSON output, and never
    an existing file (evaluate's --overwrite is for its JSON: masks are not replaced silently)."""
    from dynskip.data.video import check_video_output
    from dynskip.utils.atomic import refuse_same_path

    refuse_same_path(args.save_masks, (video,))
    if Path(args.save_masks).exists():
        raise CLIError(f"--save-masks {args.save_masks} exists; remove it or name another path")
    check_video_output(args.save_masks, overwrite=False)  # a bad name or an unwritable folder
    _refuse_same_outputs("--save-masks", args.save_masks, (args.out, _json_file(args)))


def _save_evaluation_masks(args: argparse.Namespace, model: object, task: str, video: Path) -> None:
    """``evaluate --save-masks``: one pass as evaluate runs it, drawn before the timed passes."""
    from dynskip.evaluation.footage import load_frames
    from dynskip.evaluation.masks import require_skipping, save_mask_video

    require_skipping(model, args.model)
    clip = load_frames(video, args.frames, args.start)
    panels = save_mask_video(model, task, clip, args.device, args.save_masks, args.degradation)
    print(f"evaluate: skip masks ({', '.join(panels)}) -> {args.save_masks}", file=sys.stderr)


def _json_file(args: argparse.Namespace) -> str | None:
    return args.json if isinstance(args.json, str) else None


def _same_file(a: str | Path, b: str | Path) -> bool:
    """``-o r.json --json r.json``: one file, written once."""
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def _refuse_same_outputs(flag: str, path: str | Path, others: tuple) -> None:
    """Two different outputs of one run may not share a path (one would write over the other)."""
    for other in others:
        if other is not None and _same_file(path, other):
            raise CLIError(f"{flag} {path} is also the output {other}; give it another path")


def _output_next_to(source: Path, suffix: str, folder: Path | None = None) -> Path:
    """``NAME_<suffix>.mp4`` (a frame folder gives a frame folder) beside ``source`` or in ``folder``."""
    name = f"{source.stem}_{suffix}{'' if source.is_dir() else '.mp4'}"
    return (source.parent if folder is None else folder) / name


def _video_jobs(args: argparse.Namespace, suffix: str) -> list[tuple[Path, Path]]:
    """``(input, output)`` pairs of ``upscale`` / ``interpolate``. ``dynskip upscale IN OUT`` is the old
    spelling of ``dynskip upscale IN -o OUT``; several inputs write into the folder ``-o`` (default:
    each beside its input)."""
    from dynskip.data.video import VIDEO_SUFFIXES

    paths = list(args.paths)
    if len(paths) == 2 and args.out is None and not glob.has_magic(paths[1]):
        if Path(paths[1]).exists():  # the old 'IN OUT' reading would replace what may be a second input
            raise CLIError(
                f"{paths[1]} exists: as the old positional output it would be replaced, as a second input "
                f"it needs -o; use `-o {paths[1]} --overwrite` to replace it, or `-o FOLDER` for two inputs"
            )
        warn_deprecated("the positional output", f"use -o: dynskip {args.command} {paths[0]} -o {paths[1]}")
        args.out = paths.pop()
    sources = expand_inputs(paths)
    # A glob names a folder's worth of inputs however many it matches: -o is then always that folder.
    if len(sources) == 1 and not any(glob.has_magic(p) for p in paths):
        out = Path(args.out) if args.out is not None else _output_next_to(sources[0], suffix)
        return [(sources[0], out)]
    if args.save_masks is not None:
        raise CLIError(f"--save-masks writes one video; {len(sources)} inputs were given")
    folder = None if args.out is None else Path(args.out)
    if folder is not None and folder.suffix.lower() in VIDEO_SUFFIXES:
        raise CLIError(f"-o {folder} is a video; with several inputs or a glob, -o must name a folder")
    jobs = [(source, _output_next_to(source, suffix, folder)) for source in sources]
    targets = [target for _, target in jobs]
    clashing = sorted({str(t) for t in targets if targets.count(t) > 1})
    if clashing:
        raise CLIError(f"several inputs would write the same output {clashing}; run them separately")
    return jobs


def cmd_video(args: argparse.Namespace) -> list[dict]:
    """``upscale`` / ``interpolate``: the model's own video-in, video-out routine, input by input.

    Every output is checked (not an input, replaceable, writable) and every input's memory estimated
    before the model loads."""
    from dynskip.cli.options import require_task
    from dynskip.data.video import check_video_output
    from dynskip.evaluation import streaming
    from dynskip.evaluation.preflight import check_interpolate_memory, check_upscale_memory

    if args.command == "upscale":
        require_task(args.model, "upscale", "vsr")
        jobs = _video_jobs(args, "x4")
        options = {"chunk": args.chunk, "overlap": args.overlap, "tile": args.tile}
        run = streaming.upscale_video
    else:
        require_task(args.model, "interpolate", "vfi")
        jobs = _video_jobs(args, f"{args.factor}x")
        options = {"factor": args.factor}
        run = streaming.interpolate_video
    sources = tuple(source for source, _ in jobs)
    targets = tuple(target for _, target in jobs)
    _check_json(args, inputs=sources, out_is_json=False)
    if args.save_masks is not None:  # one input (_video_jobs): the masks of its output
        check_video_output(args.save_masks, args.overwrite, inputs=sources)
        _refuse_same_outputs("--save-masks", args.save_masks, targets)
    for source, target in jobs:
        check_video_output(target, args.overwrite, inputs=sources)
        if args.command == "upscale":
            check_upscale_memory(args.model, source, args.chunk, args.overlap, args.tile, args.max_memory)
        else:
            check_interpolate_memory(args.model, source, args.max_memory)
    model, named = _load_model(args)
    summaries = [{**named, **_video_job(args, model, run, options, *job)} for job in jobs]
    emit(summaries[0] if len(summaries) == 1 else summaries, args)
    return summaries


def _video_job(
    args: argparse.Namespace, model: object, run: Callable, options: dict, source: Path, target: Path
) -> dict:
    """One input through ``run`` (``upscale_video`` / ``interpolate_video``), then its audio; a summary."""
    from dynskip.cli import video
    from dynskip.data.video import probe_video

    scene_cuts: list[int] = []
    options = {**options, **video.streaming_options(args, model, scene_cuts)}
    start = time.perf_counter()
    with video.autocast_context(args.device, args.autocast), video.mask_recorder(args, model) as hook:
        n = run(model, source, target, device=args.device, overwrite=args.overwrite, **options, **hook)
    audio = video.carry_audio(args, source, target, probe_video(source).fps)
    seconds = time.perf_counter() - start
    summary = {"input": str(source), "output": str(target), "frames": n, "seconds": seconds, "audio": audio}
    summary.update(precision=args.precision, masks=args.save_masks)
    if args.command == "interpolate":
        summary["scene_cuts"] = scene_cuts
    cuts = f", {len(scene_cuts)} scene cut(s) repeated" if scene_cuts else ""
    print(f"{args.command}: {n} frames in {seconds:.1f} s{cuts}, audio {audio} -> {target}", file=sys.stderr)
    return summary


def cmd_bench_model(args: argparse.Namespace) -> dict:
    """Speed-up, MACs saved and PSNR drop of a skipping model on a seeded synthetic clip."""
    from dynskip.data.synthetic import SyntheticClips
    from dynskip.evaluation.footage import evaluate_clip
    from dynskip.evaluation.report import print_results

    if args.frames < 3:
        raise CLIError(f"--frames must be at least 3, got {args.frames}")
    task = resolve_task(args.model, args.task, "bench model")
    _check_json(args)
    model, named = _load_model(args)
    start = time.perf_counter()
    # --size is the model's input frame size; a VSR clip is rendered at x4 and BI-degraded to it.
    scale = 4 if task == "vsr" else 1
    size = (args.size[0] * scale, args.size[1] * scale)
    clips = SyntheticClips("vfi", 1, size, seed=7, max_speed=args.speed, texture=args.texture)
    clip = clips.render(0, [float(t) for t in range(args.frames)])
    source = f"synthetic {args.texture} {size[0]}x{size[1]}, speed {args.speed}, seed 7"
    result = evaluate_clip(model, task, clip, source, args.device, True, args.repeats, autocast=args.autocast)
    result = {**named, **result}
    if wants_table(args):
        print_results([result], title=f"bench: {args.model} on {source}")
    emit(result, args, args.out)
    seconds = time.perf_counter() - start
    print_summary("bench model", f"{result['frames']} frames", seconds, args.out or _json_file(args))
    return result


def cmd_flops(args: argparse.Namespace) -> dict:
    from dynskip.flops import flops_report

    _check_json(args)
    report = flops_report(args.model, size=args.size, frames=args.frames)
    if wants_table(args):
        print(json.dumps(report, indent=2))
    emit(report, args, args.out)
    return report


def cmd_bench(args: argparse.Namespace) -> list[dict]:
    from dynskip.benchmarks.engine import DEFAULT_TILE, run_engine_bench, write_bench_json
    from dynskip.evaluation.report import print_rows

    _check_json(args)
    tile = args.tile or DEFAULT_TILE[args.workload]
    start = time.perf_counter()
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
    if wants_table(args):
        title = f"engine bench: {args.workload} ({args.device}, tile {tile}, {args.clock} clock)"
        print_rows(rows, title=title)
    meta = {"workload": args.workload, "device": args.device, "tile": tile, "clock": args.clock}
    meta.update({"size": args.size, "depth": args.depth})
    paths = [p for p in (args.out, _json_file(args)) if p is not None]
    for path in paths[:1] if len(paths) == 2 and _same_file(*paths) else paths:  # one file: once
        write_bench_json(rows, path, meta, overwrite=args.overwrite)
    if args.json is True:
        print(json.dumps({"meta": meta, "rows": rows}, indent=2))
    output = args.out or _json_file(args)
    rounds = f"{len(rows)} fractions x {args.repeats + 1} rounds"
    print_summary("bench engine", rounds, time.perf_counter() - start, output)
    return rows


def cmd_models(args: argparse.Namespace) -> list[dict]:
    from dynskip.models import get_entry, list_models

    rows = []
    for name in list_models():
        entry = get_entry(name)
        rows.append({"name": name, "task": entry.task, "weights": sorted(entry.pretrained)})
        if not args.json:
            print(f"{name:12s} task={entry.task:4s} weights={sorted(entry.pretrained)}")
    if args.json:
        print(json.dumps(rows, indent=2))
    return rows


def cmd_export(args: argparse.Namespace) -> dict:
    from dynskip.cli.export import export_model, export_path
    from dynskip.utils.atomic import check_output

    # Before the model loads: the exported file is not the weights read, nor an existing file
    # (without --overwrite), nor in an unwritable folder; the same for --json PATH.
    check_output(export_path(args), folder=False, overwrite=args.overwrite, inputs=(args.weights,))
    _check_json(args, inputs=(args.weights,), out_is_json=False)
    if _json_file(args) is not None:
        _refuse_same_outputs("--json", _json_file(args), (export_path(args),))
    start = time.perf_counter()
    result = export_model(args)
    seconds = time.perf_counter() - start
    print(
        f"export: {args.model} as {args.format} in {seconds:.1f} s, max |exported - eager| "
        f"{result['max_abs_diff_vs_eager']:.2e} -> {result['output']}",
        file=sys.stderr,
    )
    emit(result, args)
    return result


def cmd_demo(args: argparse.Namespace) -> None:
    from dynskip.demo import run_demo

    start = time.perf_counter()
    rows = run_demo(Path(args.out), frames=args.frames, train_steps=args.train_steps)
    done = f"{args.train_steps} training steps, {len(rows)} results on {args.frames} frames"
    print_summary("demo", done, time.perf_counter() - start, Path(args.out) / "results.json")


def cmd_report(args: argparse.Namespace) -> None:
    from dynskip.analysis import write_report
    from dynskip.analysis.jobs import COST_KEYS, QUALITY_KEYS, SPEED_KEYS

    report = write_report(
        args.inputs,
        args.out,
        quality=args.quality or QUALITY_KEYS,
        cost=args.cost or COST_KEYS,
        speed=args.speed or SPEED_KEYS,
        overwrite=args.overwrite,
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


def cmd_footage(args: argparse.Namespace) -> None:
    """``footage list`` / ``footage show``: the real footage pool on this machine."""
    from dynskip.data import footage_info

    if args.footage == "list":
        _check_json(args)
        rows = footage_info.list_footage()
        if wants_table(args):
            print(footage_info.format_footage(rows))
        emit(rows, args, args.out)
        return
    if args.out is None:
        raise CLIError("footage show needs -o/--out PNG")
    path = footage_info.save_contact_sheet(args.name, args.out, args.count, args.width, args.overwrite)
    print(f"wrote {path}")


def _add_footage(sub) -> None:
    p = _add_subcommand(sub, "footage", "the real footage pool: list its clips, show one")
    footage = p.add_subparsers(dest="footage", required=True, parser_class=Parser)
    q = _add_subcommand(footage, "list", "name, role, size, frames, fps, found or missing, where")
    _add_output_args(q, out_help="also write the rows here as JSON")
    q.add_argument("--overwrite", action="store_true", help="replace an existing JSON file")
    q.set_defaults(func=cmd_footage)
    q = _add_subcommand(footage, "show", "a contact sheet of a few frames of one clip")
    q.add_argument("name", help="a clip of `dynskip footage list`")
    q.add_argument("-o", "--out", default=None, help="PNG file to write (required)")
    q.add_argument("--count", type=int, default=6, help="frames on the sheet")
    q.add_argument("--width", type=int, default=320, help="width of each frame in pixels")
    q.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    q.set_defaults(func=cmd_footage)


def _add_subcommand(sub, name: str, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text, formatter_class=DefaultsHelpFormatter)
    # SUPPRESS: a subcommand's default must not reset a --debug given before it.
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    return p


def _add_task_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--task",
        choices=["vsr", "vfi"],
        default=None,
        help="deprecated: inferred from --model's registry entry",
    )


def _add_evaluate(sub) -> None:
    p = _add_subcommand(sub, "evaluate", "quality, speed and MACs of a model on videos")
    p.add_argument("inputs", nargs="*", help="video files, frame folders or globs")
    p.add_argument("--video", default=None, help="deprecated: pass the video as an input")
    _add_task_arg(p)
    _add_model_args(p)
    p.add_argument("--frames", type=_at_least_one, default=None, help="number of frames (default: all)")
    p.add_argument("--start", type=int, default=0, help="first frame")
    p.add_argument("--compare-dense", action="store_true", help="also run all units active; report speedup")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (median)")
    p.add_argument(
        "--degradation", default="bi", choices=["bi", "bd"], help="VSR: bicubic or Gaussian-blur x4 input"
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="also time the dense baseline under torch.compile (speedup_vs_compiled)",
    )
    p.add_argument("--compile-backend", default="inductor", help="torch.compile backend for --compile")
    add_save_masks_option(p)
    _add_output_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing JSON output")
    _add_memory_limit(p)
    p.set_defaults(func=cmd_evaluate)


def _add_video_command(sub, name: str, help_text: str, default_model: str) -> argparse.ArgumentParser:
    p = _add_subcommand(sub, name, help_text)
    p.add_argument("paths", nargs="+", metavar="input", help="video files, frame folders or globs")
    _add_output_args(
        p,
        out_help="output video (.mp4/.mkv/...) or a folder for PNG frames; with several inputs, the "
        "folder for their outputs (default: next to each input, NAME_x4.mp4 / NAME_2x.mp4)",
    )
    _add_model_args(p, default_model=default_model)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    _add_memory_limit(p)
    add_video_options(p, name)
    p.set_defaults(func=cmd_video)
    return p


# dynskip.benchmarks.engine.WORKLOADS, written here so that building the parser does not import torch
# (tests/benchmarks/test_skip_bench.py checks the two agree).
BENCH_WORKLOADS = ("basicvsr-trunk", "ugsp-decoder", "skipvsr-v2-trunk")


def _add_bench(sub) -> None:
    p = _add_subcommand(sub, "bench", "benchmarks")
    bench = p.add_subparsers(dest="bench", required=True, parser_class=Parser)
    q = _add_subcommand(bench, "engine", "sparse engine vs dense, interleaved medians")
    q.add_argument("--workload", default="basicvsr-trunk", choices=BENCH_WORKLOADS)
    q.add_argument(
        "--fractions", type=_fractions, default=(1.0, 0.75, 0.5, 0.25, 0.1), help="active fractions"
    )
    q.add_argument("--repeats", type=int, default=5, help="timed repeats (median)")
    q.add_argument("--tile", type=int, default=None, help="tile size (default: the workload's)")
    q.add_argument("--size", type=_size, default=None, help="input feature HxW (default: the workload's)")
    q.add_argument("--depth", type=int, default=None, help="blocks / decoder convs (default: the workload's)")
    _add_device_arg(q)
    q.add_argument(
        "--clock",
        default="wall",
        choices=["wall", "cpu"],
        help="wall time, or one-thread CPU time (robust on a shared machine)",
    )
    _add_output_args(q)
    q.add_argument("--overwrite", action="store_true", help="replace an existing JSON output")
    q.set_defaults(func=cmd_bench)
    q = _add_subcommand(bench, "model", "a skipping model vs its dense baseline on a synthetic clip")
    _add_task_arg(q)
    _add_model_args(q)
    q.add_argument("--size", type=_size, required=True, help="input frame HxW (VSR: the LR size)")
    q.add_argument("--frames", type=int, default=5, help="frames of the synthetic clip")
    q.add_argument("--texture", default="dead_leaves", choices=["noise", "dead_leaves"])
    q.add_argument("--speed", type=float, default=4.0, help="largest motion, pixels per frame")
    q.add_argument("--repeats", type=int, default=3, help="timed repeats (median)")
    _add_output_args(q)
    q.add_argument("--overwrite", action="store_true", help="replace an existing JSON output")
    q.set_defaults(func=cmd_bench_model)


def _add_export(sub) -> None:
    from dynskip.cli.export import EXPORTABLE

    p = _add_subcommand(sub, "export", "a dense model as TorchScript or ONNX, checked against eager")
    p.add_argument("--model", required=True, choices=EXPORTABLE, help="dense model to export")
    p.add_argument(
        "--weights", default=None, help="built-in weights name or checkpoint (default: the model's)"
    )
    p.add_argument("--format", default="torchscript", choices=["torchscript", "onnx"], help="export format")
    p.add_argument("--size", type=_size, default=(64, 64), help="input frame HxW (fixed in the graph)")
    p.add_argument("--frames", type=int, default=15, help="basicvsr: clip length (fixed in the graph)")
    _add_output_args(p, out_help="exported file (default: MODEL.pt or MODEL.onnx)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing exported file or JSON")
    p.set_defaults(func=cmd_export)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="dynskip", description=__doc__.splitlines()[0], formatter_class=DefaultsHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"dynskip {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    _add_evaluate(sub)
    p = _add_video_command(sub, "upscale", "super-resolve a video x4", "basicvsr")
    p.add_argument("--chunk", type=int, default=30, help="frames produced per recurrent window")
    p.add_argument("--overlap", type=int, default=5, help="context frames on each side of a window")
    p.add_argument(
        "--tile", type=_at_least_one, default=None, help="process frames in tiles of this many LR pixels"
    )
    p = _add_video_command(sub, "interpolate", "raise a video's frame rate", "rife")
    p.add_argument("--factor", type=int, default=2, help="output frames per input frame")

    p = _add_subcommand(sub, "flops", "params, dense GMACs and what each prunable unit can save")
    p.add_argument("--model", required=True, help="registered model name (see `dynskip models`)")
    p.add_argument("--size", type=_size, default=None, help="input frame HxW (default: the task's)")
    p.add_argument("--frames", type=int, default=None, help="frames per clip (VSR; default: the task's)")
    _add_output_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing JSON output")
    p.set_defaults(func=cmd_flops)

    _add_bench(sub)
    _add_export(sub)

    p = _add_subcommand(sub, "models", "list registered models and their built-in weights")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=cmd_models)

    p = _add_subcommand(sub, "demo", "what `make run` does: short training + evaluation on carphone")
    p.add_argument("-o", "--out", default="results/demo", help="output folder")
    p.add_argument("--frames", type=int, default=30, help="frames evaluated")
    p.add_argument("--train-steps", type=int, default=20, help="training steps")
    p.set_defaults(func=cmd_demo)

    p = _add_subcommand(
        sub,
        "report",
        "Pareto plot, job table and mask gallery of sweeps and evaluate results (fronts overlaid)",
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
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report in --out")
    p.set_defaults(func=cmd_report)

    _add_footage(sub)
    return parser


def _prepare(args: argparse.Namespace) -> None:
    """Checks shared by every subcommand, before any file is read or written."""
    if hasattr(args, "device"):
        args.device = resolve_device(args.device)
    if hasattr(args, "precision"):
        args.autocast = autocast_dtype(args.precision, args.device)


def main(argv: list[str] | None = None) -> int:
    """Run ``dynskip``; returns the exit code (2 with a one-line message on bad input)."""
    args = build_parser().parse_args(argv)
    prog = f"dynskip {args.command}"

    def run() -> None:
        _prepare(args)
        args.func(args)

    with one_line_warnings():
        return run_reporting_errors(run, prog, args.debug)


if __name__ == "__main__":
    sys.exit(main())
