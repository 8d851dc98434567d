"""D5: an output appears whole or not at all; a full disk, an input error or a signal mid-run leaves
nothing under the final name (and an earlier output there untouched)."""

from __future__ import annotations

import errno
import json
import os
import signal
from pathlib import Path

import av
import pytest
from outputs_helpers import cli_ok, leftovers, snapshot

from dynskip.analysis import write_report
from dynskip.data.errors import TruncatedVideoError
from dynskip.data.video import VideoWriter
from helpers.clips import tiny_video


def _disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _fail_after(calls: int, real):
    """``real``, raising ENOSPC from its ``calls``-th call on (the disk fills mid-output)."""
    count = {"n": 0}

    def wrapped(*args: object, **kwargs: object):
        count["n"] += 1
        if count["n"] >= calls:
            _disk_full()
        return real(*args, **kwargs)

    return wrapped


def test_full_disk_while_writing_frames_leaves_the_earlier_output_as_it_was(tmp_path, monkeypatch, cli_fails):
    src, out = tiny_video(tmp_path / "in.mp4", frames=6), tmp_path / "out"
    cli_ok(["upscale", str(src), "-o", str(out), "--chunk", "3", "--overlap", "1"])
    before = snapshot(tmp_path)
    import dynskip.data.video as video

    monkeypatch.setattr(video, "write_image", _fail_after(3, video.write_image))
    cli_fails(
        ["upscale", str(src), "-o", str(out), "--chunk", "3", "--overlap", "1", "--overwrite"],
        OSError,
        "No space left",
    )
    assert snapshot(tmp_path) == before  # old frames intact, no partial new ones
    assert leftovers(tmp_path) == []


def test_full_disk_while_muxing_a_video_leaves_nothing(tmp_path, monkeypatch, cli_fails):
    src, out = tiny_video(tmp_path / "in.mp4", frames=12), tmp_path / "out.mp4"
    real_open = VideoWriter._open_video

    class FillingDisk:
        """The real container, whose second packet hits a full disk."""

        def __init__(self, container: av.container.OutputContainer) -> None:
            self.container, self.mux = container, _fail_after(2, container.mux)

        def __getattr__(self, name: str) -> object:
            return getattr(self.container, name)

    def open_then_fill(self: VideoWriter, height: int, width: int) -> None:
        real_open(self, height, width)
        self._container = FillingDisk(self._container)

    monkeypatch.setattr(VideoWriter, "_open_video", open_then_fill)
    cli_fails(
        ["upscale", str(src), "-o", str(out), "--chunk", "6", "--overlap", "0"], OSError, "No space left"
    )
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_corrupt_input_mid_stream_leaves_no_playable_partial_video(tmp_path, cli_fails):
    whole = tiny_video(tmp_path / "whole.mp4", frames=40, size=(32, 32))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.8)])
    out = tmp_path / "out.mp4"
    cli_fails(["interpolate", str(cut), "-o", str(out)], TruncatedVideoError, r"cut\.mp4")
    assert not out.exists() and leftovers(tmp_path) == []


class _UnhandledTerm(Exception):
    """What SIGTERM raises when dynskip installed no handler of its own."""


def test_sigterm_mid_run_removes_the_temporary(tmp_path, monkeypatch, cli_interrupted):
    """In process: SIGTERM arrives while the third output frame is converted."""
    src, out = tiny_video(tmp_path / "in.mp4", frames=8), tmp_path / "out.mp4"
    from dynskip.evaluation import streaming

    def unhandled(signum: int, frame: object) -> None:
        raise _UnhandledTerm  # stands in for the default action (death) without killing pytest

    real, calls = streaming.to_uint8_hwc, {"n": 0}

    def convert_then_terminate(frame):
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(frame)

    monkeypatch.setattr(streaming, "to_uint8_hwc", convert_then_terminate)
    previous = signal.signal(signal.SIGTERM, unhandled)
    try:
        cli_interrupted(["upscale", str(src), "-o", str(out), "--chunk", "2", "--overlap", "0"], "signal 15")
        assert signal.getsignal(signal.SIGTERM) is unhandled  # dynskip put the handler back
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert calls["n"] == 3 and not out.exists() and leftovers(tmp_path) == []


