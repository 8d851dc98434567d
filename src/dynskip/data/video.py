"""Video files and frame folders as uint8 frames (PyAV), and a writer for restored output.

A frame folder (sorted image files) is accepted wherever a video file is. Reading streams: frames are
decoded in order and decoding stops once ``start + count`` frames are out, so memory stays bounded by
what the caller asks for. Frame-accurate seeking is not used: decoding from the start is exact for any
codec and container, and the clips this project handles are short.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import av
import numpy as np
from torch import Tensor

from dynskip.data.errors import CorruptDataError, DamagedVideoWarning, MissingDataError, TruncatedVideoError
from dynskip.data.io import IMAGE_SUFFIXES, list_frames, read_image_uint8, to_uint8_hwc, write_image
from dynskip.utils.atomic import AtomicOutput, check_output

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi", ".m4v", ".webm", ".y4m"})
# The writer encodes H.264 (or MPEG-4): containers that hold it. WebM takes VP8/VP9/AV1 only and
# Y4M raw video only, so those are read but not written.
WRITABLE_VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi", ".m4v"})
# Tried in order; mpeg4 is in every FFmpeg build, libx264 gives far better quality per byte.
_CODECS = ("libx264", "mpeg4")
# Names the folder writer gives its frames; a folder output never writes over such a file it did not write.
FRAME_NAME = re.compile(r"\d{8}\.png")
# Picture and animation formats: a path ending so is a mistake, not the name of a frame folder.
_NOT_A_FOLDER_SUFFIXES = IMAGE_SUFFIXES | {".gif", ".apng", ".avif", ".heic"}


class VideoInfo(NamedTuple):
    frames: int
    fps: float | None  # None for a frame folder: images carry no frame rate
    size: tuple[int, int]  # (height, width)


def _require_source(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise MissingDataError(f"video file or frame folder not found: {path}")
    return path


def _open(path: Path) -> av.container.InputContainer:
    try:
        container = av.open(str(path))
    except av.FFmpegError as err:
        raise TruncatedVideoError(f"cannot open video {path} (0 frames readable): {err}", 0) from err
    if not container.streams.video:
        container.close()
        # A cut-off header loses the stream table too, so this is also what truncation can look like.
        raise TruncatedVideoError(
            f"{path} has no readable video stream (0 frames readable): truncated or not a video", 0
        )
    return container


def probe_video(path: str | Path) -> VideoInfo:
    """Frame count, frame rate and ``(h, w)`` of a video file (from its header) or frame folder.

    Where the header gives no frame count, or counts time units (an AVI header's length is in ticks of
    its rate, and a variable-rate AVI has fewer frames than ticks), the data packets are counted instead
    (demuxing only, no decoding; packets the container's edit list discards are not frames). A frame the
    decoder cannot decode is still counted here.
    """
    path = _require_source(path)
    if path.is_dir():
        frames = list_frames(path)
        first = read_image_uint8(frames[0])
        return VideoInfo(len(frames), None, (first.shape[0], first.shape[1]))
    with _open(path) as container:
        stream = container.streams.video[0]
        count = stream.frames
        if count <= 0 or count == stream.duration:
            count = sum(1 for packet in container.demux(stream) if packet.size and not packet.is_discard)
        rate = stream.average_rate or stream.guessed_rate
        return VideoInfo(
            count, float(rate) if rate else None, (stream.codec_context.height, stream.codec_context.width)
        )


def _check_range(start: int, count: int | None) -> None:
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if count is not None and count < 1:
        raise ValueError(f"count must be >= 1 or None, got {count}")


def _iter_folder(folder: Path, start: int, count: int | None) -> Iterator[np.ndarray]:
    frames = list_frames(folder)
    stop = len(frames) if count is None else start + count
    if stop > len(frames) or start >= len(frames):
        raise ValueError(
            f"frames [{start}, {stop}) requested but frame folder {folder} has {len(frames)} frames"
        )
    size = None
    for frame_path in frames[start:stop]:
        frame = read_image_uint8(frame_path)
        if size is None:
            size = frame.shape
        elif frame.shape != size:
            raise CorruptDataError(
                f"frame {frame_path} is {frame.shape[:2]}, earlier frames of {folder} are {size[:2]}"
            )
        yield frame


class _DecodeLog:
    """What a full decode saw, to tell a truncated file from one with dropped or misordered frames."""

    def __init__(self, stream: av.video.stream.VideoStream) -> None:
        self.stream = stream
        self.packets: list[float] = []  # presentation time (s) of each packet that carries data
        self.frames: list[float | None] = []  # presentation time (s) of each decoded frame
        self.packets_end = 0.0  # end time (s) of the last packet
        self.corrupt: list[int] = []  # decoded frames the decoder flagged as corrupt

    def _seconds(self, pts: int | None) -> float | None:
        return None if pts is None else float(pts * self.stream.time_base)

    def packet(self, packet: av.Packet) -> None:
        if packet.is_discard:  # trimmed by the container's edit list on purpose: not a frame
            return
        if packet.size and packet.pts is not None:
            self.packets.append(self._seconds(packet.pts))
            end = packet.pts + (packet.duration or 0)
            self.packets_end = max(self.packets_end, self._seconds(end))
        elif packet.size:
            self.packets.append(float("nan"))

    def frame(self, frame: av.VideoFrame) -> None:
        if frame.is_corrupt:
            self.corrupt.append(len(self.frames))
        self.frames.append(self._seconds(frame.pts))

    def declared_end(self) -> float | None:
        """End time (s) the header declares, or None when it declares no duration."""
        stream = self.stream
        if not stream.duration:
            return None
        return float((stream.duration + (stream.start_time or 0)) * stream.time_base)


def _check_complete(path: Path, log: _DecodeLog) -> None:
    """After a full decode: a file whose packets stop before the declared end is truncated (error); data
    packets that gave no frame were dropped by the decoder, and frames can come out flagged corrupt
    (both warnings naming the file and where; the frames that decoded are returned in order).

    Timestamps are not judged: AVI cannot store B-frame reordering and some MP4 muxers omit it, so
    decoded frames of sound files (OpenCV's box.mp4, any H.264 AVI) carry shuffled timestamps while
    the decoder's output order is right.

    The declared *time* is compared, not the declared frame count: AVI headers count time units, so a
    variable-rate AVI (OpenCV's tree.avi: 68 frames over 444 units) declares more "frames" than it has.
    """
    declared, decoded = log.stream.frames, len(log.frames)
    end = log.declared_end()
    frame_time = 1.0 / float(log.stream.average_rate or log.stream.guessed_rate or 30)
    if end is not None:
        cut = log.packets_end < end - 1.5 * frame_time
    else:
        cut = declared > 0 and len(log.packets) < declared
    if cut or not log.packets:
        raise TruncatedVideoError(
            f"video {path} is truncated or corrupt: its header declares {declared} frames"
            + (f" over {end:.2f} s" if end is not None else "")
            + f", only {decoded} are readable",
            decoded,
        )
    if decoded < len(log.packets):
        _warn_dropped(path, log)
    if log.corrupt:
        warnings.warn(
            f"video {path}: the decoder flagged {len(log.corrupt)} of {decoded} frames as corrupt "
            f"(decoded frames {log.corrupt[:5]}{' ...' if len(log.corrupt) > 5 else ''}); they are kept",
            DamagedVideoWarning,
            stacklevel=4,
        )


def _warn_dropped(path: Path, log: _DecodeLog) -> None:
    decoded = set(log.frames)
    lost = [t for t in log.packets if t not in decoded]
    where = ", ".join(f"{t:.3f} s" for t in lost[:5]) + (" ..." if len(lost) > 5 else "")
    warnings.warn(
        f"video {path}: {len(log.packets) - len(log.frames)} of {len(log.packets)} frames could not be "
        f"decoded and were dropped (packets at {where or 'unknown times'}); {len(log.frames)} frames read",
        DamagedVideoWarning,
        stacklevel=4,
    )


def _iter_file(path: Path, start: int, count: int | None) -> Iterator[np.ndarray]:
    stop = None if count is None else start + count
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        log = _DecodeLog(stream)
        try:
            for packet in container.demux(stream):  # ends with an empty packet that flushes the decoder
                log.packet(packet)
                for frame in packet.decode():
                    log.frame(frame)
                    if len(log.frames) > start:
                        yield frame.to_ndarray(format="rgb24")
                    if stop is not None and len(log.frames) >= stop:
                        return
        except av.FFmpegError as err:
            raise TruncatedVideoError(
                f"video {path} is corrupt: decoding failed after {len(log.frames)} readable frames ({err})",
                len(log.frames),
            ) from err
    _check_complete(path, log)
    decoded = len(log.frames)
    if decoded <= start or (stop is not None and decoded < stop):
        raise ValueError(f"frames [{start}, {stop or 'end'}) requested but video {path} has {decoded} frames")


def iter_video_frames(path: str | Path, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
    """Yield uint8 ``(H, W, 3)`` RGB frames ``start .. start+count-1`` one at a time (bounded memory)."""
    _check_range(start, count)
    path = _require_source(path)
    if path.is_dir():
        return _iter_folder(path, start, count)
    return _iter_file(path, start, count)


def read_video(path: str | Path, start: int = 0, count: int | None = None) -> np.ndarray:
    """Frames ``start .. start+count-1`` (all from ``start`` if ``count`` is None), uint8 ``(T, H, W, 3)``."""
    return np.stack(list(iter_video_frames(path, start, count)))


def writes_folder(path: str | Path) -> bool:
    """Whether :class:`VideoWriter` writes ``path`` as a PNG folder (else a video file); raises
    ``ValueError`` for names it cannot write (read-only containers, picture formats such as ``.gif``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _NOT_A_FOLDER_SUFFIXES:
        raise ValueError(
            f"cannot write {path}: {suffix} is a picture format, not a video; use one of "
            f"{sorted(WRITABLE_VIDEO_SUFFIXES)} or a folder name (no suffix) for PNG frames"
        )
    if suffix in VIDEO_SUFFIXES and suffix not in WRITABLE_VIDEO_SUFFIXES:
        raise ValueError(
            f"cannot write {path}: {suffix} videos are read only here (the writer encodes H.264); "
            f"use one of {sorted(WRITABLE_VIDEO_SUFFIXES)} or a folder of PNG frames"
        )
    return suffix not in VIDEO_SUFFIXES


def check_video_output(path: str | Path, overwrite: bool = False, inputs: tuple = ()) -> None:
    """What :class:`VideoWriter` would refuse, checked before any work: a bad name, an existing output
    without ``overwrite``, an output that is one of ``inputs``, an unwritable folder."""
    check_output(path, folder=writes_folder(path), overwrite=overwrite, inputs=inputs, claims=FRAME_NAME)


class VideoWriter:
    """Write uint8 RGB frames to a video file (PyAV) or, when ``path`` has no video suffix, a PNG folder.

    Video: libx264 (yuv420p, or yuv444p for odd frame sizes, which 4:2:0 cannot hold) at ``crf``, with
    mpeg4 as the fallback for FFmpeg builds without x264. Lossy: use a folder for exact output.
    Folder: frames ``00000000.png, 00000001.png, ...`` as in REDS. The output is written under a
    temporary name and appears under ``path`` only when :meth:`close` succeeds (``dynskip.utils.atomic``);
    an exception inside ``with`` leaves ``path`` untouched. An existing output is an error unless
    ``overwrite=True``; a folder then loses only the frames an earlier dynskip run wrote there.

    Usage::

        with VideoWriter("out.mp4", fps=29.97) as writer:
            writer.write(frame)  # (H, W, 3) uint8 array or (3, H, W) float tensor in [0, 1]
    """

    def __init__(
        self, path: str | Path, fps: float | None = 30.0, crf: int = 17, overwrite: bool = False
    ) -> None:
        self.path = Path(path)
        # A frame folder has no rate (probe_video gives None): 30 fps is the usual assumption.
        self.fps = 30.0 if fps is None else float(fps)
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.crf = crf
        self.is_folder = writes_folder(self.path)
        self.frames_written = 0
        self._container: av.container.OutputContainer | None = None
        self._stream = None
        self._size: tuple[int, ...] | None = None
        self._output = AtomicOutput(self.path, folder=self.is_folder, overwrite=overwrite, claims=FRAME_NAME)

    def _open_video(self, height: int, width: int) -> None:
        odd = height % 2 or width % 2
        errors = []
        for codec in _CODECS:
            if codec == "mpeg4" and odd:
                errors.append("mpeg4: needs an even frame size")
                continue
            container = av.open(str(self._output.temp), "w", options={"movflags": "faststart"})
            try:
                stream = container.add_stream(codec, rate=Fraction(self.fps).limit_denominator(1001))
                stream.width, stream.height = width, height
                stream.pix_fmt = "yuv444p" if odd else "yuv420p"
                if codec == "libx264":
                    stream.options = {"crf": str(self.crf)}
                else:
                    stream.bit_rate = 8_000_000
                stream.codec_context.open()
            except (av.FFmpegError, ValueError) as err:
                container.close()
                errors.append(f"{codec}: {err}")
                continue
            self._container, self._stream = container, stream
            return
        raise RuntimeError(f"no usable video encoder for {self.path} ({width}x{height}): {'; '.join(errors)}")

    def write(self, frame: np.ndarray | Tensor) -> None:
        """Append one frame: uint8 ``(H, W, 3)`` or float ``(3, H, W)`` in [0, 1]; all frames share a size."""
        array = to_uint8_hwc(frame)
        if self._size is None:
            self._size = array.shape
            if not self.is_folder:
                self._open_video(array.shape[0], array.shape[1])
        elif array.shape != self._size:
            raise ValueError(
                f"frame {self.frames_written} for {self.path} is {array.shape}, expected {self._size}"
            )
        if self.is_folder:
            write_image(self._output.temp / f"{self.frames_written:08d}.png", array)
        else:
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file and move it to its final name (a video with no frame is not created)."""
        try:
            self._close_container()
        except BaseException:
            self._output.discard()
            raise
        if not self.is_folder and self.frames_written == 0:
            self._output.discard()
        else:
            self._output.commit()

    def discard(self) -> None:
        """Abandon the output: the temporary is removed, ``path`` stays as it was."""
        try:
            self._close_container()
        except (av.FFmpegError, OSError):
            pass  # the file is being thrown away; its flush error adds nothing
        finally:
            self._output.discard()

    def _close_container(self) -> None:
        if self._container is not None:
            try:
                for packet in self._stream.encode():  # flush delayed frames
                    self._container.mux(packet)
            finally:  # a failed flush still releases the file
                self._container.close()
                self._container = None

    def __enter__(self) -> VideoWriter:
        self._output.__enter__()  # SIGTERM now unwinds through __exit__, which removes the temporary
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self.close()
            else:
                self.discard()
        finally:  # the output is committed or discarded by now; this puts the SIGTERM handler back
            self._output.__exit__(exc_type, exc, tb)
