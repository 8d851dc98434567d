"""How a skipping model talks to the shared skipping layer.

A skipping model (UGSP, SkipVSR, or any other) declares its prunable units once with
:meth:`SkippingModel.skip_units`, exposes four knobs (``temperature``, ``threshold``, ``budget``,
``execution_mode``) and, after every forward, describes what it ran with
:meth:`SkippingModel.skip_report`. Losses, schedules, callbacks and the FLOPs report use only this
protocol, never the model's class.

Beyond that, every skipping model decides its masks with a :class:`MaskPolicy`, may measure execution
choices before timing (:meth:`SkipKnobs.calibrate`, never inside a forward), and a model whose
objective needs both branches of a pass offers :class:`TrainForward`.

Filling a report is the job of :class:`SkipRecorder`: the model resets it at the start of a
forward and calls :meth:`SkipRecorder.record` once per unit execution (per frame, per recurrent
step, whatever it runs), then returns :meth:`SkipRecorder.report`. With the tile engine, the MACs
really run come from :mod:`dynskip.skip.cost`::

    plan = TilePlan.from_mask(tile_mask, tile, (h, w))
    feat = residual_skip(feat, block, plan, mode="sparse")
    recorder.record(name, tile_mask, out_hw=(h, w), tile=tile, actual_macs=residual_skip_macs(block, plan))

Maps (:meth:`SkipRecorder.add_map`) are ``(N, 1, h, w)`` with the first frame of the first sample at
index 0: that one is drawn by :class:`dynskip.callbacks.skip.MaskVisualiserCallback`.

Execution modes:

- ``"train"``: soft (relaxed) masks multiply dense features; fractions are differentiable. The
  convention: while ``module.training`` is ``False`` a model in this mode behaves as ``"masked"``
  (deterministic hard masks from ``threshold``), as :class:`dynskip.skiptrain.relax.GumbelGate` does.
- ``"dense"``: every unit active everywhere (the baseline).
- ``"sparse"``: hard masks executed through the tile engine (the fast path).
- ``"masked"``: hard masks emulated densely (same numbers as ``"sparse"``, dense speed).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args, runtime_checkable

import torch
from torch import Tensor

from dynskip.skip.tiles import active_fraction

ExecutionMode = Literal["train", "dense", "sparse", "masked"]
EXECUTION_MODES: tuple[str, ...] = get_args(ExecutionMode)


@dataclass(frozen=True)
class SkipUnit:
    """Static description of one unit the model may skip per position.

    Attributes:
        name: dotted unit name, e.g. ``"forward_trunk.block07"`` or ``"decoder.l2"``.
        group: aggregation group, e.g. ``"block"``, ``"level"``, ``"trunk"``.
        macs_per_pixel: MACs the unit costs per active output position at its own resolution,
            for one frame (batch element), mask head excluded.
        scale: the unit's output resolution relative to the model input (``0.25`` for 1/4).
        halo: positions each side the unit reads beyond an active tile (``2`` for a residual block
            of two 3x3 convs).
        prunable: ``False`` for units that always run densely but count in the density (UGSP counts
            its always-on decoder).
    """

    name: str
    group: str
    macs_per_pixel: float
    scale: float = 1.0
    halo: int = 0
    prunable: bool = True

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("SkipUnit.name must be a non-empty string")
        if not self.macs_per_pixel >= 0:
            got = self.macs_per_pixel
            raise ValueError(f"SkipUnit '{self.name}': macs_per_pixel must be >= 0, got {got}")
        if not self.scale > 0:
            raise ValueError(f"SkipUnit '{self.name}': scale must be > 0, got {self.scale}")
        if self.halo < 0:
            raise ValueError(f"SkipUnit '{self.name}': halo must be >= 0, got {self.halo}")

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """Output grid of the unit for an input of ``height x width`` (ceil, as stride-2 convs do)."""
        return math.ceil(height * self.scale), math.ceil(width * self.scale)

    def dense_macs(self, height: int, width: int) -> float:
        """MACs of one dense execution for one frame of input size ``height x width``."""
        h, w = self.grid(height, width)
        return self.macs_per_pixel * h * w


@dataclass
class UnitReport:
    """What one unit ran during the last forward, normalised per frame.

    ``fraction`` is a 0-dim tensor (the mean active fraction of its positions; differentiable when
    the masks are soft); ``dense_macs`` and ``actual_macs`` are MACs per frame, the latter with halo
    and estimator / mask-head overhead included.
    """

    unit: SkipUnit
    fraction: Tensor
    dense_macs: float
    actual_macs: float


def _cost_weighted(units: Sequence[UnitReport]) -> Tensor:
    weights = [u.dense_macs for u in units]
    total = sum(weights)
    if not units or total <= 0:
        raise ValueError("no recorded unit with a positive dense cost to weight the density by")
    return sum(u.fraction * (w / total) for u, w in zip(units, weights, strict=True))


@dataclass
class SkipReport:
    """Per-forward account of a skipping model: active fractions, MACs per frame, maps.

    ``units`` maps unit names to :class:`UnitReport` in recording order; ``frames`` is the number of
    frames the forward produced (MACs are divided by it); ``maps`` holds ``(B, 1, h, w)`` tensors for
    visualisation (masks, uncertainty, confidence), keyed by a descriptive name.
    """

    units: dict[str, UnitReport] = field(default_factory=dict)
    frames: int = 1
    maps: dict[str, Tensor] = field(default_factory=dict)

    def select(self, group: str | None = None, prunable_only: bool = False) -> list[UnitReport]:
        """Unit reports of ``group`` (all groups for ``None``); raises on an unknown group."""
        if group is not None and group not in self.groups():
            raise KeyError(f"unknown group '{group}'; groups in this report: {self.groups()}")
        return [
            u
            for u in self.units.values()
            if (group is None or u.unit.group == group) and (u.unit.prunable or not prunable_only)
        ]

    def groups(self) -> list[str]:
        return list(dict.fromkeys(u.unit.group for u in self.units.values()))

    def density(self, group: str | None = None, prunable_only: bool = False) -> Tensor:
        """Cost-weighted active fraction (0-dim tensor, differentiable with soft masks)."""
        return _cost_weighted(self.select(group, prunable_only))

    def group_densities(self) -> dict[str, Tensor]:
        return {g: self.density(g) for g in self.groups()}

    def gmacs_dense(self, group: str | None = None) -> float:
        return sum(u.dense_macs for u in self.select(group)) / 1e9

    def gmacs_actual(self, group: str | None = None) -> float:
        return sum(u.actual_macs for u in self.select(group)) / 1e9

    def macs_saved_fraction(self, group: str | None = None) -> float:
        """``1 - actual / dense``; negative when the overhead outweighs what was skipped."""
        dense = self.gmacs_dense(group)
        return 0.0 if dense == 0 else 1.0 - self.gmacs_actual(group) / dense

    def scalars(self, prefix: str = "skip/", per_unit: bool = True) -> dict[str, float]:
        """Flat ``name -> float`` view for loggers: overall, per group and (optionally) per unit."""
        out = {
            f"{prefix}density": float(self.density().detach()),
            f"{prefix}gmacs_dense": self.gmacs_dense(),
            f"{prefix}gmacs_actual": self.gmacs_actual(),
            f"{prefix}macs_saved_fraction": self.macs_saved_fraction(),
        }
        for group in self.groups():
            out[f"{prefix}group/{group}/density"] = float(self.density(group).detach())
            out[f"{prefix}group/{group}/gmacs_actual"] = self.gmacs_actual(group)
        if per_unit:
            for name, u in self.units.items():
                out[f"{prefix}unit/{name}"] = float(u.fraction.detach())
        return out


@runtime_checkable
class SkippingModel(Protocol):
    """What the shared layer needs from a model; implement it (e.g. with :class:`SkipKnobs`)."""

    temperature: float
    threshold: float
    budget: float
    execution_mode: ExecutionMode

    def skip_units(self) -> list[SkipUnit]: ...

    def skip_report(self) -> SkipReport: ...


@runtime_checkable
class MaskPolicy(Protocol):
    """What decides a skipping model's masks: keep logits per tile from cheap evidence.

    Every skipping model holds one or more, as submodules; the model turns their logits into masks with
    its ``threshold`` knob (a unit runs where its keep probability exceeds it; 0 runs everything) or, in
    ``"train"`` execution while training, with a relaxation of :mod:`dynskip.skiptrain.relax`. Where each
    model keeps its policy and the rules it adds:

    - SkipVSR v1 (:mod:`dynskip.methods.skipvsr.v1`): ``backward_estimator`` / ``forward_estimator``
      (``ConfidenceEstimator``, one per trunk), logits ``(B, num_groups, gh, gw)``; the refresh cap of
      ``v1/policy.py`` runs units that skipped ``max_stale`` steps in a row.
    - SkipVSR v2 (:mod:`dynskip.methods.skipvsr`): ``policy`` (``ReusePolicy``), logits ``(B, 1, gh, gw)``;
      its ``forward(logits, occlusion, stale, threshold)`` also runs occluded and stale patches.
    - UGSP (:mod:`dynskip.methods.ugsp`): ``mask_heads[level]`` (``MaskHead``), two-class logits
      ``(B, 2, gh, gw)`` (prune, keep); ``pruning.sample_mask`` and ``hierarchical_mask`` make the masks.

    Their ``forward`` differs (v2's policy decides in it); ``logits`` is the one entry all share.
    """

    def logits(self, *evidence: Tensor | tuple[int, int]) -> Tensor:
        """Keep logits on the model's tile grid from this policy's evidence (features, a grid size)."""
        ...


@runtime_checkable
class TrainForward(SkippingModel, Protocol):
    """A skipping model whose training objective needs both branches of one pass, not only its output.

    UGSP (``ugsp``) and UGSP-RIFE (``ugsp-rife``) offer it; the UGSP objectives and label builder call
    nothing else of the model. (SkipVSR trains through its forward and its own label methods.)
    """

    def forward_train(
        self,
        img0: Tensor,
        img1: Tensor,
        timestep: float | Tensor = 0.5,
        pruned: bool = True,
        non_pruned: bool = True,
        uncertainty: bool = False,
    ) -> dict[str, Any]:
        """Both branches of one pass on ``(B, 3, H, W)`` frames of any size (padded as the model trains,
        outputs cropped back). The dict holds, as requested:

        - ``pruned``: ``frame`` ``(B, 3, H, W)`` in the current execution mode, ``masks`` / ``logits``
          ``{unit: (B, 1 | 2, gh, gw)}`` on the padded tile grids, ``features`` ``{unit: (B, C, h, w)}``,
          ``report`` (the pass's :class:`SkipReport`);
        - ``non_pruned``: ``frame_dense``, ``features_dense`` (same weights, every mask off);
        - ``uncertainty``: ``uncertainty`` ``(B, 1, H, W)``, the log-scale ``U`` of the non-pruned branch.
        """
        ...


class SkipKnobs:
    """Mixin holding the four validated knobs of :class:`SkippingModel`.

    Works with ``nn.Module`` (plain float / str attributes go through ``object.__setattr__``, which
    honours these properties). Defaults live on the class so no ``__init__`` call is needed.
    """

    _temperature: float = 1.0
    _threshold: float = 0.5
    _budget: float = 1.0
    _execution_mode: str = "train"
    # The dense baseline when it is not this model with every unit on (a fine-tuned backbone): a callable
    # returning that module (e.g. :class:`dynskip.models.PretrainedModel`), set by checkpoint
    # loaders; ``None``: the model's own dense mode.
    dense_reference = None

    def calibrate(self, *example_inputs: Tensor) -> None:
        """Measure execution choices (e.g. the tile engine's cut-over) for inputs shaped like
        ``example_inputs``, the forward's arguments. Call it before timing, never inside a forward;
        an uncalibrated model uses the engine's defaults. This default measures nothing."""

    @property
    def temperature(self) -> float:
        return self._temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        value = float(value)
        if not value > 0 or not math.isfinite(value):
            raise ValueError(f"temperature must be a finite number > 0, got {value}")
        self._temperature = value

    @property
    def threshold(self) -> float:
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {value}")
        self._threshold = value

    @property
    def budget(self) -> float:
        return self._budget

    @budget.setter
    def budget(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"budget must lie in [0, 1], got {value}")
        self._budget = value

    @property
    def execution_mode(self) -> str:
        return self._execution_mode

    @execution_mode.setter
    def execution_mode(self, value: str) -> None:
        if value not in EXECUTION_MODES:
            raise ValueError(f"execution_mode must be one of {EXECUTION_MODES}, got {value!r}")
        self._execution_mode = value


def calibrate_for(model: object, *example_inputs: Tensor) -> None:
    """``model.calibrate(*example_inputs)`` for a model that offers it (:meth:`SkipKnobs.calibrate`);
    nothing for any other model (a dense network has no execution choice to measure)."""
    calibrate = getattr(model, "calibrate", None)
    if isinstance(model, SkippingModel) and callable(calibrate):
        calibrate(*example_inputs)


@contextmanager
def execution_mode(model: SkippingModel, mode: ExecutionMode) -> Iterator[SkippingModel]:
    """Temporarily switch ``model.execution_mode`` (restored on exit, also on error)."""
    if mode not in EXECUTION_MODES:
        raise ValueError(f"execution mode must be one of {EXECUTION_MODES}, got {mode!r}")
    previous = model.execution_mode
    model.execution_mode = mode
    try:
        yield model
    finally:
        model.execution_mode = previous


def _tile_range(cells: int, extent: int) -> tuple[int, float]:
    """Tile sizes ``t`` with ``ceil(extent / t) == cells``: the interval ``[lo, hi]`` (``hi`` may be inf)."""
    lo = math.ceil(extent / cells)
    hi = math.inf if cells == 1 else (extent - 1) // (cells - 1)
    return lo, hi


def _infer_tile(unit_name: str, grid: tuple[int, ...], out_hw: tuple[int, int]) -> int:
    """The tile size whose ``ceil`` grid over ``out_hw`` is ``grid``; an error when that is ambiguous.

    Among several fitting sizes the one that divides the map exactly wins (64 px in 8 cells: 8, not
    9); a 1 x 1 grid is a single tile whatever its size (all sizes give the same areas).
    """
    (lo_h, hi_h), (lo_w, hi_w) = _tile_range(grid[0], out_hw[0]), _tile_range(grid[1], out_hw[1])
    lo, hi = max(lo_h, lo_w), min(hi_h, hi_w)
    exact = lo * grid[0] == out_hw[0] and lo * grid[1] == out_hw[1]
    if lo == hi or (lo < hi and (hi == math.inf or exact)):
        return lo
    fits = "none" if lo > hi else f"{lo}..{hi}"
    raise ValueError(
        f"mask for '{unit_name}' has grid {grid} over out_hw {out_hw}: tile sizes {fits} fit, "
        "pass tile= to read it as a tile mask"
    )


def _active_positions(
    unit_name: str,
    value: Tensor | float,
    out_hw: tuple[int, int] | None,
    tile: int | None,
    batch: int | None,
) -> tuple[Tensor, int]:
    """(active positions as a tensor, differentiable for soft masks; dense positions) of one execution."""
    if isinstance(value, Tensor) and value.dim() in (3, 4):
        if value.dim() == 4 and value.shape[1] != 1:
            raise ValueError(f"mask for '{unit_name}' must be (N, 1, h, w), got {tuple(value.shape)}")
        grid = tuple(value.shape[-2:])
        out_hw = grid if out_hw is None else (int(out_hw[0]), int(out_hw[1]))
        positions = value.shape[0] * out_hw[0] * out_hw[1]
        values = value.float() if value.dtype == torch.bool else value
        if value.dim() == 4 and grid == out_hw:
            return values.sum(), positions
        tile = _infer_tile(unit_name, grid, out_hw) if tile is None else tile
        tile_mask = values[:, 0] if value.dim() == 4 else values
        return active_fraction(tile_mask, tile, out_hw).sum() * (out_hw[0] * out_hw[1]), positions
    if isinstance(value, (int, float)) or (isinstance(value, Tensor) and value.dim() == 0):
        if out_hw is None or batch is None:
            raise ValueError(f"a fraction for '{unit_name}' needs out_hw and batch to count positions")
        fraction = value if isinstance(value, Tensor) else torch.tensor(float(value))
        if not 0.0 <= float(fraction.detach()) <= 1.0:
            raise ValueError(f"active fraction for '{unit_name}' must lie in [0, 1], got {float(fraction)}")
        positions = int(batch) * out_hw[0] * out_hw[1]
        return fraction * positions, positions
    shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
    raise TypeError(
        f"mask_or_fraction for '{unit_name}' must be (N, 1, h, w), a (N, Ht, Wt) tile mask "
        f"or a scalar, got {shape}"
    )


class SkipRecorder:
    """Accumulates per-unit executions of one forward into a :class:`SkipReport`.

    Usage inside a model::

        self.recorder = SkipRecorder(self.skip_units())
        ...
        def forward(self, x):
            self.recorder.reset(frames=x.shape[0] * x.shape[1])
            ...
            self.recorder.record("forward_trunk.block07", mask, out_hw=(h, w), actual_macs=macs)
            self.recorder.add_map("mask/block07", mask)
        def skip_report(self):
            return self.recorder.report()
    """

    def __init__(self, units: Sequence[SkipUnit]) -> None:
        self.units: dict[str, SkipUnit] = {}
        for unit in units:
            if unit.name in self.units:
                raise ValueError(f"skip unit '{unit.name}' is declared twice")
            self.units[unit.name] = unit
        self.reset()

    def reset(self, frames: int = 1) -> None:
        """Forget the previous forward; ``frames``: how many frames this forward produces."""
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        self.frames = int(frames)
        self._active: dict[str, Tensor] = {}
        self._positions: dict[str, int] = {}
        self._actual: dict[str, float | Tensor] = {}
        self.maps: dict[str, Tensor] = {}

    def record(
        self,
        unit_name: str,
        mask_or_fraction: Tensor | float,
        *,
        out_hw: tuple[int, int] | None = None,
        tile: int | None = None,
        batch: int | None = None,
        actual_macs: float | None = None,
        overhead_macs: float = 0.0,
    ) -> None:
        """Add one execution of ``unit_name``.

        Args:
            mask_or_fraction: a ``(N, 1, h, w)`` soft or hard mask over the unit's output grid; or a
                tile mask ``(N, Ht, Wt)`` / ``(N, 1, Ht, Wt)`` of ``tile x tile`` tiles over ``out_hw``
                (the :mod:`dynskip.skip.tiles` layout, partial border tiles weighted by their area);
                or an active fraction (float / 0-dim tensor), which then needs ``out_hw`` and ``batch``.
            out_hw: the unit's output size for this execution; defaults to the mask's size.
            tile: tile size in pixels when the mask is a tile mask; inferred when only one size gives
                the mask's grid over ``out_hw``.
            batch: number of batch elements this execution covers (fraction form only).
            actual_macs: MACs really run (e.g. tiles with halo, from :mod:`dynskip.skip.cost`);
                defaults to ``macs_per_pixel x active positions``.
            overhead_macs: estimator / mask-head MACs spent for this execution.
        """
        if unit_name not in self.units:
            raise KeyError(f"unknown skip unit '{unit_name}'; declared units: {list(self.units)}")
        if overhead_macs < 0 or (actual_macs is not None and actual_macs < 0):
            raise ValueError(f"MACs must be >= 0, got actual={actual_macs}, overhead={overhead_macs}")
        unit = self.units[unit_name]
        active, positions = _active_positions(unit_name, mask_or_fraction, out_hw, tile, batch)
        ran = unit.macs_per_pixel * active.detach() if actual_macs is None else float(actual_macs)
        self._active[unit_name] = self._active.get(unit_name, 0) + active
        self._positions[unit_name] = self._positions.get(unit_name, 0) + positions
        self._actual[unit_name] = self._actual.get(unit_name, 0.0) + ran + float(overhead_macs)

    def add_map(self, name: str, tensor: Tensor) -> None:
        """Keep a ``(B, 1, h, w)`` map (mask, uncertainty, confidence) for visualisation (detached)."""
        if not isinstance(tensor, Tensor) or tensor.dim() != 4 or tensor.shape[1] != 1:
            shape = tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__
            raise ValueError(f"map '{name}' must be a (B, 1, h, w) tensor, got {shape}")
        self.maps[name] = tensor.detach()

    def report(self) -> SkipReport:
        """The :class:`SkipReport` of everything recorded since the last :meth:`reset`."""
        units = {}
        for name, active in self._active.items():
            unit = self.units[name]
            positions = self._positions[name]
            fraction = active / positions if positions else torch.zeros(())
            if not isinstance(fraction, Tensor):
                fraction = torch.tensor(float(fraction))
            units[name] = UnitReport(
                unit=unit,
                fraction=fraction,
                dense_macs=unit.macs_per_pixel * positions / self.frames,
                actual_macs=float(self._actual[name]) / self.frames,
            )
        return SkipReport(units=units, frames=self.frames, maps=dict(self.maps))
