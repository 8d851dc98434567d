"""Hydra/OmegaConf glue: the config folder, custom resolvers, early validation."""

from __future__ import annotations

import os
from pathlib import Path

from hydra import compose, initialize_config_dir, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from dynskip.assets import asset_path

CONF_PACKAGE = "dynskip.conf"  # the configs ship inside the package, so a wheel carries them


def config_dir() -> Path:
    """The Hydra config folder: ``DYNSKIP_CONF`` if set, else the package's ``dynskip/conf``."""
    env = os.environ.get("DYNSKIP_CONF")
    path = Path(env) if env else Path(__file__).resolve().parent / "conf"
    if not (path / "train.yaml").is_file():
        source = "DYNSKIP_CONF" if env else "the installed package"
        raise FileNotFoundError(
            f"Hydra config folder not found: {path} (from {source}) has no train.yaml; "
            "set DYNSKIP_CONF to a folder with train.yaml or reinstall dynskip"
        )
    return path


def config_search_path() -> str:
    """``@hydra.main``'s config_path: ``DYNSKIP_CONF``'s folder if set, else ``pkg://dynskip.conf``."""
    return str(config_dir()) if os.environ.get("DYNSKIP_CONF") else f"pkg://{CONF_PACKAGE}"


def run_tags(tags: list | None, task: str | None, model: str | None, budget: float | None = None) -> list:
    """Dashboard tags: the run's ``tags`` plus its task, model and budget (``budget0.3``), de-duplicated."""
    extra = [task, model, None if budget is None else f"budget{budget}"]
    return list(dict.fromkeys(str(t) for t in [*(tags or []), *extra] if t is not None))


def register_resolvers() -> None:
    """``${asset:NAME}`` resolves an official asset (weights or footage) shipped by a package;
    ``${run_tags:TAGS,TASK,MODEL,BUDGET}`` builds the logger tags (see :func:`run_tags`)."""
    if not OmegaConf.has_resolver("asset"):
        OmegaConf.register_new_resolver("asset", lambda name: str(asset_path(name)))
    if not OmegaConf.has_resolver("run_tags"):
        OmegaConf.register_new_resolver("run_tags", run_tags)


def check_paths(cfg: DictConfig, group: str = "data") -> None:
    """Fail before training when a configured dataset root or file is missing, naming the key."""
    missing = []

    def walk(node, key: str) -> None:
        if isinstance(node, DictConfig):
            for child in node:
                walk(node.get(child), f"{key}.{child}")
        elif isinstance(node, ListConfig):
            for i, child in enumerate(node):
                walk(child, f"{key}[{i}]")
        elif isinstance(node, str) and key.rsplit(".", 1)[-1] in {"root", "path"} and not Path(node).exists():
            missing.append(f"{key}={node}")

    if group in cfg and cfg[group] is not None:
        walk(cfg[group], group)
    if missing:
        raise FileNotFoundError("configured data paths do not exist: " + "; ".join(missing))


def compose_config(config_name: str, overrides: list[str], output_dir: str | Path) -> DictConfig:
    """Compose a config outside ``@hydra.main`` (tests, the demo) with Hydra's runtime fields set,
    so ``${hydra:...}`` interpolations resolve as they would in a launched job."""
    GlobalHydra.instance().clear()
    init = (
        initialize_config_dir(config_dir=str(config_dir()), version_base="1.3")
        if os.environ.get("DYNSKIP_CONF")
        else initialize_config_module(config_module=CONF_PACKAGE, version_base="1.3")
    )
    with init:
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    cfg.hydra.runtime.output_dir = str(output_dir)
    cfg.hydra.job.name = config_name
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


register_resolvers()