def test_a_failed_json_write_keeps_the_old_file(tmp_path, monkeypatch):
    from dynskip.cli.main import write_json

    path = tmp_path / "results.json"
    path.write_text('{"old": true}')
    monkeypatch.setattr(json, "dumps", _disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_json({"new": True}, path, overwrite=True)
    assert path.read_text() == '{"old": true}' and leftovers(tmp_path) == []


def test_a_failed_report_leaves_no_folder(tmp_path):
    sweep = tmp_path / "sweep"
    (sweep / "not_a_job").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no job found"):
        write_report(sweep)
    assert sorted(p.name for p in sweep.iterdir()) == ["not_a_job"]


def test_a_report_failing_half_way_leaves_no_folder(tmp_path, monkeypatch):
    sweep = tmp_path / "sweep"
    job = sweep / "0"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- model.budget=0.5\n")
    (job / "metrics.json").write_text('{"val/psnr": 30.0, "val/skip/gmacs_actual": 1.0}')
    monkeypatch.setattr("dynskip.analysis.report.markdown_table", _disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_report(sweep, tmp_path / "report")
    assert not (tmp_path / "report").exists() and leftovers(tmp_path) == []


def _wait_for_output(folder: Path, proc, timeout: float = 120.0) -> None:
    """Until the output (under any name) has begun, and a second more."""
    import time

    deadline = time.monotonic() + timeout
    while len(list(folder.iterdir())) < 2:  # the input, then the output
        assert proc.poll() is None, f"upscale ended (rc {proc.returncode}) before its output began"
        assert time.monotonic() < deadline, "upscale never began its output"
        time.sleep(0.05)
    time.sleep(1.0)  # well inside the run: frames are being encoded


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_signal_during_upscale_leaves_nothing_under_the_final_name(tmp_path, sig):
    import subprocess
    import sys

    src = tiny_video(tmp_path / "in.mp4", frames=300, size=(32, 48))
    out = tmp_path / "out.mp4"
    cmd = [sys.executable, "-m", "dynskip.cli.main", "upscale", str(src), "-o", str(out), "--chunk", "4",
           "--overlap", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ)
    try:
        _wait_for_output(tmp_path, proc)
        assert proc.poll() is None, "upscale finished before the signal: make the clip longer"
        proc.send_signal(sig)
        # communicate, not wait: an unread stderr pipe that fills up would block the child's exit
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0, err
    assert not out.exists()
    with pytest.raises(av.FFmpegError):  # nor is anything under the final name playable
        av.open(str(out))
    if sig == signal.SIGKILL:  # a killed process cannot clean up: the next run for that output does
        assert len(leftovers(tmp_path)) == 1
        cli_ok(["upscale", str(tiny_video(tmp_path / "short.mp4", frames=2)), "-o", str(out)])
        assert out.exists()
    assert leftovers(tmp_path) == []


def test_a_dead_runs_temporary_is_removed_and_a_live_ones_kept(tmp_path):
    import subprocess
    import sys

    from dynskip.utils.atomic import AtomicOutput

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    stale = tmp_path / f".out.dynskip-tmp-{int(dead.stdout)}-abc.mp4"
    live = tmp_path / f".out.dynskip-tmp-{os.getppid()}-def.mp4"  # pytest's parent: alive
    stale.write_bytes(b"half a video")
    live.write_bytes(b"another run, still writing")
    with AtomicOutput(tmp_path / "out.mp4", folder=False) as output:
        output.temp.write_bytes(b"whole")
    assert not stale.exists() and live.exists() and (tmp_path / "out.mp4").read_bytes() == b"whole"
