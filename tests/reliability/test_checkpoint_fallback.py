"""Checkpoints survive a full disk and a damaged file: saves go through a temporary in the checkpoint's
own folder, a failed save leaves the previous checkpoint intact, and ``ckpt_path=last`` resumes from
the newest checkpoint that loads, saying which it skipped and why."""

from __future__ import annotations

import errno
import io
import logging
import os
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from dynskip.utils.atomic_checkpoint import newest_loadable_checkpoint
from helpers.training import train_tiny_vsr

KEEP_ALL = "callbacks.model_checkpoint.save_top_k=-1"  # step0000002.ckpt, step0000004.ckpt, last.ckpt


def saved_step(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])


def test_truncated_last_checkpoint_falls_back_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    train_tiny_vsr(tmp_path, "trainer.max_steps=4", KEEP_ALL)
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # what a full disk left before
    with caplog.at_level(logging.INFO):
        metrics = train_tiny_vsr(tmp_path, "trainer.max_steps=6", KEEP_ALL, "ckpt_path=last")
    assert f"skipping checkpoint {last}: " in caplog.text
    assert f"resuming from {tmp_path / 'checkpoints' / 'step0000004.ckpt'}" in caplog.text
    assert metrics["global_step"] == 6
    assert saved_step(last) == 6  # the resumed run wrote a whole last.ckpt again


def test_newest_loadable_checkpoint_skips_damaged_files_newest_first(tmp_path: Path) -> None:
    state = {"state_dict": {"w": torch.zeros(2)}, "global_step": 2}
    older = tmp_path / "step0000002.ckpt"
    torch.save(state, older)
    newer = tmp_path / "step0000004.ckpt"
    newer.write_bytes(b"")  # empty: the reason must not be blank
    last = tmp_path / "last.ckpt"
    torch.save([1, 2], last)  # loads, but is no Lightning checkpoint
    for age, path in enumerate((last, newer, older)):  # last.ckpt newest, as Lightning writes it
        os.utime(path, (1_000_000 - age, 1_000_000 - age))
    assert newest_loadable_checkpoint(tmp_path) == older
    newer.unlink()
    older.write_bytes(b"PK\x03\x04 not a whole zip")
    with pytest.raises(RuntimeError, match=re.escape(f"no checkpoint in {tmp_path} loads")) as err:
        newest_loadable_checkpoint(tmp_path)
    assert "last.ckpt: not a Lightning checkpoint" in str(err.value)
    assert "step0000002.ckpt: " in str(err.value)
    assert newest_loadable_checkpoint(tmp_path / "empty") is None  # no checkpoint yet: a fresh start


def test_no_checkpoint_loads_is_an_error_not_a_fresh_start(tmp_path: Path) -> None:
    train_tiny_vsr(tmp_path, "trainer.max_steps=2")
    for path in (tmp_path / "checkpoints").glob("*.ckpt"):
        path.write_bytes(b"")
    with pytest.raises(RuntimeError, match=r"no checkpoint in .* loads") as err:
        train_tiny_vsr(tmp_path, "trainer.max_steps=4", "ckpt_path=last")
    assert "last.ckpt: empty file (0 bytes)" in str(err.value)
    assert "step0000002.ckpt: empty file (0 bytes)" in str(err.value)
    assert not any((tmp_path / "checkpoints").glob("last-v*.ckpt"))


class DiskFull:
    """``torch.save`` on a disk that fills up: half the bytes reach the file, then ``ENOSPC``.
    Records where each write went, to check the temporary lies next to the final name."""

    def __init__(self, real_save: Any) -> None:
        self.real_save, self.targets = real_save, []

    def __call__(self, obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        self.targets.append(getattr(f, "name", f))
        buffer = io.BytesIO()
        self.real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_during_a_save_leaves_the_previous_checkpoint_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train_tiny_vsr(tmp_path, "trainer.max_steps=2")
    folder = tmp_path / "checkpoints"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    disk_full = DiskFull(torch.save)
    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        train_tiny_vsr(tmp_path, "trainer.max_steps=4", "ckpt_path=last")
    monkeypatch.undo()
    # The failed write went to a temporary in the checkpoint folder itself (not the system temp folder,
    # from where a move across filesystems would truncate the final file) ...
    assert disk_full.targets and all(Path(str(t)).parent == folder for t in disk_full.targets)
    assert all(Path(str(t)).name.startswith(".") for t in disk_full.targets)
    # ... which is gone; the previous checkpoints are byte-identical and still resume the run.
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert train_tiny_vsr(tmp_path, "trainer.max_steps=4", "ckpt_path=last")["global_step"] == 4


def test_resume_removes_only_the_temporaries_a_killed_save_left(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    train_tiny_vsr(tmp_path, "trainer.max_steps=2")
    folder = tmp_path / "checkpoints"
    killed = folder / ".last.ckpt.0a1b2c3d.tmp"  # as a SIGKILL during a save leaves it
    killed.write_bytes(b"PK partial")
    foreign = folder / ".notes.tmp"
    foreign.write_text("mine")
    with caplog.at_level(logging.WARNING):
        assert train_tiny_vsr(tmp_path, "trainer.max_steps=4", "ckpt_path=last")["global_step"] == 4
    assert not killed.exists() and f"removed {killed}" in caplog.text
    assert foreign.read_text() == "mine"
    assert sorted(p.name for p in folder.glob(".*.tmp")) == [".notes.tmp"]
