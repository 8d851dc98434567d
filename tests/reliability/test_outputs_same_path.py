"""D1 / D2: an output that is an input is refused before anything is read or written (issue 22)."""

from __future__ import annotations

import os

import pytest
from outputs_helpers import snapshot

from dynskip.utils.atomic import SameFileError
from helpers.clips import tiny_video


def test_interpolate_into_its_own_input_file_is_refused_and_the_input_is_intact(
    tmp_path, no_model, cli_fails
):
    video = tiny_video(tmp_path / "a.mp4")
    before = snapshot(tmp_path)
    cli_fails(
        ["interpolate", str(video), "-o", str(video), "--overwrite"], SameFileError, r"a\.mp4 is the input"
    )
    assert snapshot(tmp_path) == before


def test_upscale_into_its_own_input_folder_is_refused_and_the_frames_are_intact(
    tmp_path, no_model, cli_fails
):
    frames = tiny_video(tmp_path / "frames")
    before = snapshot(tmp_path)
    cli_fails(["upscale", str(frames), "-o", str(frames) + "/", "--overwrite"], SameFileError, "is the input")
    assert snapshot(tmp_path) == before


def test_an_output_linked_to_the_input_is_refused(tmp_path, no_model, cli_fails):
    video = tiny_video(tmp_path / "a.mp4")
    os.symlink(video, tmp_path / "link.mp4")
    before = snapshot(tmp_path)
    cli_fails(["interpolate", str(video), "-o", str(tmp_path / "link.mp4"), "--overwrite"], SameFileError, "")
    assert snapshot(tmp_path) == before


def test_evaluate_json_onto_the_video_is_refused_even_with_overwrite(tmp_path, no_model, cli_fails):
    video = tiny_video(tmp_path / "a.mp4")
    before = snapshot(tmp_path)
    cli_fails(["evaluate", str(video), "--model", "rife", "-o", str(video), "--overwrite"], SameFileError,
              r"a\.mp4 is the input")  # fmt: skip
    assert snapshot(tmp_path) == before


def test_evaluate_json_path_onto_the_video_is_refused_even_with_overwrite(tmp_path, no_model, cli_fails):
    """``--json PATH`` (the older spelling of ``-o``) onto the video: refused, the video intact."""
    video = tiny_video(tmp_path / "a.mp4")
    before = snapshot(tmp_path)
    cli_fails(["evaluate", str(video), "--model", "rife", "--json", str(video), "--overwrite"], SystemExit,
              r"--json takes no value or a \.json path, got '.*a\.mp4'")  # fmt: skip
    assert snapshot(tmp_path) == before


def test_evaluate_json_onto_a_json_named_input_is_refused_even_with_overwrite(tmp_path, no_model, cli_fails):
    """A frame folder named like a JSON file passes ``--json``'s own check; the same-file check holds."""
    frames = tiny_video(tmp_path / "clip.json")
    before = snapshot(tmp_path)
    cli_fails(["evaluate", str(frames), "--model", "rife", "--json", str(frames), "--overwrite"],
              SameFileError, r"clip\.json is the input")  # fmt: skip
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("flag", ["-o", "--json"])
def test_evaluate_json_over_an_existing_file_needs_overwrite(tmp_path, no_model, cli_fails, flag):
    video = tiny_video(tmp_path / "a.mp4")
    (tmp_path / "results.json").write_text('{"mine": 1}')
    before = snapshot(tmp_path)
    cli_fails(["evaluate", str(video), "--model", "rife", flag, str(tmp_path / "results.json")],
              FileExistsError, r"results\.json exists; pass --overwrite")  # fmt: skip
    assert snapshot(tmp_path) == before


def test_two_existing_videos_are_not_read_as_input_and_output(tmp_path, no_model, cli_fails):
    """`upscale a.mp4 b.mp4 --overwrite`: the old positional-output reading would replace b.mp4, which may
    be the user's second input; it is refused, naming both readings, and b.mp4 stays."""
    from dynskip.cli.errors import CLIError

    first, second = tiny_video(tmp_path / "a.mp4"), tiny_video(tmp_path / "b.mp4")
    before = snapshot(tmp_path)
    cli_fails(["upscale", str(first), str(second), "--overwrite"], CLIError, r"b\.mp4 exists: .*-o FOLDER")
    assert snapshot(tmp_path) == before
