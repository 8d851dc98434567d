"""Outputs that appear whole or not at all, never over an input, never over a file dynskip did not write.

An output (video, frame folder, JSON, picture, report folder) is written under a hidden temporary name
in its destination folder, fsynced, and renamed to its final name only when complete. On any error,
Ctrl-C or SIGTERM the temporary is removed and the final name is untouched; after SIGKILL only the
hidden temporary (``.NAME.dynskip-tmp-PID-*``) remains, and the next run writing that output removes it.
A folder output records what it wrote in
``.dynskip-manifest.json``; replacing it (``overwrite=True``, ``--overwrite`` on the command line)
removes only those files, never anything else in the folder.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

MANIFEST = ".dynskip-manifest.json"
OVERWRITE_HINT = "pass --overwrite (overwrite=True) to replace it"


class SameFileError(ValueError):
    """An output resolves to the same file or folder as an input."""


def refuse_same_path(output: str | Path, inputs: Iterable[str | Path | None]) -> None:
    """Raise :class:`SameFileError` if ``output`` is (or links to) one of ``inputs``; reads nothing."""
    out = Path(output).expanduser().resolve()
    for source in inputs:
        if source is None:
            continue
        src = Path(source).expanduser().resolve()
        same = src == out or (src.exists() and out.exists() and os.path.samefile(src, out))
        if same:
            raise SameFileError(
                f"output {output} is the input {source}: writing it would destroy the input; "
                "choose another output name"
            )


def read_manifest(folder: Path) -> list[str]:
    """Names of the files an earlier dynskip run wrote into ``folder`` (none without a manifest)."""
    path = folder / MANIFEST
    if not path.is_file():
        return []
    try:
        files = json.loads(path.read_text())["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a dynskip manifest ({err}); remove it to continue") from err
    if not isinstance(files, list) or not all(isinstance(f, str) and "/" not in f for f in files):
        raise ValueError(f"{path}: 'files' must be a list of plain file names")
    return files


def _fsync_path(path: Path) -> None:
    """Flush ``path`` (a file, or a folder's entries) to disk; folders cannot be fsynced everywhere."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on folders; the data files were synced
        pass
    finally:
        os.close(fd)


def _check_file_destination(final: Path, overwrite: bool) -> None:
    if final.is_dir():
        raise IsADirectoryError(
            f"output {final} is an existing folder; a file cannot replace it (even with --overwrite): "
            "choose another name"
        )
    if final.exists() and not overwrite:
        raise FileExistsError(f"output {final} exists; {OVERWRITE_HINT}")


def _check_folder_destination(final: Path, overwrite: bool, claims: re.Pattern | None) -> None:
    if final.exists() and not final.is_dir():
        raise FileExistsError(f"output folder {final} is an existing file; choose another name")
    if not final.is_dir():
        return
    ours = set(read_manifest(final))
    theirs = [p.name for p in final.iterdir() if p.name != MANIFEST and p.name not in ours]
    if (ours or theirs) and not overwrite:
        raise FileExistsError(
            f"output folder {final} already holds files ({len(ours)} from an earlier dynskip run, "
            f"{len(theirs)} others); {OVERWRITE_HINT} (only dynskip's own files are removed)"
        )
    clashes = sorted(n for n in theirs if claims is not None and claims.fullmatch(n))
    if clashes:
        shown = ", ".join(clashes[:5]) + (f" ... ({len(clashes)} in all)" if len(clashes) > 5 else "")
        raise FileExistsError(
            f"output folder {final} holds files dynskip did not write but would write under the same "
            f"names ({shown}); they are left alone: move them or choose another folder"
        )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _missing_parents(path: Path) -> list[Path]:
    missing = []
    for parent in path.parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing


class _TerminateAsInterrupt:
    """While active (main thread only), SIGTERM raises ``KeyboardInterrupt`` so cleanup code runs."""

    def __init__(self) -> None:
        self._installed = False

    def __enter__(self) -> None:
        self._installed = threading.current_thread() is threading.main_thread()
        if self._installed:
            self._previous = signal.signal(signal.SIGTERM, self._raise)

    @staticmethod
    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"terminated by signal {signum}")

    def __exit__(self, *exc: object) -> None:
        if self._installed:  # a handler set outside Python reads as None: restore the default then
            signal.signal(signal.SIGTERM, self._previous if self._previous is not None else signal.SIG_DFL)
            self._installed = False


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def remove_stale_temporaries(folder: Path, base: str) -> list[Path]:
    """Remove ``folder/BASE<pid>-*`` temporaries whose process is gone (``kill -9``); returns them.

    A live process's temporary (another run writing the same output) is left alone.
    """
    removed = []
    if not folder.is_dir():
        return removed
    for path in folder.glob(f"{glob.escape(base)}*"):
        pid = path.name[len(base) :].split("-", 1)[0]
        if not pid.isdigit() or _process_alive(int(pid)):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


