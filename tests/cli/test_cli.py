"""The `dynskip` command on real footage (carphone) and on tiny videos written here."""

import json

import numpy as np
import pytest

from dynskip.assets import asset_path
from dynskip.cli.main import main
from dynskip.data.video import probe_video, read_video
from dynskip.evaluation.streaming import overlapping_windows
from helpers.clips import tiny_video

CARPHONE = str(asset_path("carphone"))


@pytest.mark.parametrize(
    ("task", "model", "frames", "outputs", "min_psnr"),
    [
        # Official REDS4 weights on BI x4 carphone: far above bicubic (about 24 dB here).
        ("vsr", "basicvsr", 4, 4, 27.5),
        # Frames 1 and 3 are re-created from their neighbours.
        ("vfi", "rife", 5, 2, 27.0),
    ],
)
def test_evaluate_on_carphone_writes_the_documented_fields(task, model, frames, outputs, min_psnr, tmp_path):
    out = tmp_path / "result.json"
    main(
        [
            "evaluate",
            "--task",
            task,
            "--model",
            model,
            "--video",
            CARPHONE,
            "--frames",
            str(frames),
            "--repeats",
            "1",
            "--json",
            str(out),
        ]
    )
    result = json.loads(out.read_text())
    for key in ("psnr", "ssim", "psnr_y", "seconds_per_frame", "gmacs_per_frame", "params", "frames"):
        assert key in result, key
    assert result["frames"] == outputs
    assert result["psnr"] > min_psnr
    assert result["gmacs_per_frame"] > 1.0 and result["seconds_per_frame"] > 0


def test_evaluate_names_the_default_weights(tmp_path):
    out = tmp_path / "result.json"
    main(
        [
            "evaluate",
            "--task",
            "vsr",
            "--model",
            "basicvsr",
            "--video",
            CARPHONE,
            "--frames",
            "3",
            "--repeats",
            "1",
            "--json",
            str(out),
        ]
    )
    result = json.loads(out.read_text())
    assert result["weights"] == "reds4" and result["params"] == 6_291_311


def test_threshold_on_a_dense_model_is_refused(capsys):
    assert (
        main(
            [
                "evaluate",
                "--task",
                "vsr",
                "--model",
                "basicvsr",
                "--video",
                CARPHONE,
                "--frames",
                "3",
                "--threshold",
                "0.5",
            ]
        )
        == 2
    )
    assert "'basicvsr' has no skipping" in capsys.readouterr().err


def test_compare_dense_on_a_dense_model_is_refused(capsys):
    assert (
        main(
            [
                "evaluate",
                "--task",
                "vfi",
                "--model",
                "rife",
                "--video",
                CARPHONE,
                "--frames",
                "3",
                "--compare-dense",
                "--repeats",
                "1",
            ]
        )
        == 2
    )
    assert "--compare-dense needs a skipping model" in capsys.readouterr().err


def test_upscale_writes_every_frame_x4(tmp_path):
    src, dst = tmp_path / "in", tmp_path / "out"
    tiny_video(src, frames=7, size=(16, 20))
    main(["upscale", str(src), str(dst), "--chunk", "3", "--overlap", "1"])
    assert read_video(dst).shape == (7, 64, 80, 3)


def test_interpolate_doubles_the_frame_rate(tmp_path):
    src, dst = tmp_path / "in", tmp_path / "out"
    tiny_video(src, frames=3, size=(32, 48))
    # Random frames are unrelated shots to the scene-cut test: threshold 0 keeps RIFE interpolating them.
    main(["interpolate", str(src), str(dst), "--factor", "2", "--scene-threshold", "0"])
    assert probe_video(dst).frames == 5


@pytest.mark.parametrize(("total", "chunk", "overlap"), [(7, 3, 1), (10, 4, 2), (3, 5, 2), (6, 1, 0)])
def test_overlapping_windows_output_each_frame_once_with_context(total, chunk, overlap):
    frames = [np.full((1,), i) for i in range(total)]
    produced = []
    for window, keep_from, keep_to in overlapping_windows(frames, chunk, overlap):
        ids = [int(f[0]) for f in window]
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # contiguous
        kept = ids[keep_from:keep_to]
        # Full context where it exists; more when a window needs it to hold two frames (chunk 1, overlap 0).
        assert keep_from >= min(overlap, kept[0])
        assert len(window) - keep_to >= min(overlap, total - 1 - kept[-1])
        assert len(window) >= min(2, total)
        produced += kept
    assert produced == list(range(total))


def test_flops_cli_reports_params_and_gmacs(tmp_path):
    out = tmp_path / "flops.json"
    main(["flops", "--model", "rife", "--size", "128x128", "--json", str(out)])
    report = json.loads(out.read_text())
    assert report["params"] > 1e6


def test_bench_engine_cli_takes_size_and_depth(tmp_path):
    out = tmp_path / "bench.json"
    args = ["bench", "engine", "--fractions", "0.5", "--repeats", "1", "--tile", "8"]
    assert main([*args, "--size", "16x24", "--depth", "1", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert [r["fraction"] for r in payload["rows"]] == [0.5]
    meta = payload["meta"]
    assert meta["size"] == [16, 24] and meta["depth"] == 1 and meta["tile"] == 8


def test_model_arg_reaches_the_constructor(tmp_path, capsys):
    out = tmp_path / "result.json"
    args = ["evaluate", "--task", "vfi", "--model", "ugsp-rife", "--video", CARPHONE, "--frames", "3"]
    main([*args, "--repeats", "1", "--model-arg", "active_halo_tiles=1", "--json", str(out)])
    result = json.loads(out.read_text())
    assert result["model_args"] == {"active_halo_tiles": 1}
    assert result["threshold"] == 0.5  # the threshold it ran at, though none was passed
    main([*args, "--repeats", "1", "--model-arg", "threshold=0.7", "--json", str(out), "--overwrite"])
    assert json.loads(out.read_text())["threshold"] == 0.7
    assert main([*args, "--model-arg", "halo=1"]) == 2
    assert "model 'ugsp-rife' has no argument(s) ['halo']; it takes [" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["active_halo_tiles", "=1", "two words=1", "k=[1, 2"])
def test_exception_malformed_model_arg_is_named(text, capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--task", "vfi", "--model", "rife", "--video", CARPHONE, "--model-arg", text])
    assert "--model-arg" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("task", "model", "size"), [("vfi", "ugsp-rife", "64x96"), ("vsr", "skipvsr", "16x24")]
)
def test_bench_model_compares_with_the_dense_baseline_on_a_synthetic_clip(
    task, model, size, tmp_path, capsys
):
    out = tmp_path / "bench.json"
    args = ["bench", "model", "--model", model, "--size", size]
    main([*args, "--frames", "3", "--repeats", "1", "--json", str(out)])
    result = json.loads(out.read_text())
    assert result["video"].startswith("synthetic dead_leaves") and result["dense"]["seconds_per_frame"] > 0
    for key in ("speedup", "psnr_drop", "macs_saved_fraction", "active_fraction"):
        assert key in result, key
    assert main([*args, "--frames", "2"]) == 2
    assert "--frames must be at least 3, got 2" in capsys.readouterr().err
