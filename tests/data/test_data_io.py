"""Image and video IO: round trips, the carphone clip, streaming, truncated files, writer outputs."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch

from dynskip.assets import asset_path
from dynskip.data.base import ClipDataset, ClipEntry
from dynskip.data.errors import CorruptDataError, MissingDataError, TruncatedVideoError
from dynskip.data.io import list_frames, read_image, read_images, to_uint8_hwc, uint8_to_tensor, write_image
from dynskip.data.video import VideoWriter, iter_video_frames, probe_video, read_video


@pytest.fixture(scope="module")
def carphone_head() -> np.ndarray:
    return read_video(asset_path("carphone"), 0, 12)


def test_image_round_trip_is_exact_on_uint8_levels(tmp_path):
    image = torch.randint(0, 256, (3, 5, 7)).float() / 255.0
    path = write_image(tmp_path / "sub" / "x.png", image)
    loaded = read_image(path)
    assert loaded.shape == (3, 5, 7) and loaded.dtype == torch.float32
    assert torch.equal(loaded, image)


def test_grey_image_becomes_rgb(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((4, 6), 51, np.uint8), mode="L").save(tmp_path / "g.png")
    image = read_image(tmp_path / "g.png")
    assert image.shape == (3, 4, 6)
    assert torch.allclose(image, torch.full((3, 4, 6), 0.2))


def test_read_image_errors_name_the_path(tmp_path):
    with pytest.raises(MissingDataError, match=re.escape(str(tmp_path / "nope.png"))):
        read_image(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(CorruptDataError, match=re.escape(str(bad))):
        read_image(bad)


def _png_16_bit_rgb(path, value: int) -> None:
    """A 2x2 PNG with 16 bits per RGB sample (PIL cannot write one)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + np.full((2, 3), value, dtype=">u2").tobytes() for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_16_bit_rgb_is_refused_not_truncated(tmp_path):
    # PIL opens it as mode "RGB" and would keep the high byte only: 0x01FF (level 1.99) would read as 1.
    path = tmp_path / "deep.png"
    _png_16_bit_rgb(path, 0x01FF)
    with pytest.raises(CorruptDataError, match=r"RGB;16B.*deep\.png: expected an 8-bit RGB"):
        read_image(path)


