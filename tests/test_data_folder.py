"""Folder and label-map loading on small trees the tests write; the DataModule's batches and sharding."""
import functools
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from mminvert.data import (
    BoxMasks,
    CelebAMaskHQSource,
    FolderSource,
    InpaintingDataModule,
    LabelMap,
    ResumableSampler,
    ScenesSource,
    cityscapes_label_map,
    read_image,
    read_mask_file,
)

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def _write_rgb(path, h, w, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def cityscapes_tree(tmp_path):
    img_root, lab_root = tmp_path / "leftImg8bit", tmp_path / "gtFine"
    for i, city in enumerate(["aachen", "bonn"]):
        stem = f"{city}_000000_00001{i}"
        _write_rgb(img_root / "train" / city / f"{stem}_leftImg8bit.png", 40, 80, i)
        ids = np.full((40, 80), 7, np.uint8)  # road
        ids[:10] = 23  # sky
        ids[10:12] = 0  # unlabeled -> ignore
        (lab_root / "train" / city).mkdir(parents=True, exist_ok=True)
        Image.fromarray(ids).save(lab_root / "train" / city / f"{stem}_gtFine_labelIds.png")
    return img_root, lab_root


def test_cityscapes_style_label_map(cityscapes_tree):
    img_root, lab_root = cityscapes_tree
    src = FolderSource(img_root, "train", labels_root=lab_root, label_suffix="_gtFine_labelIds.png",
                       strip_suffix="_leftImg8bit", label_map=cityscapes_label_map())
    assert len(src) == 2 and len(src.class_names) == 19
    img, lab, path = src.load(0)
    assert img.shape == (40, 80, 3) and lab.shape == (40, 80) and path.endswith(".png")
    assert (lab[:10] == src.class_names.index("sky")).all() and (lab[10:12] == 255).all()
    assert (lab[12:] == src.class_names.index("road")).all()


def test_unmapped_label_id_names_the_file(tmp_path):
    _write_rgb(tmp_path / "img" / "a.png", 8, 8)
    (tmp_path / "lab").mkdir()
    Image.fromarray(np.full((8, 8), 42, np.uint8)).save(tmp_path / "lab" / "a.png")
    lm = LabelMap(["x", "y"], {1: "x", 2: "y"})
    src = FolderSource(tmp_path / "img", labels_root=tmp_path / "lab", label_map=lm)
    with pytest.raises(ValueError, match=r"a.png: label ids \[42\] have no mapping"):
        src.load(0)
    lenient = FolderSource(tmp_path / "img", labels_root=tmp_path / "lab",
                           label_map=LabelMap(["x", "y"], {1: "x"}, unmapped="ignore"))
    assert (lenient.load(0)[1] == 255).all()


def test_corrupt_image_names_the_file(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    with pytest.raises(ValueError, match="bad.jpg: unreadable image"):
        FolderSource(tmp_path).load(0)


def test_file_lists_and_splits(tmp_path):
    for i in range(6):
        _write_rgb(tmp_path / "imgs" / f"{i}.png", 8, 8, i)
    (tmp_path / "val.flist").write_text("imgs/4.png\nimgs/5.png\n")
    src = FolderSource(tmp_path, "val", lists={"val": str(tmp_path / "val.flist")})
    assert [p.name for p in src.files] == ["4.png", "5.png"]
    counted = [len(FolderSource(tmp_path, s, val_count=2, test_count=1)) for s in ("train", "val", "test")]
    assert counted == [3, 2, 1]


def test_celebamask_parts_are_merged(tmp_path):
    root = tmp_path / "CelebAMask-HQ"
    _write_rgb(root / "CelebA-HQ-img" / "0.jpg", 32, 32)
    anno = root / "CelebAMask-HQ-mask-anno" / "0"
    anno.mkdir(parents=True)
    for part, box in {"skin": (0, 32, 0, 32), "l_eye": (8, 12, 6, 12), "r_eye": (8, 12, 20, 26), "hair": (0, 6, 0, 32)}.items():
        m = np.zeros((16, 16), np.uint8)  # masks at half the image resolution, like the real data
        y0, y1, x0, x1 = (v // 2 for v in box)
        m[y0:y1, x0:x1] = 255
        Image.fromarray(m).save(anno / f"00000_{part}.png")
    src = CelebAMaskHQSource(root, "train", test_count=0)
    img, lab, _ = src.load(0)
    names = src.class_names
    assert lab.shape == (32, 32)
    assert lab[9, 8] == names.index("eye") and lab[9, 22] == names.index("eye")  # left and right -> one class
    assert lab[2, 16] == names.index("hair") and lab[20, 16] == names.index("skin")


def _check_batch(b, size, batch, k):
    assert b["image"].shape == (batch, 3, size, size) and b["image"].dtype == torch.float32
    assert -1 <= b["image"].min() and b["image"].max() <= 1
    assert b["seg"].shape == (batch, size, size) and b["seg"].dtype == torch.int64
    assert ((b["seg"] < k) | (b["seg"] == 255)).all()
    for key in ("edge", "mask", "mask_seg", "mask_edge"):
        assert b[key].shape == (batch, 1, size, size) and set(b[key].unique().tolist()) <= {0.0, 1.0}
    assert b["index"].shape == (batch,) and len(b["path"]) == batch


def test_datamodule_contract_scenes_and_folder(cityscapes_tree, tmp_path):
    scenes = InpaintingDataModule(functools.partial(ScenesSource, num_train=20, num_val=8, num_test=8), 32, 4, 11,
                                  mask_generator=BoxMasks())
    scenes.setup("fit")
    _check_batch(next(iter(scenes.train_dataloader())), 32, 4, 11)
    v1, v2 = next(iter(scenes.val_dataloader())), next(iter(scenes.val_dataloader()))
    assert torch.equal(v1["mask"], v2["mask"]) and torch.equal(v1["image"], v2["image"])  # deterministic
    img_root, lab_root = cityscapes_tree
    folder = InpaintingDataModule(
        functools.partial(FolderSource, img_root, labels_root=lab_root, label_suffix="_gtFine_labelIds.png",
                          strip_suffix="_leftImg8bit", label_map=cityscapes_label_map()),
        32, 2, 19, mask_generator=BoxMasks())
    ds = folder.build("train")
    _check_batch(torch.utils.data.default_collate([ds[0], ds[1]]), 32, 2, 19)
    with pytest.raises(ValueError, match="num_classes=5"):
        InpaintingDataModule(functools.partial(ScenesSource, num_train=4), 32, 2, 5, mask_generator=BoxMasks()).build("train")


class _FakeTrainer:
    def __init__(self, world, rank, step=0):
        self.world_size, self.global_rank, self.global_step = world, rank, step


def test_distributed_shards_are_distinct_and_batch_is_global():
    seen = []
    for rank in range(2):
        dm = InpaintingDataModule(functools.partial(ScenesSource, num_train=16, num_val=8), 32, 4, 11,
                                  mask_generator=BoxMasks())
        dm.trainer = _FakeTrainer(2, rank)
        loader = dm.train_dataloader()
        assert loader.batch_size == 2
        seen.append({int(i) for b in loader for i in b["index"]})
    assert not seen[0] & seen[1] and len(seen[0] | seen[1]) == 16
    dm = InpaintingDataModule(functools.partial(ScenesSource, num_train=16), 32, 5, 11, mask_generator=BoxMasks())
    dm.trainer = _FakeTrainer(2, 0)
    with pytest.raises(ValueError, match="not divisible by the world size 2"):
        dm.train_dataloader()


def test_skip_policy_counts_unreadable_files(tmp_path):
    _write_rgb(tmp_path / "a.png", 8, 8)
    (tmp_path / "b.png").write_bytes(b"garbage")
    dm = InpaintingDataModule(functools.partial(FolderSource, tmp_path), 8, 2, 0, mask_generator=BoxMasks(),
                              on_error="skip")
    ds = dm.build("train")
    samples = [ds[i] for i in range(2)]
    assert ds.skipped == 1 and all(s["path"].endswith("a.png") for s in samples)


def test_preview_script_writes_a_grid(tmp_path):
    out = tmp_path / "preview.png"
    cmd = [sys.executable, "-m", "mminvert.data.preview", "data=scenes", f"paths.data_dir={tmp_path}",
           "data.source.num_val=4", "n=3", f"out={out}"]
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, timeout=300, env={**__import__("os").environ,
                                                                                       "OMP_NUM_THREADS": "1"})
    grid = np.asarray(Image.open(out))
    assert grid.shape == (3 * 64, 5 * 64, 3)


def test_resumable_sampler_continues_exactly_where_a_run_stopped():
    step = {"n": 0}
    sampler = ResumableSampler(10, global_batch=4, seed=3, step_fn=lambda: step["n"])
    uninterrupted = []
    for _ in range(3):  # three epochs of 2 batches each, the step advancing as training would
        keys = list(sampler)
        uninterrupted += keys
        step["n"] += len(keys) // 4
    assert len(uninterrupted) == 24 and len({k % 10 for k in uninterrupted[:8]}) == 8  # no repeats within an epoch
    step["n"] = 3  # resume after 3 steps: mid-way through the second epoch
    resumed = list(sampler)
    assert resumed == uninterrupted[12:16]
    ranks = [list(ResumableSampler(10, 4, 3, world=2, rank=r)) for r in range(2)]
    assert not set(ranks[0]) & set(ranks[1]) and sorted(ranks[0] + ranks[1]) == sorted(uninterrupted[:8])


def test_training_samples_are_a_function_of_the_draw_key():
    dm = InpaintingDataModule(functools.partial(ScenesSource, num_train=8), 32, 4, 11, mask_generator=BoxMasks())
    ds = dm.build("train")
    a, b, c = ds[3], ds[3], ds[3 + 8]  # same key twice; same image in the next epoch
    assert torch.equal(a["mask"], b["mask"]) and torch.equal(a["image"], b["image"])
    assert a["index"] == c["index"] == 3 and not torch.equal(a["mask"], c["mask"])


def test_cached_edges_equal_computed_edges():
    kw = dict(mask_generator=BoxMasks(), crop="center", hflip=True)
    plain = InpaintingDataModule(functools.partial(ScenesSource, num_train=6), 32, 2, 11, **kw).build("train")
    cached = InpaintingDataModule(functools.partial(ScenesSource, num_train=6), 32, 2, 11, cache_edges=True,
                                  **kw).build("train")
    for key in range(12):  # two epochs: cache hits, flipped and unflipped
        a, b = plain[key], cached[key]
        assert torch.equal(a["image"], b["image"])
        assert (a["edge"] != b["edge"]).float().mean() < 0.01  # Canny is mirror-symmetric up to rare ties
    assert cached.cache_edges and len(cached._edge_cache) == 6


def test_sixteen_bit_and_float_images_are_scaled_not_clipped(tmp_path):
    """PIL's convert("RGB") clips 16-bit grey to white; training images are scaled to 8 bits instead."""
    grey16 = np.random.default_rng(0).integers(0, 65536, (12, 16), dtype=np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    img = read_image(tmp_path / "g16.png")
    assert img.shape == (12, 16, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[..., 1], np.rint(grey16 / 257).astype(np.uint8))
    Image.fromarray(np.linspace(0, 1, 12 * 16, dtype=np.float32).reshape(12, 16)).save(tmp_path / "f.tif")
    f = read_image(tmp_path / "f.tif")
    assert f[0, 0, 0] == 0 and f[-1, -1, 0] == 255
    Image.fromarray(np.full((4, 4), 7.5, np.float32)).save(tmp_path / "hdr.tif")
    with pytest.raises(ValueError, match="hdr.tif: unreadable image.*values in 0..1"):
        read_image(tmp_path / "hdr.tif")


def test_sixteen_bit_masks_threshold_at_half_range(tmp_path):
    m = np.full((8, 8), 65535, np.uint16)
    m[2:5, 2:5] = 300  # dark, but above 255: PIL's 8-bit conversion would call it white
    Image.fromarray(m).save(tmp_path / "m16.png")
    known = read_mask_file(tmp_path / "m16.png")
    assert known[3, 3] == 0 and known[0, 0] == 1 and known.sum() == 64 - 9
