"""RIFE v3.9 IFNet registered as ``rife`` (task ``vfi``), with the official ``flownet.pkl`` loader."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor, nn

from dynskip.archs.rife_arch import IFNet
from dynskip.assets import asset_path
from dynskip.zoo.checkpoint import load_state_dict_strict, read_checkpoint
from dynskip.zoo.registry import register_model

# The official file also holds networks that fast-mode IFNet never runs: the ContextNet/UNet refinement
# (``contextnet.``, ``unet.``; only used with fastmode=False) and the training-time teacher block that
# sees the ground-truth frame (``block_tea.``). They are dropped by name; any other extra key is an error.
UNUSED_PREFIXES = ("contextnet.", "unet.", "block_tea.")


def read_rife_state(path: str | Path) -> dict[str, Tensor]:
    """IFNet state dict from an official RIFE checkpoint: ``module.`` stripped, unused networks dropped."""
    state = read_checkpoint(path)
    stripped = {key.removeprefix("module."): value for key, value in state.items()}
    return {key: value for key, value in stripped.items() if not key.startswith(UNUSED_PREFIXES)}


def load_rife_weights(model: nn.Module, path: Path) -> None:
    """Load an official (or our own saved) RIFE checkpoint into ``model`` strictly."""
    load_state_dict_strict(model, read_rife_state(path), source=str(path))


@register_model(
    "rife",
    task="vfi",
    pretrained={"rife-v3.9": lambda: asset_path("rife-v3.9")},
    load_weights=load_rife_weights,
)
def rife(**kwargs) -> IFNet:
    """RIFE v3.9 IFNet in fast mode (no refinement network)."""
    return IFNet(**kwargs)
