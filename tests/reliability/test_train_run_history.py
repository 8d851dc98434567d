"""One run per folder, and no row of its history lost: a new run into a folder holding another run is
refused (naming the folder and the ways out), ``restart=true`` moves the earlier run aside without
deleting anything, and resuming appends to ``csv/metrics.csv``."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest

from dynskip.config import compose_config
from dynskip.train import prepare_run_folder
from helpers.training import TINY_VSR, train_tiny_vsr


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def csv_steps(path: Path, column: str) -> list[int]:
    with path.open(newline="") as file:
        return [int(row["step"]) for row in csv.DictReader(file) if row.get(column)]


def test_new_run_into_a_run_folder_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    train_tiny_vsr(tmp_path, "trainer.max_steps=2")
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError) as err:
        train_tiny_vsr(tmp_path, "trainer.max_steps=2", "seed=7")
    message = str(err.value)
    assert str(tmp_path) in message and "checkpoints" in message
    assert "ckpt_path=last" in message and "restart=true" in message and "hydra.run.dir" in message
    assert snapshot(tmp_path) == before  # no last-v1.ckpt, metrics and log untouched


def test_a_folder_with_only_a_metrics_file_counts_as_a_run(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(FileExistsError, match=r"metrics\.json"):
        train_tiny_vsr(tmp_path, "trainer.max_steps=2")
    assert (tmp_path / "metrics.json").read_text() == "{}"


def test_an_empty_or_foreign_folder_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "checkpoints").mkdir()  # empty: left by nothing that matters
    assert train_tiny_vsr(tmp_path, "trainer.max_steps=2")["global_step"] == 2
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_restart_moves_the_earlier_run_aside_and_deletes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    train_tiny_vsr(tmp_path, "trainer.max_steps=2")
    (tmp_path / "notes.txt").write_text("mine")
    earlier = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith(".hydra")}
    with caplog.at_level(logging.WARNING):
        assert train_tiny_vsr(tmp_path, "trainer.max_steps=4", "restart=true")["global_step"] == 4
    (archive,) = (tmp_path / "restarted").iterdir()
    moved = snapshot(archive)
    # Every file of the earlier run is in the archive, byte for byte; the user's own file stayed.
    assert {k: v for k, v in earlier.items() if k != "notes.txt"} == moved
    assert (tmp_path / "notes.txt").read_text() == "mine"
    for name in ("checkpoints", "csv", "metrics.json"):
        assert f"moved the earlier run's {tmp_path / name} to {archive / name}" in caplog.text
    # The new run stands alone: its own last.ckpt (no last-v1), its own log from step 0.
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["last.ckpt", "step0000004.ckpt"]
    assert csv_steps(tmp_path / "csv" / "metrics.csv", "train/loss") == [0, 1, 2, 3]
    with pytest.raises(FileExistsError):  # and is protected in turn
        train_tiny_vsr(tmp_path, "trainer.max_steps=2")


def test_restart_and_resume_together_are_refused(tmp_path: Path) -> None:
    train_tiny_vsr(tmp_path, "trainer.max_steps=2")
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match="restart=true with ckpt_path=last"):
        train_tiny_vsr(tmp_path, "trainer.max_steps=4", "restart=true", "ckpt_path=last")
    assert snapshot(tmp_path) == before


def test_resume_keeps_every_csv_row(tmp_path: Path) -> None:
    train_tiny_vsr(tmp_path, "trainer.max_steps=4")
    log = tmp_path / "csv" / "metrics.csv"
    first_rows = log.read_text().splitlines()[1:]
    train_tiny_vsr(tmp_path, "trainer.max_steps=8", "ckpt_path=last")
    assert csv_steps(log, "train/loss") == list(range(8))  # steps 0-3 kept, 4-7 appended
    assert csv_steps(log, "val/psnr") == [1, 3, 5, 7]
    # The first run's rows are still there, unchanged, before the resumed run's.
    assert log.read_text().splitlines()[1 : 1 + len(first_rows)] == first_rows


def test_resume_by_naming_the_folders_own_checkpoint_is_allowed(tmp_path: Path) -> None:
    train_tiny_vsr(tmp_path, "trainer.max_steps=2")
    own = tmp_path / "checkpoints" / "step0000002.ckpt"
    assert train_tiny_vsr(tmp_path, "trainer.max_steps=4", f"ckpt_path={own}")["global_step"] == 4


@pytest.mark.parametrize("rank_var", ["LOCAL_RANK", "RANK", "NODE_RANK", "SLURM_PROCID"])
def test_only_the_first_ddp_process_checks_the_folder(
    rank_var: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Later ranks start after the first one wrote its log header: they must not refuse its run."""
    for var in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "metrics.json").write_text("{}")
    cfg = compose_config("train", [*TINY_VSR, "restart=true"], tmp_path)
    monkeypatch.setenv(rank_var, "1")
    prepare_run_folder(cfg)  # neither refused nor moved
    assert (tmp_path / "metrics.json").is_file() and not (tmp_path / "restarted").exists()
    monkeypatch.setenv(rank_var, "0")
    prepare_run_folder(cfg)
    assert not (tmp_path / "metrics.json").exists() and (tmp_path / "restarted").is_dir()