def test_to_uint8_rounds_half_up_and_clamps():
    image = torch.tensor([-0.1, 0.5 / 255.0, 1.5 / 255.0, 1.2]).view(1, 1, 4).expand(3, 1, 4)
    assert to_uint8_hwc(image)[0, :, 0].tolist() == [0, 1, 2, 255]
    with pytest.raises(ValueError, match="uint8"):
        to_uint8_hwc(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        uint8_to_tensor(np.zeros((2, 2, 4), np.uint8))
    assert uint8_to_tensor(np.full((2, 4, 5, 3), 255, np.uint8)).shape == (2, 3, 4, 5)


def test_list_frames_natural_order_and_errors(tmp_path):
    for name in ("f10.png", "f2.png", "f1.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_frames(tmp_path)] == ["f1.png", "f2.png", "f10.png"]
    with pytest.raises(MissingDataError, match="empty"):
        list_frames(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingDataError, match="no image files"):
        list_frames(tmp_path / "empty")


def test_carphone_has_120_frames_of_176x144():
    info = probe_video(asset_path("carphone"))
    assert info.frames == 120 and info.size == (144, 176)
    assert info.fps == pytest.approx(29.97, abs=0.01)
    frames = read_video(asset_path("carphone"))
    assert frames.shape == (120, 144, 176, 3) and frames.dtype == np.uint8


def test_read_video_range_matches_full_decode(carphone_head):
    part = read_video(asset_path("carphone"), start=5, count=4)
    assert part.shape == (4, 144, 176, 3)
    assert np.array_equal(part, carphone_head[5:9])


def test_iter_video_frames_streams_lazily():
    frames = iter_video_frames(asset_path("carphone"), start=2, count=3)
    first = next(frames)
    assert first.shape == (144, 176, 3)
    assert len(list(frames)) == 2


def test_out_of_range_request_names_the_video():
    with pytest.raises(ValueError, match=re.escape(f"{asset_path('carphone')} has 120 frames")):
        read_video(asset_path("carphone"), start=118, count=5)
    with pytest.raises(ValueError, match=r"frames \[120, end\) requested"):
        read_video(asset_path("carphone"), start=120)
    with pytest.raises(MissingDataError, match=r"missing\.mp4"):
        read_video("missing.mp4")


def test_mp4_writer_round_trip(tmp_path, carphone_head):
    out = tmp_path / "clip.mp4"
    with VideoWriter(out, fps=29.97) as writer:
        for frame in carphone_head:
            writer.write(frame)
    info = probe_video(out)
    assert info.frames == 12 and info.size == (144, 176) and info.fps == pytest.approx(29.97, abs=0.01)
    decoded = read_video(out)
    assert decoded.shape == carphone_head.shape
    assert np.abs(decoded.astype(int) - carphone_head).mean() < 6  # lossy, but the same pictures
    with pytest.raises(FileExistsError, match=re.escape(str(out))):
        VideoWriter(out)


@pytest.mark.parametrize("suffix", [".y4m", ".webm"])
def test_writer_refuses_containers_it_cannot_encode_for(tmp_path, suffix):
    out = tmp_path / f"clip{suffix}"
    with pytest.raises(ValueError, match=rf"cannot write .*clip\{suffix}: \{suffix} videos are read only"):
        VideoWriter(out)
    assert not out.exists()  # nothing half-written left behind


@pytest.mark.parametrize("suffix", [".mkv", ".mov", ".avi", ".m4v"])
def test_writer_writes_every_container_it_accepts(tmp_path, carphone_head, suffix):
    out = tmp_path / f"clip{suffix}"
    with VideoWriter(out, fps=25) as writer:
        for frame in carphone_head[:3]:
            writer.write(frame)
    assert read_video(out).shape == (3, 144, 176, 3)


def test_writer_accepts_odd_sizes_and_float_tensors(tmp_path, carphone_head):
    out = tmp_path / "odd.mkv"
    with VideoWriter(out) as writer:
        for frame in carphone_head[:3, :-1, :-1]:
            writer.write(torch.from_numpy(frame).permute(2, 0, 1).float() / 255.0)
    assert read_video(out).shape == (3, 143, 175, 3)


def test_folder_writer_is_lossless_and_readable_as_a_video(tmp_path, carphone_head):
    out = tmp_path / "frames"
    with VideoWriter(out, fps=None) as writer:
        for frame in carphone_head[:4]:
            writer.write(frame)
        with pytest.raises(ValueError, match="frame 4"):
            writer.write(carphone_head[0, :10])
    assert sorted(p.name for p in out.glob("*.png"))[0] == "00000000.png"
    info = probe_video(out)
    assert info == (4, None, (144, 176))
    assert np.array_equal(read_video(out, start=1, count=2), carphone_head[1:3])
    with pytest.raises(FileExistsError, match="already holds files"):
        VideoWriter(out)
    with VideoWriter(out, overwrite=True) as writer:
        writer.write(carphone_head[0])
    assert probe_video(out).frames == 1  # the old frames are gone


def test_truncated_mp4_names_path_and_readable_frames(tmp_path, carphone_head):
    whole = tmp_path / "whole.mp4"
    with VideoWriter(whole) as writer:
        for frame in carphone_head:
            writer.write(frame)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.7)])
    with pytest.raises(TruncatedVideoError, match=re.escape(str(cut)) + r".*only \d+ are readable") as info:
        read_video(cut)
    assert 0 <= info.value.frames_readable < 12
    stub = tmp_path / "stub.mp4"
    stub.write_bytes(data[:200])
    with pytest.raises(TruncatedVideoError, match=re.escape(str(stub)) + r".*0 frames readable"):
        read_video(stub)


def test_a_clip_frame_of_another_size_is_named(tmp_path):
    paths = [tmp_path / f"{i:08d}.png" for i in range(3)]
    for i, path in enumerate(paths):
        write_image(path, np.zeros((16 if i != 2 else 20, 24, 3), dtype=np.uint8))
    assert read_images(paths[:2]).shape == (2, 3, 16, 24)
    message = r"00000002\.png is \(20, 24\) \(H, W\) but .*00000000\.png is \(16, 24\)"
    with pytest.raises(CorruptDataError, match=message):
        read_images(paths)
    clips = ClipDataset([ClipEntry("clip", tuple(paths))], scale=4)
    with pytest.raises(CorruptDataError, match=message):
        clips[0]


def test_evaluation_windows_that_leave_frames_unscored_are_reported(tmp_path):
    paths = [tmp_path / f"{i:08d}.png" for i in range(7)]
    for path in paths:
        write_image(path, np.zeros((16, 16, 3), dtype=np.uint8))
    with pytest.warns(
        UserWarning, match=r"num_frames=3 leave frames of 1 clip\(s\) unscored \(clip: 1 frames \(6\)\)"
    ):
        ClipDataset([ClipEntry("clip", tuple(paths))], num_frames=3, scale=4)
    with pytest.warns(UserWarning, match=r"\(clip: 3 frames \(2, 3, 6\)\)"):  # gaps between windows too
        ClipDataset([ClipEntry("clip", tuple(paths))], num_frames=2, stride=4, scale=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ClipDataset([ClipEntry("clip", tuple(paths))], num_frames=None, scale=4)
        ClipDataset([ClipEntry("clip", tuple(paths[:6]))], num_frames=3, scale=4)
