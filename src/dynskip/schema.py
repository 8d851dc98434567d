"""Structured schemas for the config values whose type or range a typo can break, checked before
anything runs.

The config tree stays plain YAML (groups add their own keys); these dataclasses only type the keys
that every run shares, so ``seed=abc``, ``task.lr=abc`` or ``trainer.max_steps=-5`` fail at once, naming
the key and what it expects, instead of deep inside an instantiated class. A field's allowed range is
its ``Range`` in the field metadata (see :func:`bounded`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Optional  # OmegaConf 2.3 structured configs read typing.Optional, not X | None

from omegaconf import DictConfig, OmegaConf, ValidationError
from omegaconf.errors import InterpolationResolutionError


@dataclass(frozen=True)
class Range:
    """Allowed values of a numeric key: ``low`` / ``high`` bounds (``None``: unbounded)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: the value must be strictly above ``low``

    def admits(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            return f"in [{self.low:g}, {self.high:g}]"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return f"<= {self.high:g}"


def bounded(default: Any, low: float | None = None, high: float | None = None, low_open: bool = False) -> Any:
    """A dataclass field whose value must lie in ``Range(low, high, low_open)`` (``None`` is not checked)."""
    return field(default=default, metadata={"range": Range(low, high, low_open)})


POSITIVE = {"low": 0, "low_open": True}
FRACTION = {"low": 0, "high": 1}


@dataclass
class RunSchema:
    seed: int = bounded(0, 0, 2**32 - 1)  # what numpy's seeding accepts
    train: bool = True
    test: bool = True
    restart: bool = False
    ckpt_path: Optional[str] = None  # noqa: UP045
    sweep_name: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass
class TrainerSchema:
    max_steps: int = bounded(-1, -1)  # -1: no step limit (Lightning's convention)
    max_epochs: Optional[int] = bounded(None, -1)  # noqa: UP045
    val_check_interval: Optional[float] = bounded(None, **POSITIVE)  # noqa: UP045  steps, or a fraction of an epoch
    check_val_every_n_epoch: Optional[int] = bounded(None, 1)  # noqa: UP045
    limit_val_batches: Optional[float] = bounded(None, 0)  # noqa: UP045
    limit_test_batches: Optional[float] = bounded(None, 0)  # noqa: UP045
    log_every_n_steps: int = bounded(50, 1)
    num_nodes: int = bounded(1, 1)
    num_sanity_val_steps: int = bounded(0, -1)
    accumulate_grad_batches: int = bounded(1, 1)
    gradient_clip_val: Optional[float] = bounded(None, 0)  # noqa: UP045


@dataclass
class TaskSchema:
    lr: float = bounded(1e-4, 0)  # 0 allowed: a run that only validates fixed weights (tests/e2e/test_ddp.py)


@dataclass
class DataSchema:
    batch_size: int = bounded(1, 1)
    val_batch_size: int = bounded(1, 1)
    num_workers: int = bounded(0, 0)


@dataclass
class ModelSchema:
    budget: Optional[float] = bounded(None, **FRACTION)  # noqa: UP045
    threshold: Optional[float] = bounded(None, **FRACTION)  # noqa: UP045
    temperature: Optional[float] = bounded(None, **POSITIVE)  # noqa: UP045
    num_feat: Optional[int] = bounded(None, 1)  # noqa: UP045
    num_block: Optional[int] = bounded(None, 1)  # noqa: UP045


@dataclass
class CheckpointSchema:
    every_n_train_steps: Optional[int] = bounded(None, 0)  # noqa: UP045  0: no step checkpoints
    save_top_k: int = bounded(1, -1)


# Config node -> schema of the keys it may hold (absent keys are not required).
SCHEMAS: dict[str, type] = {
    "": RunSchema,
    "trainer": TrainerSchema,
    "task": TaskSchema,
    "data": DataSchema,
    "model": ModelSchema,
    "callbacks.model_checkpoint": CheckpointSchema,
}


def _type_name(schema: type, name: str) -> str:
    hint = {f.name: f.type for f in fields(schema)}[name]
    return str(hint).replace("typing.", "")


def _fits_type(schema: type, f: Any, value: Any) -> bool:
    # OmegaConf would convert "no" / "off" / "0" to False, but the code reads the raw value, where
    # any non-empty string is true: a switch must be a real boolean.
    if f.type in (bool, "bool") and not isinstance(value, bool):
        return False
    try:
        OmegaConf.merge(OmegaConf.structured(schema), {f.name: value})
    except ValidationError:
        return False
    return True


def check_types(cfg: DictConfig) -> None:
    """Raise ``TypeError`` naming every ``key=value`` that does not fit its schema type, then
    ``ValueError`` naming every one outside its range (e.g. ``task.lr=-1.0 (expected > 0)``)."""
    wrong_type, out_of_range = [], []
    for prefix, schema in SCHEMAS.items():
        node = cfg if not prefix else OmegaConf.select(cfg, prefix, default=None)
        if not isinstance(node, DictConfig):
            continue
        for f in fields(schema):
            if f.name not in node:
                continue
            key = f"{prefix}.{f.name}" if prefix else f.name
            try:
                value = OmegaConf.select(node, f.name)
            except InterpolationResolutionError:  # resolved later, where it is used
                continue
            allowed = f.metadata.get("range")
            if not _fits_type(schema, f, value):
                wrong_type.append(f"{key}={value!r} (expected {_type_name(schema, f.name)})")
            elif allowed is not None and value is not None and not allowed.admits(float(value)):
                out_of_range.append(f"{key}={value!r} (expected {allowed})")
    if wrong_type:
        raise TypeError("config values of the wrong type: " + "; ".join(wrong_type))
    if out_of_range:
        raise ValueError("config values out of range: " + "; ".join(out_of_range))
