"""One vocabulary for every `dynskip` subcommand: inputs, -o / --json, inferred task, devices, errors."""

import json
import subprocess
import sys

import pytest

from dynskip import __version__
from dynskip.cli.errors import DeprecatedSpelling
from dynskip.cli.main import build_parser, main
from dynskip.data.video import probe_video
from helpers import clips


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory):
    return clips.tiny_video(tmp_path_factory.mktemp("video") / "tiny.mp4", frames=3, size=(32, 48))


def _one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["evaluate", "missing.mp4", "--model", "rife"], "input 'missing.mp4' does not exist"),
        (["evaluate", "clips/*.mp4", "--model", "rife"], "glob 'clips/*.mp4' matches no file"),
        (["upscale", "missing.mp4"], "input 'missing.mp4' does not exist"),
        (["interpolate", "{video}", "-o", "{tmp}/out.mp4", "--factor", "1"], "factor must be >= 2, got 1"),
        (["flops", "--model", "nope"], "unknown model 'nope'"),
        (["bench", "engine", "--fractions", "2"], "--fractions must lie in (0, 1]"),
        (
            ["bench", "model", "--model", "rife", "--size", "8x8", "--frames", "2"],
            "--frames must be at least 3",
        ),
        (["models", "--bogus"], "unrecognized arguments: --bogus"),
        (["demo", "--frames", "many"], "argument --frames: invalid int value: 'many'"),
        (["report", "{tmp}/no_sweep"], "no_sweep"),
    ],
)
def test_bad_input_of_each_subcommand_is_one_line_and_exit_2(argv, needle, tiny_video, tmp_path, capsys):
    argv = [a.format(video=tiny_video, tmp=tmp_path) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    assert code == 2
    # argparse names the top-level command for an unknown option (it cannot tell whose it was).
    _one_line_error(capsys, "dynskip" if "unrecognized" in needle else f"dynskip {argv[0]}", needle)
    assert not (tmp_path / "out.mp4").exists()


def test_the_installed_command_prints_no_traceback(tmp_path):
    cmd = [sys.executable, "-m", "dynskip.cli.main", "evaluate", str(tmp_path / "x.mp4"), "--model", "rife"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"dynskip evaluate: error: input '{tmp_path / 'x.mp4'}' does not exist; expected a video file, "
        "a frame folder or a glob"
    ]


def test_debug_shows_the_exception(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        main(["--debug", "evaluate", str(tmp_path / "x.mp4"), "--model", "rife"])
    with pytest.raises(KeyError, match="unknown model"):
        main(["flops", "--model", "nope", "--debug"])


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"dynskip {__version__}"


def test_task_is_inferred_from_the_registry(tiny_video, tmp_path):
    out = tmp_path / "r.json"
    assert main(["evaluate", str(tiny_video), "--model", "rife", "--repeats", "1", "-o", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["task"] == "vfi" and result["frames"] == 1


def test_a_task_mismatch_is_named(tiny_video, capsys):
    assert main(["evaluate", str(tiny_video), "--model", "rife", "--task", "vsr"]) == 2
    _one_line_error(capsys, "--task vsr does not match model 'rife', a vfi model")


@pytest.mark.parametrize(("command", "model", "needle"), [("upscale", "rife", "upscale needs a vsr model")])
def test_a_model_of_the_wrong_task_leaves_no_output(command, model, needle, tiny_video, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main([command, str(tiny_video), "-o", str(out), "--model", model]) == 2
    _one_line_error(capsys, needle, "'rife' is a vfi model (use `dynskip interpolate`")
    assert not out.exists()


def test_deprecated_spellings_still_work_with_a_warning(tiny_video, tmp_path):
    out = tmp_path / "r.json"
    old = ["evaluate", "--task", "vfi", "--video", str(tiny_video), "--model", "rife", "--repeats", "1"]
    with pytest.warns(DeprecatedSpelling) as caught:
        assert main([*old, "--json", str(out)]) == 0
    messages = " ".join(str(w.message) for w in caught)
    assert "--video is deprecated" in messages and "--task is deprecated" in messages
    assert json.loads(out.read_text())["psnr"] > 0
    video_out = tmp_path / "twice.mp4"
    with pytest.warns(DeprecatedSpelling, match="positional output is deprecated; use -o"):
        assert main(["interpolate", str(tiny_video), str(video_out)]) == 0
    assert probe_video(video_out).frames == 5


def test_several_inputs_and_json_on_stdout(tiny_video, capsys):
    args = ["evaluate", str(tiny_video), str(tiny_video.parent / "*.mp4"), "--model", "rife"]
    assert main([*args, "--repeats", "1", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["video"] for r in results] == [str(tiny_video)] * 2


def test_unavailable_devices_are_named(tiny_video, capsys):
    assert main(["evaluate", str(tiny_video), "--model", "rife", "--device", "cuda:7"]) == 2
    _one_line_error(capsys, "--device 'cuda:7' is not available here; available: cpu")
    assert main(["evaluate", str(tiny_video), "--model", "rife", "--device", "tpu"]) == 2
    _one_line_error(capsys, "--device 'tpu'")


def test_help_shows_defaults():
    upscale = build_parser()._subparsers._group_actions[0].choices["upscale"]
    text = " ".join(upscale.format_help().split())  # help wraps lines
    assert "(default: 30)" in text and "(default: auto)" in text and "(default: basicvsr)" in text


def test_video_commands_take_several_inputs_into_a_folder(tiny_video, tmp_path, capsys):
    other = tmp_path / "other.mp4"
    other.write_bytes(tiny_video.read_bytes())
    outs = tmp_path / "outs"
    pattern = str(tiny_video.parent / "*.mp4")
    assert main(["interpolate", pattern, str(other), "-o", str(outs), "--json"]) == 0
    summaries = json.loads(capsys.readouterr().out)
    assert [s["output"] for s in summaries] == [str(outs / "tiny_2x.mp4"), str(outs / "other_2x.mp4")]
    assert all(probe_video(s["output"]).frames == 5 for s in summaries)
    assert main(["interpolate", pattern, str(other), "-o", str(tmp_path / "one.mp4")]) == 2
    _one_line_error(capsys, "-o must name a folder")
    assert main(["interpolate", str(tiny_video), str(tiny_video), "-o", str(outs), "--overwrite"]) == 2
    _one_line_error(capsys, "several inputs would write the same output")
    single = str(tiny_video.parent / "tiny*.mp4")  # a glob that matches one file: -o is still its folder
    assert main(["interpolate", single, "-o", str(tmp_path / "globbed"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["output"] == str(tmp_path / "globbed" / "tiny_2x.mp4")
