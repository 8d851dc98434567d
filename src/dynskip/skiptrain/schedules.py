"""Schedules of the skipping knobs: temperature and budget warm-up (a method's own live with it).

Pure functions of a step or epoch counter, plus small config dataclasses that Hydra can build and
:class:`dynskip.callbacks.skip.SkipScheduleCallback` calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from dynskip.utils.checks import check_choice

ScheduleKind = Literal["constant", "linear", "exponential", "cosine"]
SCHEDULE_KINDS: tuple[str, ...] = ("constant", "linear", "exponential", "cosine")


def _progress(t: float, length: float) -> float:
    if t < 0:
        raise ValueError(f"schedule position must be >= 0, got {t}")
    if length < 0:
        raise ValueError(f"schedule length must be >= 0, got {length}")
    return 1.0 if length == 0 else min(t / length, 1.0)


def linear_schedule(t: float, start: float, end: float, length: float) -> float:
    """``start`` to ``end`` linearly over ``length``, then ``end``."""
    return start + (end - start) * _progress(t, length)


def exponential_schedule(t: float, start: float, end: float, length: float) -> float:
    """Geometric interpolation ``start * (end / start) ** (t / length)``, then ``end`` (both > 0)."""
    if start <= 0 or end <= 0:
        raise ValueError(f"exponential schedule needs start > 0 and end > 0, got start={start}, end={end}")
    return start * (end / start) ** _progress(t, length)


def cosine_schedule(t: float, start: float, end: float, length: float) -> float:
    """Half-cosine from ``start`` to ``end`` over ``length``, then ``end``."""
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * _progress(t, length)))


def budget_warmup(step: float, target: float, warmup_steps: int) -> float:
    """Budget going linearly from 1.0 (everything active) to ``target`` over ``warmup_steps``."""
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"budget target must lie in [0, 1], got {target}")
    return linear_schedule(step, 1.0, target, warmup_steps)


@dataclass(frozen=True)
class TemperatureSchedule:
    """Temperature as a function of the step or epoch counter.

    ``kind``: ``constant`` (``start``), ``linear`` / ``exponential`` / ``cosine`` (``start`` to ``end``
    over ``length`` units). A method's own temperature formula (UGSP's:
    :class:`dynskip.methods.ugsp.schedules.UGSPTemperature`) lives with the method.
    ``unit``: ``"epoch"`` or ``"step"``; which counter ``__call__`` expects.
    """

    kind: ScheduleKind = "constant"
    start: float = 1.0
    end: float = 1.0
    length: float = 0.0
    unit: Literal["epoch", "step"] = "epoch"

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULE_KINDS:
            raise ValueError(f"temperature schedule kind must be one of {SCHEDULE_KINDS}, got {self.kind!r}")
        check_choice(self.unit, "temperature schedule unit", ("epoch", "step"))
        if not (self.start > 0 and self.end > 0):
            raise ValueError(f"temperatures must be > 0, got start={self.start}, end={self.end}")
        if self.length < 0:
            raise ValueError(f"schedule length must be >= 0, got {self.length}")

    def __call__(self, t: float) -> float:
        if self.kind == "constant":
            return self.start
        fn = {"linear": linear_schedule, "exponential": exponential_schedule, "cosine": cosine_schedule}
        return fn[self.kind](t, self.start, self.end, self.length)


@dataclass(frozen=True)
class BudgetSchedule:
    """Budget warm-up: 1.0 to ``target`` over ``warmup_steps`` optimiser steps (:func:`budget_warmup`)."""

    target: float
    warmup_steps: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.target <= 1.0:
            raise ValueError(f"budget target must lie in [0, 1], got {self.target}")
        if self.warmup_steps < 0:
            raise ValueError(f"budget warmup_steps must be >= 0, got {self.warmup_steps}")

    def __call__(self, step: float) -> float:
        return budget_warmup(step, self.target, self.warmup_steps)