class AtomicOutput:
    """A file or folder built at ``self.temp`` beside ``final`` and renamed to ``final`` by :meth:`commit`.

    Creating it checks the destination (existing output without ``overwrite``, a folder where a file is
    to go, unlisted files a folder output would write over: names matching ``claims``) and that the
    destination folder is writable, so a run fails before its work, naming the path. Used as a context
    manager it commits on success and removes the temporary on any exception (SIGTERM included).
    """

    def __init__(
        self, final: str | Path, *, folder: bool, overwrite: bool = False, claims: re.Pattern | None = None
    ) -> None:
        self.final = Path(final).expanduser().resolve()
        self.folder = folder
        if folder:
            _check_folder_destination(self.final, overwrite, claims)
        else:
            _check_file_destination(self.final, overwrite)
        self._created_parents = _missing_parents(self.final)
        base = f".{self.final.stem if not folder else self.final.name}.dynskip-tmp-"
        remove_stale_temporaries(self.final.parent, base)
        prefix = f"{base}{os.getpid()}-"
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            if folder:
                self.temp = Path(tempfile.mkdtemp(prefix=prefix, dir=self.final.parent))
            else:
                fd, name = tempfile.mkstemp(prefix=prefix, suffix=self.final.suffix, dir=self.final.parent)
                os.close(fd)
                self.temp = Path(name)
            # mkstemp / mkdtemp make private entries; the output gets the usual permissions.
            self.temp.chmod((0o777 if folder else 0o666) & ~_umask())
        except OSError as err:
            self._remove_created_parents()
            raise PermissionError(
                f"cannot write output {self.final}: its folder is not writable ({err.strerror or err})"
            ) from err
        self._signals = _TerminateAsInterrupt()
        self.done = False

    def __enter__(self) -> AtomicOutput:
        self._signals.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self.commit()
            else:
                self.discard()
        finally:
            self._signals.__exit__()

    def commit(self) -> Path:
        """Sync the temporary to disk and rename it to the final name; returns the final path."""
        if self.done:
            return self.final
        try:
            if self.folder:
                self._commit_folder()
            else:
                _fsync_path(self.temp)
                os.replace(self.temp, self.final)
            _fsync_path(self.final.parent)
        except BaseException:
            self.discard()
            raise
        self.done = True
        return self.final

    def _commit_folder(self) -> None:
        new = sorted(p.name for p in self.temp.iterdir())
        for name in new:
            _fsync_path(self.temp / name)
        if not self.final.exists():
            _write_manifest(self.temp, new)
            os.rename(self.temp, self.final)
        else:
            self._merge_into_final(new)

    def _merge_into_final(self, new: list[str]) -> None:
        """Move ``new`` files into the existing final folder; remove what the earlier run listed only."""
        ours = set(read_manifest(self.final))
        for name in new:  # a file dynskip did not write is never replaced
            if (self.final / name).exists() and name not in ours:
                raise FileExistsError(f"{self.final / name} was not written by dynskip; left as it is")
        theirs = sorted(p.name for p in self.final.iterdir() if p.name != MANIFEST and p.name not in ours)
        if theirs:
            log.warning(
                "output folder %s keeps %d files dynskip did not write (%s); read as a video, the folder "
                "mixes them with the new frames",
                self.final,
                len(theirs),
                ", ".join(theirs[:5]),
            )
        # Listed before they move in, so an interruption never leaves a dynskip file unlisted.
        _write_manifest(self.final, sorted(ours | set(new)))
        for name in new:
            os.replace(self.temp / name, self.final / name)
        for name in sorted(ours - set(new)):  # stale frames of a longer earlier run
            with contextlib.suppress(FileNotFoundError):
                (self.final / name).unlink()
        _write_manifest(self.final, new)
        self.temp.rmdir()
        _fsync_path(self.final)

    def discard(self) -> None:
        """Remove the temporary (and folders created for it); the final name is untouched."""
        if self.done:
            return
        if self.temp.is_dir():
            shutil.rmtree(self.temp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                self.temp.unlink()
        self._remove_created_parents()
        self.done = True

    def _remove_created_parents(self) -> None:
        for parent in self._created_parents:  # innermost first; only if still empty
            with contextlib.suppress(OSError):
                parent.rmdir()


def _write_manifest(folder: Path, names: list[str]) -> None:
    with AtomicOutput(folder / MANIFEST, folder=False, overwrite=True) as out:
        out.temp.write_text(json.dumps({"written_by": "dynskip", "files": names}, indent=1) + "\n")


@contextlib.contextmanager
def atomic_file(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path (same suffix) to write; it becomes ``path`` only if the block succeeds."""
    with AtomicOutput(path, folder=False, overwrite=overwrite) as out:
        yield out.temp


def atomic_write_text(path: str | Path, text: str, overwrite: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically; an existing ``path`` needs ``overwrite``."""
    with atomic_file(path, overwrite) as temp:
        temp.write_text(text)
    return Path(path)


def check_output(
    path: str | Path,
    *,
    folder: bool,
    overwrite: bool = False,
    inputs: Iterable[str | Path | None] = (),
    claims: re.Pattern | None = None,
) -> None:
    """Everything :class:`AtomicOutput` checks, and the same-path refusal, before any work: nothing is
    left behind (the writability probe is removed at once)."""
    refuse_same_path(path, inputs)
    AtomicOutput(path, folder=folder, overwrite=overwrite, claims=claims).discard()
