"""W&B without an account: offline mode is picked, and an offline multirun leaves one run folder per job
holding the job's metrics, tags and images (what `wandb sync` would upload)."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from hydra_runs import run_train, searchpath_override, write_tiny_conf

pytest.importorskip("wandb", reason="the wandb extra is not installed")
from wandb.proto import wandb_internal_pb2 as pb

_BLOCK = 32768  # the .wandb file is a LevelDB-style log: 32 KiB blocks of checksummed chunks


def wandb_records(path: Path) -> Iterator[pb.Record]:
    """Records of a ``run-<id>.wandb`` file (the SDK no longer ships a Python reader)."""
    data = path.read_bytes()
    ident, magic, _ = struct.unpack("<4sHB", data[:7])
    assert (ident, magic) == (b":W&B", 0xBEE1), f"{path} is not a W&B transaction log"
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < 7:  # block trailer padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind in (1, 2):  # full, first
            pending = chunk
        elif kind in (3, 4):  # middle, last
            pending += chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            yield record


def test_offline_multirun_has_one_run_folder_per_job(tmp_path: Path) -> None:
    conf = write_tiny_conf(tmp_path / "conf")
    sweep = tmp_path / "sweep"
    args = ["-m", "experiment=tiny_vsr", "logger=wandb", "seed=1,2", searchpath_override(conf)]
    run_train([*args, f"hydra.sweep.dir={sweep}"], tmp_path)
    run_ids = set()
    for seed in (1, 2):
        job = sweep / f"seed={seed}"
        runs = sorted((job / "wandb").glob("offline-run-*"))
        assert len(runs) == 1, f"{job}: expected one offline W&B run, found {runs}"
        run = runs[0]
        records = list(wandb_records(next(run.glob("run-*.wandb"))))
        (info,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        run_ids.add(info.run_id)
        assert info.display_name == f"seed={seed}" and info.project == "dynskip"
        assert info.run_group == "train"  # sweep_name defaults to the job name
        assert {"vsr", "basicvsr"} <= set(info.tags)
        assert any(r.WhichOneof("record_type") == "exit" for r in records)  # finished at the end of the job
        history: dict[str, str] = {}
        for r in records:
            if r.WhichOneof("record_type") == "history":
                history.update(
                    {item.key or "/".join(item.nested_key): item.value_json for item in r.history.item}
                )
        metrics = json.loads((job / "metrics.json").read_text())
        assert float(history["val/psnr"]) == pytest.approx(metrics["val/psnr"])
        assert "train/loss" in history
        images = json.loads(history["val/images/filenames"])
        assert images and all((run / "files" / name).is_file() for name in images)
    assert len(run_ids) == 2


def test_resumed_job_continues_its_wandb_run(tmp_path: Path) -> None:
    conf = write_tiny_conf(tmp_path / "conf")
    run_dir = tmp_path / "run"
    args = ["experiment=tiny_vsr", "logger=wandb", searchpath_override(conf), f"hydra.run.dir={run_dir}"]
    run_train([*args, "trainer.max_steps=2"], tmp_path)
    first_id = (run_dir / "wandb_run_id").read_text()
    run_train([*args, "trainer.max_steps=4", "ckpt_path=last"], tmp_path)
    runs = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 2, f"expected the first and the resumed offline run folders, found {runs}"
    ids = set()
    for run in runs:
        records = list(wandb_records(next(run.glob("run-*.wandb"))))
        (info,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        ids.add(info.run_id)
    assert ids == {first_id}, f"the resumed job logged to {ids}, not to the first run {first_id}"
    assert (run_dir / "wandb_run_id").read_text() == first_id
