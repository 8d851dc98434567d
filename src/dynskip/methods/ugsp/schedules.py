"""UGSP's training schedules, per epoch: Gumbel temperature, sparsity weight, mask-label weight.

Epochs count from 1 (``1 + step / steps_per_epoch``, see :mod:`dynskip.methods.ugsp.objective`).
:class:`UGSPTemperature` hands the temperature to :class:`dynskip.callbacks.skip.SkipScheduleCallback`
(Hydra: ``_target_: dynskip.methods.ugsp.schedules.UGSPTemperature``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal


def ugsp_temperature(epoch: float) -> float:
    """UGSP Gumbel temperature ``max(1 - epoch / 150, 0.4)``."""
    return max(1.0 - epoch / 150.0, 0.4)


def ugsp_lambda_s(epoch: float) -> float:
    """UGSP sparsity weight ``min((epoch - 1) / 15, 1) * 0.1``.

    Epochs count from 1 here (``1 + step / steps_per_epoch``), so every UGSP schedule runs one epoch
    ahead of the official loop, which counts from 0 (its first epoch has lambda_s = -0.0067). Kept so
    that the shipped checkpoints' recipes reproduce; clamped at 0 so that no epoch gets a negative
    weight.
    """
    return max(min((epoch - 1.0) / 15.0, 1.0), 0.0) * 0.1


def ugsp_w_step(epoch: float) -> float:
    """UGSP mask-label weight ``max(min(1 - (epoch - 200) / 100, 1) * 0.5, 0.1)``."""
    return max(min(1.0 - (epoch - 200.0) / 100.0, 1.0) * 0.5, 0.1)


@dataclass(frozen=True)
class UGSPTemperature:
    """:func:`ugsp_temperature` as a schedule object (defined per epoch)."""

    unit: ClassVar[Literal["epoch"]] = "epoch"

    def __call__(self, epoch: float) -> float:
        return ugsp_temperature(epoch)
