"""One registry for every model: ``build_model(name, weights=...)``.

A model module registers a constructor with ``@register_model``, naming its built-in weights
(resolved lazily to files) and the function that reads a checkpoint file into the model, so that
official formats (BasicSR, mmagic, RIFE's ``module.`` prefix) load through the same call. The class
owns its defaults: an entry passes keyword arguments through (``def rife(**kwargs) -> IFNet: return
IFNet(**kwargs)``), and the arguments it accepts are those of the class its return annotation names.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

WeightsLoader = Callable[[nn.Module, Path], None]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    constructor: Callable[..., nn.Module]
    load_weights: WeightsLoader
    pretrained: dict[str, Callable[[], Path]] = field(default_factory=dict)
    task: str = ""  # "vsr" or "vfi": which data and metrics the model fits


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    name: str,
    *,
    load_weights: WeightsLoader,
    pretrained: dict[str, Callable[[], Path]] | None = None,
    task: str,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: register ``constructor`` under ``name``."""

    def wrap(constructor: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model '{name}' is registered twice")
        _REGISTRY[name] = ModelEntry(name, constructor, load_weights, dict(pretrained or {}), task)
        return constructor

    return wrap


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def get_entry(name: str) -> ModelEntry:
    if name not in _REGISTRY:
        raise KeyError(f"unknown model '{name}'; registered models: {list_models()}")
    return _REGISTRY[name]


def resolve_weights(name: str, weights: str | Path) -> Path:
    """A built-in weights name of model ``name``, or a checkpoint path, as a file path."""
    entry = get_entry(name)
    if isinstance(weights, str) and weights in entry.pretrained:
        return entry.pretrained[weights]()
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"weights '{weights}' for model '{name}' is neither a built-in name "
            f"{sorted(entry.pretrained)} nor an existing checkpoint file"
        )
    return path


def constructor_parameters(constructor: Callable[..., nn.Module]) -> Mapping[str, inspect.Parameter]:
    """The arguments ``constructor`` takes: its own, and for a pass-through entry (``**kwargs``) those
    of the class its return annotation names (after the entry's own named ones, e.g. ``skipvsr``'s
    ``backbone``, which the entry handles itself)."""
    params = inspect.signature(constructor).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        returned = typing.get_type_hints(constructor).get("return")
        if isinstance(returned, type):
            own = {n: p for n, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
            return {**own, **inspect.signature(returned).parameters}
    return params


def check_constructor_args(name: str, kwargs: dict) -> None:
    """Raise ``TypeError`` naming the model and its arguments if ``kwargs`` has one it does not take."""
    params = constructor_parameters(get_entry(name).constructor)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise TypeError(f"model '{name}' has no argument(s) {unknown}; it takes {sorted(params)}")


def build_model(name: str, weights: str | Path | None = None, **kwargs) -> nn.Module:
    """Build model ``name`` with constructor ``kwargs``; load ``weights`` (built-in name or path)."""
    entry = get_entry(name)
    check_constructor_args(name, kwargs)
    model = entry.constructor(**kwargs)
    if weights is not None:
        entry.load_weights(model, resolve_weights(name, weights))
    return model


class PretrainedModel:
    """``build_model(name, weights=weights)`` deferred until called (built-in weights names only).

    A skipping model whose backbone was fine-tuned carries one as ``dense_reference``: its own all-on
    mode is then no longer the official network, so dense baselines and frozen teachers build this.
    """

    def __init__(self, name: str, weights: str) -> None:
        if weights not in get_entry(name).pretrained:
            raise KeyError(
                f"'{weights}' is not a built-in weights name of model '{name}'; "
                f"known {sorted(get_entry(name).pretrained)}"
            )
        self.name, self.weights = name, weights

    def __call__(self) -> nn.Module:
        return build_model(self.name, weights=self.weights)

    def __str__(self) -> str:
        return f"official {self.name} ({self.weights})"

    def __repr__(self) -> str:
        return f"PretrainedModel({self.name!r}, {self.weights!r})"
