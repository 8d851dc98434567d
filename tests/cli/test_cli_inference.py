"""Inference options of `dynskip`: precision, RIFE's scale, frame rate, audio, scene cuts."""

import json

import av
import numpy as np
import pytest
import torch

from dynskip.cli.main import main
from dynskip.data.io import write_image
from dynskip.data.video import probe_video, read_video
from dynskip.evaluation.scenes import thumbnail_ssim
from dynskip.models import build_model
from helpers.clips import scene, write_scene_clip


@pytest.fixture
def clip_with_a_cut(tmp_path):
    """Four PNG frames (exact): two of shot A moving, then two of shot B."""
    folder = tmp_path / "cut"
    folder.mkdir()
    frames = [scene("a", 0), scene("a", 2), scene("b", 0), scene("b", 2)]
    for i, frame in enumerate(frames):
        write_image(folder / f"{i:08d}.png", frame)
    return folder, frames


def test_scene_cuts_repeat_the_earlier_frame(clip_with_a_cut, tmp_path, capsys):
    folder, frames = clip_with_a_cut
    out = tmp_path / "out"
    assert main(["interpolate", str(folder), "-o", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scene_cuts"] == [2]
    result = read_video(out)
    assert result.shape[0] == 7
    assert np.array_equal(result[3], frames[1])  # across the cut: the earlier frame, not a blend
    assert not np.array_equal(result[1], frames[0])  # within a shot: interpolated
    assert not np.array_equal(result[5], frames[2])
    # Threshold 0 turns detection off: the cut frame is then RIFE's blend of two shots.
    off = tmp_path / "off"
    assert main(["interpolate", str(folder), "-o", str(off), "--scene-threshold", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scene_cuts"] == []
    assert not np.array_equal(read_video(off)[3], frames[1])


def test_thumbnail_ssim_separates_a_cut_from_motion():
    def tensor(frame):
        return torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255

    same_shot = thumbnail_ssim(tensor(scene("a", 0)), tensor(scene("a", 2)))
    cut = thumbnail_ssim(tensor(scene("a", 2)), tensor(scene("b", 0)))
    assert same_shot > 0.8 and cut < 0.2


def _clip_with_audio(path, frames: int = 4, fps: int = 10):
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 48, 32, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        audio.layout = "mono"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(scene("a", i)[:32, :48].copy(), format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        tone = (0.3 * np.sin(np.arange(16000 * frames // fps) * 2 * np.pi * 440 / 16000)).astype(np.float32)
        for start in range(0, tone.size, 1024):
            chunk = av.AudioFrame.from_ndarray(
                tone[None, start : start + 1024].copy(), format="fltp", layout="mono"
            )
            chunk.sample_rate, chunk.pts = 16000, start
            for packet in audio.encode(chunk):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)


def _audio_packets(path) -> list[bytes]:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return []
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


@pytest.mark.parametrize("command", ["interpolate", "upscale"])
def test_the_audio_stream_is_copied(command, tmp_path, capsys):
    source, out = tmp_path / "talk.mp4", tmp_path / "out.mp4"
    _clip_with_audio(source)
    assert main([command, str(source), "-o", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["audio"] == "copied"
    assert _audio_packets(out) == _audio_packets(source) != []  # packets copied as they were
    assert probe_video(out).frames == (7 if command == "interpolate" else 4)
    silent = tmp_path / "silent.mp4"
    assert main([command, str(source), "-o", str(silent), "--no-audio"]) == 0
    assert _audio_packets(silent) == []


def test_fps_sets_the_output_rate_and_keeps_audio_only_when_it_still_fits(tmp_path, capsys):
    source, out = tmp_path / "talk.mp4", tmp_path / "out.mp4"
    _clip_with_audio(source)
    assert main(["interpolate", str(source), "-o", str(out), "--fps", "24", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert probe_video(out).fps == pytest.approx(24)
    assert summary["audio"].startswith("not copied: --fps 24.0 changes the duration")
    assert main(["interpolate", str(source), "-o", str(tmp_path / "b.mp4"), "--fps", "-1"]) == 2
    assert "--fps must be positive, got -1.0" in capsys.readouterr().err


def test_rife_scale_follows_practical_rife(tmp_path, capsys):
    model = build_model("rife", weights="rife-v3.9").eval()
    img0, img1 = torch.rand(1, 3, 72, 100), torch.rand(1, 3, 72, 100)
    with torch.inference_mode():
        full = model(img0, img1)
        model.set_scale(0.5)
        half = model(img0, img1)
    assert model.scales == (16.0, 8.0, 4.0, 2.0) and model.pad_multiple == 256
    assert half.shape == full.shape and not torch.equal(half, full)
    source = write_scene_clip(tmp_path / "in", frames=2, step=1)
    args = ["interpolate", str(source), "-o", str(tmp_path / "out")]
    assert main([*args, "--scale", "0.5"]) == 0
    assert main([*args, "--scale", "0.3", "--overwrite"]) == 2
    assert "--scale must be one of [0.25, 0.5, 1.0, 2.0, 4.0]" in capsys.readouterr().err
    assert main([*args, "--scale", "0.5", "--model", "ugsp-rife", "--overwrite"]) == 2
    assert "--scale applies to model 'rife'; 'ugsp-rife'" in capsys.readouterr().err


def test_bf16_runs_on_cpu_and_reports_what_it_costs(tmp_path, capsys):
    source = write_scene_clip(tmp_path / "in")
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "evaluate",
                str(source),
                "--model",
                "rife",
                "--bf16",
                "--device",
                "cpu",
                "--repeats",
                "1",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert result["precision"] == "bf16"
    assert result["psnr_drop_vs_fp32"] == pytest.approx(result["fp32_psnr"] - result["psnr"])
    assert main(["evaluate", str(source), "--model", "rife", "--fp16", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "--fp16 needs a CUDA device" in err and "use --bf16 on the CPU" in err
