"""Issue 22's minor items: each error names the flag, file or reason a CLI user needs."""

from __future__ import annotations

import pytest
import torch

from dynskip.data.video import VideoWriter
from dynskip.models import build_model
from dynskip.zoo.checkpoint import CheckpointMismatchError, read_checkpoint
from helpers.clips import tiny_video


def test_frames_zero_names_the_flag(tmp_path, cli_fails):
    cli_fails(
        ["evaluate", str(tmp_path), "--model", "rife", "--frames", "0"],
        SystemExit,
        "--frames: must be >= 1, got 0",
    )


def test_an_existing_output_names_the_cli_flag(tmp_path):
    tiny_video(tmp_path / "out.mp4", frames=2)
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        VideoWriter(tmp_path / "out.mp4")


def test_an_empty_checkpoint_gives_a_reason(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(RuntimeError, match=r"empty\.pt: the file is empty \(0 bytes\)"):
        read_checkpoint(tmp_path / "empty.pt")


def test_a_cut_checkpoint_gives_a_reason(tmp_path):
    torch.save({"w": torch.zeros(100)}, tmp_path / "whole.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "whole.pt").read_bytes()[:50])
    with pytest.raises(RuntimeError, match=r"cut\.pt: \S"):  # some reason, never a blank one
        read_checkpoint(tmp_path / "cut.pt")


def test_a_lightning_checkpoint_as_weights_hints_ckpt(tmp_path, cli_fails):
    state = {f"model.{k}": v for k, v in build_model("rife").state_dict().items()}
    ckpt = tmp_path / "last.ckpt"
    torch.save({"state_dict": state, "epoch": 0, "pytorch-lightning_version": "2.5.0"}, ckpt)
    src = tiny_video(tmp_path / "in.mp4", frames=2)
    cli_fails(
        ["interpolate", str(src), "-o", str(tmp_path / "out.mp4"), "--weights", str(ckpt)],
        CheckpointMismatchError,
        rf"Lightning checkpoint .* pass it as --ckpt {ckpt}",
    )
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("name", ["out.gif", "out.png", "out.JPG"])
def test_a_picture_format_output_is_an_error_not_a_png_folder(tmp_path, name, cli_fails):
    src = tiny_video(tmp_path / "in.mp4", frames=2)
    cli_fails(
        ["interpolate", str(src), "-o", str(tmp_path / name)],
        ValueError,
        rf"{name}: \.\w+ is a picture format, not a video",
    )
    assert not (tmp_path / name).exists()


def test_interpolating_a_one_frame_video_says_so(tmp_path, cli_fails):
    src = tiny_video(tmp_path / "one.mp4", frames=1)
    cli_fails(
        ["interpolate", str(src), "-o", str(tmp_path / "out.mp4")],
        ValueError,
        r"at least 2 frames.*one\.mp4 has 1",
    )
    assert not (tmp_path / "out.mp4").exists()
