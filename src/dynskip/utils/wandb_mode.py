"""Pick W&B's mode before a run starts, from the sources wandb itself reads.

An explicit mode (``WANDB_MODE``, or ``mode`` in wandb's settings files as ``wandb offline`` writes it) is
kept. Otherwise the run goes online when wandb would find credentials for the server it talks to
(``WANDB_BASE_URL`` or the settings' ``base_url``, so a self-hosted server counts) and offline when it
would find none, instead of failing at ``wandb.init`` in a job without a terminal.
"""

from __future__ import annotations

import configparser
import logging
import netrc
import os
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.wandb.ai"


def wandb_settings_files() -> list[Path]:
    """wandb's system settings file, then the workspace one (which wins), as ``wandb.setup`` finds them."""
    config_dir = Path(os.environ.get("WANDB_CONFIG_DIR") or "~/.config/wandb").expanduser()
    workspace = Path(os.environ.get("WANDB_DIR") or Path.cwd()).expanduser() / "wandb" / "settings"
    return [config_dir / "settings", workspace]


def wandb_setting(key: str) -> str | None:
    """``key`` of the ``[default]`` section of wandb's settings files (the last file that sets it)."""
    value = None
    for path in wandb_settings_files():
        parser = configparser.ConfigParser()
        try:
            parser.read(path)  # a missing file reads as empty
        except configparser.Error as err:
            raise ValueError(f"W&B settings file {path} is not valid INI: {err}") from None
        value = parser.get("default", key, fallback=value) or value
    return value


def wandb_base_url() -> str:
    return os.environ.get("WANDB_BASE_URL") or wandb_setting("base_url") or DEFAULT_BASE_URL


def wandb_has_credentials(base_url: str | None = None) -> bool:
    """Whether wandb would find credentials for ``base_url`` (default: the configured server): an API key
    or identity token in the environment, or a netrc entry for that server's host."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlsplit(base_url or wandb_base_url()).netloc
    path = Path(os.environ.get("NETRC") or "~/.netrc").expanduser()
    try:
        entry = netrc.netrc(path).authenticators(host) if host else None
    except FileNotFoundError:
        return False
    except (netrc.NetrcParseError, OSError) as err:
        log.warning("W&B credentials: cannot read %s (%s); treating it as having none", path, err)
        return False
    return entry is not None and bool(entry[2])


def ensure_wandb_mode() -> str:
    """Return the mode W&B will run in; set ``WANDB_MODE=offline`` only when no mode is chosen and wandb
    would find no credentials for its server."""
    chosen = os.environ.get("WANDB_MODE") or wandb_setting("mode")
    if chosen:
        return chosen
    if not wandb_has_credentials():
        log.info("W&B: no credentials for %s, logging offline (wandb sync later)", wandb_base_url())
        os.environ["WANDB_MODE"] = "offline"
        return "offline"
    return "online"


def finish_wandb() -> None:
    """Close the active W&B run so the next multirun job starts its own."""
    try:
        import wandb
    except ImportError:  # the wandb extra is not installed, so no run can be open
        return
    if wandb.run is not None:
        wandb.finish()
