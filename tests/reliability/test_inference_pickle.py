"""Checkpoints given to inference still refuse pickle payloads: no code in them runs (weights_only)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from outputs_helpers import tiny_video

from dynskip.cli.main import main


class Payload:
    """Unpickling this creates ``marker`` (``torch.load(..., weights_only=False)`` would)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("flag", ["--weights", "--ckpt"])
def test_a_pickle_payload_is_refused_and_never_runs(tmp_path, flag):
    marker, bad = tmp_path / "payload-ran", tmp_path / "bad.ckpt"
    torch.save({"state_dict": {"model.x": Payload(marker)}, "epoch": 0, "params": Payload(marker)}, bad)
    src, out = tiny_video(tmp_path / "in.mp4", frames=2), tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match=r"cannot read checkpoint .*bad\.ckpt"):
        main(["interpolate", str(src), str(out), flag, str(bad)])
    assert not marker.exists() and not out.exists()
