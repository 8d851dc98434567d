"""Training side of skipping, shared by every skipping model: relaxations of the keep / skip decisions
(Gumbel-softmax, Gumbel-sigmoid), the budget and mask-label losses on a
:class:`~dynskip.skip.protocol.SkipReport`, and the temperature / budget schedules.

The engine core (:mod:`dynskip.skip`) runs and counts masks; this family shapes how they are learned. It
imports only ``torch``, :mod:`dynskip.skip.protocol` and :mod:`dynskip.utils.checks`.
"""

from dynskip.skiptrain.losses import (
    BudgetLoss,
    MaskLabelLoss,
    budget_loss,
    cost_weighted_density,
    mask_label_loss,
)
from dynskip.skiptrain.relax import GumbelGate, GumbelSoftmaxGate, gumbel_sigmoid, gumbel_softmax
from dynskip.skiptrain.schedules import BudgetSchedule, TemperatureSchedule, budget_warmup

__all__ = [
    "BudgetLoss",
    "BudgetSchedule",
    "GumbelGate",
    "GumbelSoftmaxGate",
    "MaskLabelLoss",
    "TemperatureSchedule",
    "budget_loss",
    "budget_warmup",
    "cost_weighted_density",
    "gumbel_sigmoid",
    "gumbel_softmax",
    "mask_label_loss",
]
