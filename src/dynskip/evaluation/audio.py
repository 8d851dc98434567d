"""Carry a source video's audio into a processed video by remuxing (PyAV, no re-encoding)."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from pathlib import Path

import av


def audio_streams(path: str | Path) -> int:
    """How many audio streams the video file ``path`` holds (0 for a frame folder)."""
    path = Path(path)
    if path.is_dir():
        return 0
    with av.open(str(path)) as container:
        return len(container.streams.audio)


def _timed_packets(
    container: av.container.InputContainer, stream: av.stream.Stream, rank: int
) -> Iterator[tuple[float, int, int, av.Packet]]:
    """``(seconds, rank, order, packet)`` of every real packet of ``stream``, in file order."""
    for order, packet in enumerate(container.demux(stream)):
        if packet.dts is None:  # the demuxer's flush packet
            continue
        yield float(packet.dts * packet.time_base), rank, order, packet


def copy_audio(source: str | Path, video: str | Path) -> None:
    """Remux ``video`` with the first audio stream of ``source`` added, packets copied as they are.

    The new file is written beside ``video`` and replaces it only when complete. A codec the
    container cannot hold (e.g. PCM in .mp4) raises an error naming both.
    """
    source, video = Path(source), Path(video)
    partial = video.with_name(f".{video.stem}.audio{video.suffix}")
    try:
        with av.open(str(video)) as picture_in, av.open(str(source)) as sound_in:
            sound = sound_in.streams.audio[0]
            picture = picture_in.streams.video[0]
            try:
                with av.open(str(partial), "w") as out:
                    targets = (out.add_stream_from_template(picture), out.add_stream_from_template(sound))
                    packets = (_timed_packets(picture_in, picture, 0), _timed_packets(sound_in, sound, 1))
                    # Merged by time, so the file is interleaved as a player reads it.
                    for _, rank, _, packet in heapq.merge(*packets):
                        packet.stream = targets[rank]
                        out.mux(packet)
            except (ValueError, av.FFmpegError) as err:
                raise ValueError(
                    f"audio of {source} ({sound.codec_context.name}) cannot go into {video.suffix} "
                    f"({err}); write a .mkv output to keep it, or pass --no-audio"
                ) from err
        partial.replace(video)
    finally:
        partial.unlink(missing_ok=True)
