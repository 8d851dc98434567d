"""Checkpoint reading and strict loading with key reports (``dynskip.zoo.checkpoint``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from dynskip.zoo.checkpoint import CheckpointMismatchError, load_state_dict_strict, read_checkpoint


class Pickled:
    """An arbitrary Python object: ``weights_only=True`` must refuse to unpickle it."""


def two_layer_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))


def test_smoke_read_checkpoint_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ok.pth"
    state = two_layer_model().state_dict()
    torch.save({"params": state}, path)
    loaded = read_checkpoint(path)
    assert set(loaded) == {"params"}
    assert all(torch.equal(loaded["params"][k], v) for k, v in state.items())


def test_smoke_strict_load_copies_values() -> None:
    source, target = two_layer_model(), nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    load_state_dict_strict(target, source.state_dict(), source="memory")
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values()))


def test_exception_report_lists_missing_unexpected_and_wrong_shape_keys() -> None:
    state = two_layer_model().state_dict()
    del state["1.bias"]
    state["2.weight"] = torch.zeros(1)
    state["0.weight"] = torch.zeros(5, 3)
    with pytest.raises(CheckpointMismatchError) as info:
        load_state_dict_strict(two_layer_model(), state, source="ckpt.pth")
    message = str(info.value)
    assert "from ckpt.pth" in message
    assert "missing keys (1): 1.bias" in message
    assert "unexpected keys (1): 2.weight" in message
    assert "wrong shape keys (1): 0.weight: checkpoint (5, 3) vs model (4, 3)" in message


def test_exception_failed_load_leaves_model_unchanged() -> None:
    model = two_layer_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = {k: torch.zeros_like(v) for k, v in before.items()}
    state["extra"] = torch.zeros(1)
    with pytest.raises(CheckpointMismatchError):
        load_state_dict_strict(model, state)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_cardinality_long_key_lists_are_truncated_with_total() -> None:
    state = {f"extra.{i:02d}": torch.zeros(1) for i in range(25)} | two_layer_model().state_dict()
    with pytest.raises(CheckpointMismatchError, match=r"unexpected keys \(25\): .*\.\.\. \(25 in all\)"):
        load_state_dict_strict(two_layer_model(), state)


def test_exception_non_dict_checkpoint_named(tmp_path: Path) -> None:
    path = tmp_path / "tensor.pth"
    torch.save(torch.zeros(2), path)
    with pytest.raises(CheckpointMismatchError, match=r"tensor\.pth holds a Tensor, expected a dict"):
        read_checkpoint(path)


@pytest.mark.parametrize("content", [b"not a checkpoint", None], ids=["garbage", "missing"])
def test_exception_unreadable_file_named(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "bad.pth"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RuntimeError, match=r"cannot read checkpoint .*bad\.pth"):
        read_checkpoint(path)


def test_exception_pickled_objects_refused(tmp_path: Path) -> None:
    path = tmp_path / "unsafe.pth"
    torch.save({"params": Pickled()}, path)
    with pytest.raises(RuntimeError, match=r"cannot read checkpoint .*unsafe\.pth"):
        read_checkpoint(path)
