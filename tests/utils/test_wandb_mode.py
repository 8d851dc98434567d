"""W&B's mode follows wandb's own settings: an explicit mode is kept, a server wandb has credentials for
(api.wandb.ai or self-hosted) stays online, and only a run with no credentials is put offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dynskip.utils.wandb_mode import ensure_wandb_mode

WANDB_VARS = ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_IDENTITY_TOKEN_FILE", "NETRC")
SELF_HOSTED = "https://wandb.lab.example:8443"


@pytest.fixture
def wandb_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No W&B variables, settings or netrc but what a test writes under ``tmp_path``."""
    for var in WANDB_VARS:
        monkeypatch.setenv(var, "")  # recorded, so whatever the code sets is undone after the test
        monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "work"))
    return tmp_path


def write_netrc(home: Path, host: str) -> None:
    path = home / ".netrc"
    path.write_text(f"machine {host}\n  login user\n  password {'k' * 40}\n")
    path.chmod(0o600)


def write_settings(home: Path, **values: str) -> None:
    path = home / "wandb-config" / "settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[default]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))


def test_offline_when_no_credentials(wandb_home: Path) -> None:
    assert ensure_wandb_mode() == "offline" and os.environ["WANDB_MODE"] == "offline"


def test_an_explicit_mode_is_kept(wandb_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert ensure_wandb_mode() == "disabled"


def test_api_key_keeps_wandb_online(wandb_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert ensure_wandb_mode() == "online" and "WANDB_MODE" not in os.environ


def test_self_hosted_server_from_the_environment_stays_online(
    wandb_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", SELF_HOSTED)
    write_netrc(wandb_home, "wandb.lab.example:8443")
    assert ensure_wandb_mode() == "online" and "WANDB_MODE" not in os.environ


def test_self_hosted_server_from_wandb_login_host_stays_online(wandb_home: Path) -> None:
    # `wandb login --host URL` stores the server in the settings file and the key in netrc under its host.
    write_settings(wandb_home, base_url=SELF_HOSTED)
    write_netrc(wandb_home, "wandb.lab.example:8443")
    assert ensure_wandb_mode() == "online"


def test_credentials_for_another_server_do_not_count(
    wandb_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", SELF_HOSTED)
    write_netrc(wandb_home, "api.wandb.ai")
    assert ensure_wandb_mode() == "offline"


def test_mode_from_the_settings_file_is_kept(wandb_home: Path) -> None:
    # `wandb offline` writes mode = offline; with credentials present it must not be turned online.
    write_netrc(wandb_home, "api.wandb.ai")
    write_settings(wandb_home, mode="offline")
    assert ensure_wandb_mode() == "offline" and "WANDB_MODE" not in os.environ


def test_a_broken_settings_file_is_named(wandb_home: Path) -> None:
    path = wandb_home / "wandb-config" / "settings"
    path.parent.mkdir(parents=True)
    path.write_text("mode = offline\n")  # no section header
    with pytest.raises(ValueError, match=rf"W&B settings file {path} is not valid INI"):
        ensure_wandb_mode()
