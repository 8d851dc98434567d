"""BasicVSR in the registry: the official BasicSR weights, and BasicSR / mmagic / plain checkpoints.

Checkpoint formats (see ``convert_basicvsr_state_dict``):

- BasicSR: ``{"params": state}``, and for models trained with an EMA also ``{"params_ema": state}``.
  ``params_ema`` is preferred when present: it holds the averaged weights that BasicSR validates and
  releases for EMA-trained models. The official BasicVSR files carry ``params`` only.
- mmagic / mmedit: ``{"state_dict": {"generator.<name>": tensor, ...}}`` with mmagic module names,
  renamed here to BasicSR names. Keys outside ``generator.`` (e.g. a data preprocessor) are not part of
  the network and are left out.
- A plain state dict with BasicSR names; a ``module.`` prefix (``nn.DataParallel``) is stripped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import Tensor

from dynskip.archs.basicvsr_arch import BasicVSR
from dynskip.assets import asset_path
from dynskip.zoo.checkpoint import CheckpointMismatchError, load_state_dict_strict, read_checkpoint
from dynskip.zoo.registry import register_model

BASICSR_CONTAINER_KEYS = ("params_ema", "params")  # in order of preference
MMAGIC_CONTAINER_KEY = "state_dict"
MMAGIC_GENERATOR_PREFIX = "generator."
DATA_PARALLEL_PREFIX = "module."

# mmagic name -> BasicSR name. mmagic wraps each SpyNet conv in a ConvModule (``.conv``) and counts only
# the convs (0..4), whereas BasicSR's Sequential interleaves ReLUs, so conv J sits at index 2J.
_MMAGIC_RENAMES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"^spynet\.basic_module\.(\d+)\.basic_module\.(\d+)\.conv\."),
        lambda m: f"spynet.basic_module.{m[1]}.basic_module.{2 * int(m[2])}.",
    ),
    (re.compile(r"^backward_resblocks\."), lambda m: "backward_trunk."),
    (re.compile(r"^forward_resblocks\."), lambda m: "forward_trunk."),
    (re.compile(r"^upsample1\.upsample_conv\."), lambda m: "upconv1."),
    (re.compile(r"^upsample2\.upsample_conv\."), lambda m: "upconv2."),
)

PRETRAINED_ASSETS = {
    "reds4": "basicvsr-reds4",
    "vimeo90k-bi": "basicvsr-vimeo90k-bi",
    "vimeo90k-bd": "basicvsr-vimeo90k-bd",
}


def _rename_mmagic_key(key: str) -> str:
    for pattern, replacement in _MMAGIC_RENAMES:
        renamed, count = pattern.subn(replacement, key)
        if count:
            return renamed
    return key


def _strip_prefix(state: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {key.removeprefix(prefix): value for key, value in state.items()}


def convert_basicvsr_state_dict(obj: Mapping[str, Any], source: str = "checkpoint") -> dict[str, Tensor]:
    """A BasicSR-named BasicVSR state dict from a BasicSR, mmagic/mmedit or plain checkpoint object.

    Args:
        obj: what ``torch.load`` returned.
        source: where ``obj`` came from, for error messages.
    Raises:
        CheckpointMismatchError: the container or a value is not what a state dict holds.
    """
    container = next((key for key in (*BASICSR_CONTAINER_KEYS, MMAGIC_CONTAINER_KEY) if key in obj), None)
    state = obj[container] if container is not None else obj
    where = f"{source}['{container}']" if container is not None else source
    if not isinstance(state, Mapping):
        raise CheckpointMismatchError(f"{where} is a {type(state).__name__}, expected a dict of tensors")
    bad = [f"{key} ({type(value).__name__})" for key, value in state.items() if not isinstance(value, Tensor)]
    if bad:
        raise CheckpointMismatchError(f"{where} holds non-tensor values: {', '.join(bad[:10])}")

    if state and all(key.startswith(DATA_PARALLEL_PREFIX) for key in state):
        state = _strip_prefix(state, DATA_PARALLEL_PREFIX)
    if any(key.startswith(MMAGIC_GENERATOR_PREFIX) for key in state):
        generator = {k: v for k, v in state.items() if k.startswith(MMAGIC_GENERATOR_PREFIX)}
        state = _strip_prefix(generator, MMAGIC_GENERATOR_PREFIX)
    # The renames only match mmagic names, so applying them to BasicSR names is a no-op.
    return {_rename_mmagic_key(key): value for key, value in state.items()}


def load_basicvsr_weights(model: BasicVSR, path: Path) -> None:
    """Load a BasicSR / mmagic / plain BasicVSR checkpoint file strictly into ``model``."""
    state = convert_basicvsr_state_dict(read_checkpoint(path), source=str(path))
    load_state_dict_strict(model, state, source=str(path))


def _pretrained_path(asset_name: str) -> Callable[[], Path]:
    return lambda: asset_path(asset_name)


@register_model(
    "basicvsr",
    task="vsr",
    load_weights=load_basicvsr_weights,
    pretrained={name: _pretrained_path(asset) for name, asset in PRETRAINED_ASSETS.items()},
)
def basicvsr(**kwargs) -> BasicVSR:
    """BasicVSR x4; the official weights need the defaults (64 channels, 30 blocks per trunk)."""
    return BasicVSR(**kwargs)
