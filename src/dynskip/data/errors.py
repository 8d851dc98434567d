"""Error vocabulary of the data layer: every message names the file, key or value at fault."""

from __future__ import annotations


class DataError(Exception):
    """Base class of data-layer errors (catch this to handle any bad dataset input)."""


class MissingDataError(DataError, FileNotFoundError):
    """A dataset root, list file, frame or video that the layout requires does not exist."""


class CorruptDataError(DataError, ValueError):
    """A file exists but cannot be used: unreadable image, malformed list line, undecodable video."""


class TruncatedVideoError(CorruptDataError):
    """A video ends (or stops decoding) before the frames its header declares or the caller asked for."""

    def __init__(self, message: str, frames_readable: int) -> None:
        super().__init__(message)
        self.frames_readable = frames_readable


class DamagedVideoWarning(UserWarning):
    """A video decoded, but not cleanly: frames were dropped by the decoder or its timestamps run
    backwards. The message names the file and where."""
