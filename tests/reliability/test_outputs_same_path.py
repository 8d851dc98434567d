"""D1 / D2: an output that is an input is refused before anything is read or written (issue 22)."""

from __future__ import annotations

import os

import pytest
from outputs_helpers import snapshot, tiny_video

from dynskip.cli.main import main
from dynskip.utils.atomic import SameFileError


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a model means the refusal came too late."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr("dynskip.evaluation.loading.load_model", refuse)


def test_interpolate_into_its_own_input_file_is_refused_and_the_input_is_intact(tmp_path, no_model):
    video = tiny_video(tmp_path / "a.mp4")
    before = snapshot(tmp_path)
    with pytest.raises(SameFileError, match=r"a\.mp4 is the input"):
        main(["interpolate", str(video), str(video), "--overwrite"])
    assert snapshot(tmp_path) == before


def test_upscale_into_its_own_input_folder_is_refused_and_the_frames_are_intact(tmp_path, no_model):
    frames = tiny_video(tmp_path / "frames")
    before = snapshot(tmp_path)
    with pytest.raises(SameFileError, match="is the input"):
        main(["upscale", str(frames), str(frames) + "/", "--overwrite"])
    assert snapshot(tmp_path) == before


def test_an_output_linked_to_the_input_is_refused(tmp_path, no_model):
    video = tiny_video(tmp_path / "a.mp4")
    os.symlink(video, tmp_path / "link.mp4")
    before = snapshot(tmp_path)
    with pytest.raises(SameFileError):
        main(["interpolate", str(video), str(tmp_path / "link.mp4"), "--overwrite"])
    assert snapshot(tmp_path) == before


def test_evaluate_json_onto_the_video_is_refused_even_with_overwrite(tmp_path, no_model):
    video = tiny_video(tmp_path / "a.mp4")
    before = snapshot(tmp_path)
    with pytest.raises(SameFileError, match=r"a\.mp4 is the input"):
        main(["evaluate", "--task", "vfi", "--model", "rife", "--video", str(video), "--json", str(video),
              "--overwrite"])  # fmt: skip
    assert snapshot(tmp_path) == before


def test_evaluate_json_over_an_existing_file_needs_overwrite(tmp_path, no_model):
    video = tiny_video(tmp_path / "a.mp4")
    (tmp_path / "results.json").write_text('{"mine": 1}')
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError, match=r"results\.json exists; pass --overwrite"):
        main(["evaluate", "--task", "vfi", "--model", "rife", "--video", str(video), "--json",
              str(tmp_path / "results.json")])  # fmt: skip
    assert snapshot(tmp_path) == before
