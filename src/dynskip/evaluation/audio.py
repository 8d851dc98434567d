"""Carry a source video's audio into a processed video by remuxing (PyAV, no re-encoding)."""

from __future__ import annotations

from pathlib import Path

import av


def audio_streams(path: str | Path) -> int:
    """How many audio streams the video file ``path`` holds (0 for a frame folder)."""
    path = Path(path)
    if path.is_dir():
        return 0
    with av.open(str(path)) as container:
        return len(container.streams.audio)


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
            with av.open(str(partial), "w") as out:
                picture_out = out.add_stream_from_template(picture_in.streams.video[0])
                try:
                    sound_out = out.add_stream_from_template(sound)
                except (ValueError, av.FFmpegError) as err:
                    raise ValueError(
                        f"audio of {source} ({sound.codec_context.name}) cannot go into {video.suffix} "
                        f"({err}); write a .mkv output to keep it"
                    ) from err
                for stream_in, stream_out, container in (
                    (picture_in.streams.video[0], picture_out, picture_in),
                    (sound, sound_out, sound_in),
                ):
                    for packet in container.demux(stream_in):
                        if packet.dts is None:  # the demuxer's flush packet
                            continue
                        packet.stream = stream_out
                        out.mux(packet)
        partial.replace(video)
    finally:
        partial.unlink(missing_ok=True)
