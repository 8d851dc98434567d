"""Optional dependencies (pyproject extras) a config needs, checked before anything is built."""

from __future__ import annotations

from importlib.util import find_spec

from omegaconf import DictConfig

# Logger class -> (modules any one of which serves it, the dynskip extra that installs one).
LOGGER_EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "WandbLogger": (("wandb",), "wandb"),
    "TensorBoardLogger": (("tensorboard", "tensorboardX"), "tensorboard"),
}


def module_available(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):  # a broken or half-removed install counts as missing
        return False


def require_logger_extras(loggers: DictConfig | None) -> None:
    """Fail naming the logger and the extra to install when a configured logger's package is missing."""
    problems = []
    for name, node in (loggers or {}).items():
        if not isinstance(node, DictConfig) or "_target_" not in node:
            continue  # instantiate_group reports malformed entries
        target = str(node._target_)
        modules, extra = LOGGER_EXTRAS.get(target.rsplit(".", 1)[-1], ((), ""))
        if modules and not any(module_available(m) for m in modules):
            problems.append(
                f"logger.{name} ({target}) needs the {modules[0]} package: pip install 'dynskip[{extra}]'"
            )
    if problems:
        raise ModuleNotFoundError("; ".join(problems))
