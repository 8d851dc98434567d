"""``--save-masks``: a video of where a skipping model ran, one frame per output frame.

Each video frame is a row: the model's output, then every skip map of the forward that produced it
over that output (red: computed, blue: skipped; :func:`dynskip.utils.images.overlay_map`). The maps
come from the model's :class:`~dynskip.skip.protocol.SkipReport`: per-frame ``frames/*`` maps where
the model reports them (SkipVSR), else its ``mask/*`` maps (UGSP-RIFE: one per interpolated frame).
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor, nn

from dynskip.data.video import VideoWriter
from dynskip.skip.protocol import SkippingModel
from dynskip.utils.images import make_row, normalise_map, overlay_map


def require_skipping(model: nn.Module, name: str) -> None:
    if not isinstance(model, SkippingModel):
        raise ValueError(
            f"--save-masks needs a skipping model (skipvsr, ugsp-rife, ugsp); '{name}' has no masks"
        )


def frame_maps(maps: dict[str, Tensor]) -> dict[str, Tensor]:
    """The maps to draw: per-frame ``frames/*`` ones when the model reports them, else ``mask/*``."""
    prefix = "frames/" if any(k.startswith("frames/") for k in maps) else "mask/"
    return {name: value for name, value in sorted(maps.items()) if name.startswith(prefix)}


class MaskVideo:
    """Writes the rows; ``panels`` names the maps drawn after the output, in order."""

    def __init__(self, path: str | Path, fps: float | None = None, overwrite: bool = False) -> None:
        self.writer = VideoWriter(path, fps=fps, overwrite=overwrite)
        self.panels: list[str] | None = None

    def add(self, frames: Tensor, maps: dict[str, Tensor], first: int = 0) -> None:
        """``frames`` ``(N, 3, H, W)`` in [0, 1] came from one forward whose maps are ``maps``; frame
        ``i`` is that forward's output ``first + i`` (a VSR window keeps only its middle)."""
        chosen = frame_maps(maps)
        if not chosen:
            raise ValueError(f"the model reported no mask maps to draw (maps: {sorted(maps)})")
        if self.panels is None:
            self.panels = list(chosen)
        for i, frame in enumerate(frames.detach().float().cpu()):
            row = [frame.clamp(0, 1)]
            for name, values in chosen.items():
                index = 0 if values.shape[0] == 1 else first + i
                if index >= values.shape[0]:
                    raise ValueError(f"map '{name}' holds {values.shape[0]} frames; frame {index} was asked")
                row.append(overlay_map(frame, normalise_map(values[index].cpu())))
            self.writer.write(make_row(row))

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> MaskVideo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def save_mask_video(
    model: nn.Module,
    task: str,
    clip: Tensor,
    device: str,
    path: str | Path,
    degradation: str = "bi",
    overwrite: bool = False,
) -> list[str]:
    """One evaluation pass of ``model`` on ``clip`` (as ``evaluate`` runs it) drawn into ``path``;
    returns the panels after the output."""
    import torch

    from dynskip.evaluation.footage import vfi_workload, vsr_workload

    if task == "vsr":
        work = vsr_workload(model, clip, device, degradation=degradation)
    else:
        work = vfi_workload(model, clip, device)
    with torch.inference_mode():
        work.prepare()  # calibrated as evaluate calibrates it
        pred = work.run()
    with MaskVideo(path, overwrite=overwrite) as video:
        if task == "vsr":  # one forward over the whole clip
            video.add(pred, work.reports[0].maps)
        else:  # one forward per predicted frame
            for k, report in enumerate(work.reports):
                video.add(pred[k : k + 1], report.maps)
    return video.panels or []
