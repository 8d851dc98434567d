"""Training checkpoints written atomically next to their final name, and the newest one that loads.

Lightning's own writer saves into the system temporary folder and moves the file into place; across
filesystems that move is a copy, so a full disk or a kill leaves a truncated ``last.ckpt``. Here the
temporary lies in the checkpoint's own folder, is fsynced, then renamed over the final name (atomic
on POSIX), and the folder is fsynced so the rename survives a crash: the final name holds either the
previous checkpoint or the complete new one.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"  # temporaries are ``.<name>.<8 hex digits>.tmp``: hidden, and never ``*.ckpt``
TEMP_PATTERN = ".*.ckpt.????????" + TEMP_SUFFIX


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save(obj)`` to ``path`` through a fsynced temporary in the same folder and a rename.

    On any failure (``ENOSPC``, a signal turned into an exception) the temporary is removed and
    ``path`` keeps what it held before.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
    try:
        with open(temp, "xb") as file:  # "x": never reuses a file that is already there
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the partial temporaries a killed save left in ``folder`` (only names this module
    writes, never a ``*.ckpt``); returns them."""
    stale = sorted(folder.glob(TEMP_PATTERN))
    for path in stale:
        path.unlink(missing_ok=True)
        log.warning("removed %s, left by a checkpoint save that was killed", path)
    return stale


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint IO whose saves are :func:`atomic_torch_save` (loads stay Lightning's)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(
                f"AtomicCheckpointIO.save_checkpoint takes no storage_options, got {storage_options!r}"
            )
        atomic_torch_save(checkpoint, path)


def unloadable_reason(path: Path) -> str | None:
    """Why ``path`` cannot resume a run (``weights_only=True``), or ``None`` when it can."""
    if path.stat().st_size == 0:
        return "empty file (0 bytes)"
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, pickle payload refused, I/O error: all mean "skip it"
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return f"{type(err).__name__}: {first_line}" if first_line else f"{type(err).__name__} (no message)"
    if not isinstance(obj, Mapping) or "state_dict" not in obj:
        return f"not a Lightning checkpoint (holds a {type(obj).__name__} without 'state_dict')"
    return None


def newest_loadable_checkpoint(folder: Path) -> Path | None:
    """The newest ``*.ckpt`` in ``folder`` that loads with ``weights_only=True`` (``last.ckpt`` first
    among equally new ones), logging every newer one it skipped and why; ``None`` when the folder has
    no checkpoint. Raises ``RuntimeError`` listing each file and its reason when none loads."""
    candidates = sorted(
        folder.glob("*.ckpt"), key=lambda p: (p.stat().st_mtime_ns, p.name == "last.ckpt"), reverse=True
    )
    skipped = []
    for path in candidates:
        reason = unloadable_reason(path)
        if reason is None:
            return path
        log.warning("skipping checkpoint %s: %s", path, reason)
        skipped.append(f"{path.name}: {reason}")
    if skipped:
        raise RuntimeError(f"no checkpoint in {folder} loads: " + "; ".join(skipped))
    return None
