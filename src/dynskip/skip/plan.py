"""Tile plans and canvases: the index bookkeeping of the tile engine, done once per mask.

:class:`TilePlan` turns a tile mask ``(B, Ht, Wt)`` into index tensors of the active tiles (sample,
tile row, tile column). It is built once per mask and shared by every layer and every block that
uses that mask; the host synchronisations on CUDA happen when it is built (``nonzero``) and split
(one copy to the host and one back, on first use), and nothing in the per-layer hot loop
synchronises. The active tiles are split into at most four :class:`TileGroup` s by their in-image
shape (full tiles; the partial last row; the partial last column; the corner), so a partial border
tile is computed at its true size instead of a full tile.

:class:`TileCanvas` is a zero-padded channels-last buffer ``(B, Ht*T + 2m, Wt*T + 2m, C)`` that
holds a feature map with a margin ``m``: the windows of a group (tile + ``2 * halo``) are gathered
from it with one ``index_select`` of window rows, and tiles are written back with one ``index_put_``.
Everything outside the image stays zero, so a window reads what a zero-padded dense conv reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from dynskip.skip.tiles import check_tile_mask, tile_grid_shape, tile_to_pixel

__all__ = ["TileCanvas", "TileGroup", "TilePlan"]


@dataclass(eq=False)
class TileGroup:
    """Active tiles sharing one in-image shape.

    Attributes:
        sample, row, col: ``(n,)`` int64 indices of the tiles.
        shape: ``(th, tw)``, the in-image size of these tiles.
        edges: positions (in this group) of tiles in the top row, bottom row, left and right
            column, or ``None`` when there are none: a window reaching outside the image there
            must be zeroed before a conv reads it.
        last: ``(H - (Ht - 1) T, W - (Wt - 1) T)``, the in-image size of the last row/column.
        cells: ``(3, n)`` int64 host copy of ``sample, row, col`` (index arithmetic costs ~1 us there).
    """

    sample: Tensor
    row: Tensor
    col: Tensor
    shape: tuple[int, int]
    edges: dict[str, Tensor | None]
    last: tuple[int, int]
    cells: np.ndarray = field(repr=False)
    # window row offsets by canvas geometry: (rows, cols, tile, first window row, window height)
    _rows: dict[tuple[int, ...], Tensor] = field(default_factory=dict, repr=False, init=False)

    def zero_outside(self, tiles: Tensor, halo: int) -> None:
        """In place: zero what lies outside the image in windows ``(n, C, th + 2 halo, tw + 2 halo)``."""
        beyond_h, beyond_w = self.last[0] + halo, self.last[1] + halo  # first outside index, last row/col
        size_h, size_w = tiles.shape[2:]
        edges = self.edges
        if halo and edges["top"] is not None:
            tiles[:, :, :halo].index_fill_(0, edges["top"], 0)
        if halo and edges["left"] is not None:
            tiles[..., :halo].index_fill_(0, edges["left"], 0)
        if beyond_h < size_h and edges["bottom"] is not None:
            tiles[:, :, beyond_h:].index_fill_(0, edges["bottom"], 0)
        if beyond_w < size_w and edges["right"] is not None:
            tiles[..., beyond_w:].index_fill_(0, edges["right"], 0)


@dataclass(eq=False)
class TilePlan:
    """Active tiles of one mask at one pyramid level.

    Attributes:
        batch, height, width: the feature map the mask covers (``H x W`` pixels).
        tile: tile size in pixels at this level.
        grid: ``(Ht, Wt)``.
        sample, row, col: ``(N,)`` int64 indices of the ``N`` active tiles (on the mask's device).
        num_active: ``N`` (host int).
        groups: the active tiles split by in-image shape (non-empty groups only).
    """

    batch: int
    height: int
    width: int
    tile: int
    grid: tuple[int, int]
    sample: Tensor
    row: Tensor
    col: Tensor
    num_active: int
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_mask(cls, tile_mask: Tensor, tile: int, size: tuple[int, int]) -> TilePlan:
        """Plan of the ``True`` tiles of a bool ``(B, Ht, Wt)`` mask covering ``size = (H, W)``."""
        check_tile_mask(tile_mask, allow_soft=False)
        h, w = size
        grid = tile_grid_shape(h, w, tile)
        if tuple(tile_mask.shape[1:]) != grid:
            raise ValueError(
                f"tile_mask grid {tuple(tile_mask.shape[1:])} does not cover size {(h, w)} with tile "
                f"{tile}: expected grid {grid}"
            )
        sample, row, col = tile_mask.nonzero(as_tuple=True)
        return cls._build(tile_mask.shape[0], h, w, tile, grid, sample, row, col)

    @classmethod
    def _build(cls, batch, h, w, tile, grid, sample, row, col) -> TilePlan:
        return cls(batch, h, w, tile, grid, sample, row, col, int(sample.numel()))

    @property
    def groups(self) -> list[TileGroup]:
        """The active tiles split by in-image shape (non-empty groups only).

        Built on first use: a plan whose block runs densely (all active, or above the cut-over) only
        needs its counts, and on small frames the split cost ~0.2 ms per plan (30 plans per step).
        """
        if "groups" not in self._cache:
            self._cache["groups"] = self._split_groups()
        return self._cache["groups"]

    def _split_groups(self) -> list[TileGroup]:
        # On the host: a plan has at most a few hundred tiles, where numpy's calls cost ~1 us and
        # torch's ~10 us (the split runs for every plan of every step). On CUDA that is one copy to
        # the host and one back, whatever the number of groups.
        sample, row, col = torch.stack((self.sample, self.row, self.col)).cpu().numpy()
        tile, (ht, wt) = self.tile, self.grid
        last = (self.height - (ht - 1) * tile, self.width - (wt - 1) * tile)
        in_row = (row == ht - 1) & (last[0] < tile)  # tiles of a partial last row
        in_col = (col == wt - 1) & (last[1] < tile)  # tiles of a partial last column
        found = []
        for partial_row in (False, True):
            for partial_col in (False, True):
                where = np.flatnonzero((in_row == partial_row) & (in_col == partial_col))
                if where.size:
                    shape = (last[0] if partial_row else tile, last[1] if partial_col else tile)
                    found.append((np.stack((sample[where], row[where], col[where])), shape))
        return self._groups_on_device(found, last)

    def _groups_on_device(
        self, found: list[tuple[np.ndarray, tuple[int, int]]], last: tuple[int, int]
    ) -> list[TileGroup]:
        """Groups from host ``(cells (3, n), shape)`` pairs; all their indices move in one copy."""
        if not found:
            return []
        ht, wt = self.grid
        parts, layout = [], []
        for cells, _ in found:
            _, row, col = cells
            flags = {"top": row == 0, "bottom": row == ht - 1, "left": col == 0, "right": col == wt - 1}
            edges = {name: np.flatnonzero(on) for name, on in flags.items()}
            parts += [cells.ravel(), *edges.values()]
            layout.append({name: p.size for name, p in edges.items()})
        flat = torch.from_numpy(np.concatenate(parts).astype(np.int64)).to(self.device)
        groups, at = [], 0
        for (cells, shape), sizes in zip(found, layout, strict=True):
            n = cells.shape[1]
            sample, row, col = flat[at : at + 3 * n].view(3, n)
            at += 3 * n
            edges = {}
            for name, size in sizes.items():
                edges[name], at = (flat[at : at + size] if size else None), at + size
            groups.append(TileGroup(sample, row, col, shape, edges, last, cells.astype(np.int64)))
        return groups

    @property
    def device(self) -> torch.device:
        return self.sample.device

    @property
    def is_full(self) -> bool:
        """Every tile active."""
        return self.num_active == self.batch * self.grid[0] * self.grid[1]

    @property
    def fraction(self) -> float:
        """Share of active tiles over the whole batch (host float)."""
        return self.num_active / (self.batch * self.grid[0] * self.grid[1])

    def tile_mask(self) -> Tensor:
        """The bool ``(B, Ht, Wt)`` mask back."""
        mask = torch.zeros(self.batch, *self.grid, dtype=torch.bool, device=self.device)
        mask[self.sample, self.row, self.col] = True
        return mask

    def pixel_mask(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """``(B, 1, H, W)`` 0/1 mask (cached per dtype)."""
        key = ("pixel", dtype)
        if key not in self._cache:
            mask = tile_to_pixel(self.tile_mask(), self.tile, (self.height, self.width))
            self._cache[key] = mask.to(dtype)
        return self._cache[key]

    def rescaled(self, resample: str, size: tuple[int, int] | None = None) -> TilePlan:
        """The same tiles one level down (``"down"``: stride 2) or up (``"up"``: x2), cached.

        Down halves the tile (it must be even) and maps ``H`` to ``ceil(H / 2)``; up doubles both,
        or takes ``size`` when given.
        """
        key = ("level", resample, size)
        if key in self._cache:
            return self._cache[key]
        if resample == "down":
            if self.tile % 2:
                raise ValueError(f"a stride-2 conv needs an even tile at its input level, got {self.tile}")
            tile, h, w = self.tile // 2, -(-self.height // 2), -(-self.width // 2)
        elif resample == "up":
            tile, (h, w) = self.tile * 2, size or (self.height * 2, self.width * 2)
        else:
            raise ValueError(f"resample must be 'down' or 'up', got {resample!r}")
        if tile_grid_shape(h, w, tile) != self.grid:
            raise ValueError(f"size {(h, w)} with tile {tile} does not keep the tile grid {self.grid}")
        plan = TilePlan._build(self.batch, h, w, tile, self.grid, self.sample, self.row, self.col)
        self._cache[key] = plan
        return plan

    def check_input(self, x: Tensor, name: str = "x") -> None:
        """Raise unless ``x`` is ``(B, C, H, W)`` floating, on this plan's batch, size and device."""
        if not isinstance(x, Tensor) or x.dim() != 4:
            got = getattr(x, "shape", type(x).__name__)
            raise ValueError(f"{name} must be a (B, C, H, W) tensor, got {got}")
        expected = (self.batch, self.height, self.width)
        if (x.shape[0], x.shape[2], x.shape[3]) != expected:
            raise ValueError(
                f"{name} of shape {tuple(x.shape)} does not match the plan: expected (B, H, W) = {expected}"
            )
        if x.device != self.device:
            raise ValueError(f"{name} is on {x.device} but the plan's indices are on {self.device}")
        if not x.is_floating_point():
            raise TypeError(f"{name} must be floating, got dtype {x.dtype}")


class TileCanvas:
    """Zero-padded channels-last feature buffer with a margin, for tile gathers and scatters.

    ``data`` is ``(B, Ht*T + 2m, Wt*T + 2m, C)``; the image sits at ``[m:m+H, m:m+W]``.
    """

    def __init__(
        self,
        plan: TilePlan,
        channels: int,
        margin: int,
        dtype: torch.dtype,
        device: torch.device,
        zeroed: bool = True,
    ):
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        ht, wt = plan.grid
        t = plan.tile
        self.plan, self.margin, self.channels = plan, margin, channels
        shape = (plan.batch, ht * t + 2 * margin, wt * t + 2 * margin, channels)
        self.data = (torch.zeros if zeroed else torch.empty)(shape, dtype=dtype, device=device)

    @classmethod
    def from_dense(cls, x: Tensor, plan: TilePlan, margin: int) -> TileCanvas:
        """A canvas holding ``x``; only the frame around the image is zeroed (``x`` fills the rest)."""
        canvas = cls(plan, x.shape[1], margin, x.dtype, x.device, zeroed=False)
        m, h, w, d = margin, plan.height, plan.width, canvas.data
        for frame in (d[:, :m], d[:, m + h :], d[:, m : m + h, :m], d[:, m : m + h, m + w :]):
            frame.zero_()
        canvas.dense().copy_(x)
        return canvas

    def dense(self) -> Tensor:
        """``(B, C, H, W)`` view of the image (channels-last strides, rows padded)."""
        m = self.margin
        return self.data[:, m : m + self.plan.height, m : m + self.plan.width].permute(0, 3, 1, 2)

    def _windows(self, halo: int, shape: tuple[int, int]) -> Tensor:
        """``(B, Ht, Wt, th + 2 halo, tw + 2 halo, C)`` overlapping windows, ``halo`` before each tile."""
        if halo > self.margin:
            raise ValueError(f"halo {halo} exceeds the canvas margin {self.margin}")
        d, t = self.data, self.plan.tile
        ht, wt = self.plan.grid
        sb, sy, sx, sc = d.stride()
        offset = d.storage_offset() + (self.margin - halo) * (sy + sx)
        size = (d.shape[0], ht, wt, shape[0] + 2 * halo, shape[1] + 2 * halo, d.shape[3])
        return d.as_strided(size, (sb, t * sy, t * sx, sy, sx, sc), offset)

    def gather(self, group: TileGroup, halo: int, shape: tuple[int, int] | None = None) -> Tensor:
        """Windows ``(n, C, th + 2 halo, tw + 2 halo)`` of ``group``'s tiles, channels-last, one copy.

        ``shape`` overrides ``(th, tw)`` (a group planned at another pyramid level).
        """
        if halo > self.margin:
            raise ValueError(f"halo {halo} exceeds the canvas margin {self.margin}")
        th, tw = shape or group.shape
        wh, ww = th + 2 * halo, tw + 2 * halo
        d = self.data
        channels = d.shape[3]
        # A window row is ``ww * C`` contiguous values of the channels-last buffer: select the rows
        # from a view with one (overlapping) row starting at every pixel. ``index_select`` copies
        # whole rows; advanced indexing of the 6-D window view copies value by value, 3-8x slower
        # on 64-channel windows (2 CPU threads; README.md, "Sparse engine").
        starts = d.numel() // channels - ww + 1
        rows = d.as_strided((starts, ww * channels), (channels, 1), d.storage_offset())
        out = rows.index_select(0, self._window_rows(group, halo, wh))
        return out.view(group.sample.numel(), wh, ww, channels).permute(0, 3, 1, 2)

    def _window_rows(self, group: TileGroup, halo: int, height: int) -> Tensor:
        """``(n * height,)`` pixel offsets in ``data`` of the first pixel of every window row, cached."""
        _, hc, wc, _ = self.data.shape
        t, start = self.plan.tile, self.margin - halo
        key = (hc, wc, t, start, height)
        if key not in group._rows:
            device = self.data.device
            if device.type == "cpu":  # numpy: a few ops of ~1 us instead of ~10 us each
                (sample, row, col), steps = group.cells, np.arange(height)
            else:  # on the device: a host copy here would wait for the queued convs
                sample, row, col = group.sample, group.row, group.col
                steps = torch.arange(height, device=device)
            top = (sample * hc + row * t + start) * wc + col * t + start
            rows = (top[:, None] + steps * wc).reshape(-1)
            group._rows[key] = rows if isinstance(rows, Tensor) else torch.from_numpy(rows)
        return group._rows[key]

    def scatter(self, group: TileGroup, tiles: Tensor) -> None:
        """Write ``(n, C, th, tw)`` tiles into the places of ``group``'s tiles."""
        where = (group.sample, group.row, group.col)
        self._windows(0, group.shape).index_put_(where, tiles.permute(0, 2, 3, 1))

    def check_plan(self, plan: TilePlan) -> None:
        """Raise unless ``plan`` has this canvas's batch, size and tile (its tiles may differ)."""
        mine = (self.plan.batch, self.plan.height, self.plan.width, self.plan.tile)
        theirs = (plan.batch, plan.height, plan.width, plan.tile)
        if mine != theirs:
            raise ValueError(f"plan (B, H, W, tile) = {theirs} does not match the canvas's {mine}")
