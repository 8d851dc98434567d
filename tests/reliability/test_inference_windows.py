"""D5: recurrent VSR windows cover every frame once, each with at least two frames, for any
``--chunk`` / ``--overlap``."""

from __future__ import annotations

import numpy as np
import pytest
from outputs_helpers import cli_ok

from dynskip.data.video import read_video
from dynskip.evaluation.streaming import overlapping_windows
from helpers.clips import tiny_video


@pytest.mark.parametrize("total", range(1, 13))
def test_every_chunk_and_overlap_covers_every_frame_once(total):
    for chunk in range(1, 10):
        for overlap in range(5):
            frames = [np.full((1,), i) for i in range(total)]
            produced = []
            for window, keep_from, keep_to in overlapping_windows(frames, chunk, overlap):
                ids = [int(f[0]) for f in window]
                assert ids == list(range(ids[0], ids[0] + len(ids))), (chunk, overlap)  # contiguous
                assert len(window) >= min(2, total), (total, chunk, overlap, ids)
                assert 0 <= keep_from < keep_to <= len(window)
                produced += ids[keep_from:keep_to]
            assert produced == list(range(total)), (total, chunk, overlap)


def test_a_one_frame_last_window_merges_into_the_previous_one():
    frames = [np.full((1,), i) for i in range(8)]
    windows = [(len(w), a, b) for w, a, b in overlapping_windows(frames, chunk=7, overlap=0)]
    assert windows == [(8, 0, 8)]


def test_upscale_chunk_7_overlap_0_on_8_frames_writes_all_8(tmp_path):
    src, out = tiny_video(tmp_path / "in.mp4", frames=8), tmp_path / "out"
    cli_ok(["upscale", str(src), "-o", str(out), "--chunk", "7", "--overlap", "0"])
    assert read_video(out).shape == (8, 64, 80, 3)
