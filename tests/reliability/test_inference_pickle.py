"""Checkpoints given to inference still refuse pickle payloads: no code in them runs (weights_only)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from helpers.clips import tiny_video


class Payload:
    """Unpickling this creates ``marker`` (``torch.load(..., weights_only=False)`` would)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("flag", ["--weights", "--ckpt"])
def test_a_pickle_payload_is_refused_and_never_runs(tmp_path, flag, cli_fails):
    marker, bad = tmp_path / "payload-ran", tmp_path / "bad.ckpt"
    torch.save({"state_dict": {"model.x": Payload(marker)}, "epoch": 0, "params": Payload(marker)}, bad)
    src, out = tiny_video(tmp_path / "in.mp4", frames=2), tmp_path / "out.mp4"
    cli_fails(
        ["interpolate", str(src), "-o", str(out), flag, str(bad)],
        RuntimeError,
        r"cannot read checkpoint .*bad\.ckpt",
    )
    assert not marker.exists() and not out.exists()
