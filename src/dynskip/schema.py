"""Structured schemas for the config values whose type a typo can break, checked before anything runs.

The config tree stays plain YAML (groups add their own keys); these dataclasses only type the keys
that every run shares, so ``seed=abc`` or ``trainer.max_steps=1e3x`` fail at once, naming the key,
instead of deep inside an instantiated class.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Optional  # OmegaConf 2.3 structured configs read typing.Optional, not X | None

from omegaconf import DictConfig, OmegaConf, ValidationError
from omegaconf.errors import InterpolationResolutionError


@dataclass
class RunSchema:
    seed: int = 0
    train: bool = True
    test: bool = True
    ckpt_path: Optional[str] = None  # noqa: UP045
    sweep_name: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass
class TrainerSchema:
    max_steps: int = -1
    max_epochs: Optional[int] = None  # noqa: UP045
    check_val_every_n_epoch: Optional[int] = None  # noqa: UP045
    log_every_n_steps: int = 50
    num_nodes: int = 1
    num_sanity_val_steps: int = 0
    accumulate_grad_batches: int = 1
    gradient_clip_val: Optional[float] = None  # noqa: UP045


@dataclass
class DataSchema:
    batch_size: int = 1
    val_batch_size: int = 1
    num_workers: int = 0


@dataclass
class ModelSchema:
    budget: Optional[float] = None  # noqa: UP045
    threshold: Optional[float] = None  # noqa: UP045
    temperature: Optional[float] = None  # noqa: UP045


@dataclass
class CheckpointSchema:
    every_n_train_steps: Optional[int] = None  # noqa: UP045
    save_top_k: int = 1


# Config node -> schema of the keys it may hold (absent keys are not required).
SCHEMAS: dict[str, type] = {
    "": RunSchema,
    "trainer": TrainerSchema,
    "data": DataSchema,
    "model": ModelSchema,
    "callbacks.model_checkpoint": CheckpointSchema,
}


def _type_name(schema: type, name: str) -> str:
    hint = {f.name: f.type for f in fields(schema)}[name]
    return str(hint).replace("typing.", "")


def check_types(cfg: DictConfig) -> None:
    """Raise ``TypeError`` naming every ``key=value`` that does not fit its schema type."""
    errors = []
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
            # OmegaConf would convert "no" / "off" / "0" to False, but the code reads the raw value, where
            # any non-empty string is true: a switch must be a real boolean.
            fits = f.type not in (bool, "bool") or isinstance(value, bool)
            try:
                OmegaConf.merge(OmegaConf.structured(schema), {f.name: value})
            except ValidationError:
                fits = False
            if not fits:
                errors.append(f"{key}={value!r} (expected {_type_name(schema, f.name)})")
    if errors:
        raise TypeError("config values of the wrong type: " + "; ".join(errors))
