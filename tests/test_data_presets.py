"""Every data preset (conf/data/*.yaml) trains: two steps of the tiny inpainting config on a small data set the
test writes in the layout the preset expects (Cityscapes, CelebAMask-HQ, Places2 file lists with ADE-style
pseudo labels, a plain folder). The README's own folder example runs; a model that needs classes on data
without labels, and label ids outside the data's classes, are clear errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig
from PIL import Image

from mminvert.runner import train

CONF = Path(__file__).resolve().parents[1] / "conf"
RUN = ["++trainer.enable_progress_bar=false", "trainer.accelerator=cpu", "trainer.devices=1", "logger=csv",
       "trainer.max_steps=2", "+trainer.limit_val_batches=1", "callbacks.checkpoint.every_n_steps=2"]
TINY = ["experiment=inpainting_tiny", *RUN]


def compose_cfg(tmp_path: Path, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=[f"paths.output_dir={tmp_path}/run", f"paths.data_dir={tmp_path}/data",
                                            *overrides])


def _rgb(path: Path, h: int, w: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)


def _ids(path: Path, ids: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(ids.astype(np.uint8)).save(path)


def _bands(h: int, w: int, values: list[int]) -> np.ndarray:
    """Horizontal bands of the given label ids."""
    rows = np.array_split(np.arange(h), len(values))
    out = np.zeros((h, w), np.uint8)
    for r, v in zip(rows, values):
        out[r] = v
    return out


# Each preset: a writer of a small data set under data_dir (the preset's own layout and default paths)
# and the overrides a 12-image data set needs (held-out counts; the model for unlabelled data).
def _write_folder(data: Path) -> None:
    for i in range(12):
        _rgb(data / "images" / ("sub" if i % 2 else "") / f"{i:02d}.{'jpg' if i % 3 else 'png'}", 40, 56, i)


def _write_cityscapes(data: Path) -> None:
    for i in range(12):
        city = ["aachen", "bonn", "koeln"][i % 3]
        stem = f"{city}_{i:06d}_000019"
        _rgb(data / "cityscapes" / "leftImg8bit" / "train" / city / f"{stem}_leftImg8bit.png", 48, 96, i)
        _ids(data / "cityscapes" / "gtFine" / "train" / city / f"{stem}_gtFine_labelIds.png",
             _bands(48, 96, [23, 0, 11, 21, 7]))  # sky, unlabeled (ignored), building, vegetation, road


def _write_celebahq(data: Path) -> None:
    root = data / "CelebAMask-HQ"
    for i in range(12):
        _rgb(root / "CelebA-HQ-img" / f"{i}.jpg", 64, 64, i)
        for part, (y0, y1) in {"skin": (8, 64), "hair": (0, 16), "l_eye": (24, 30), "nose": (30, 40)}.items():
            m = np.zeros((32, 32), np.uint8)  # annotations at half the image size, like the real data
            m[y0 // 2 : y1 // 2, 4:28] = 255
            _ids(root / "CelebAMask-HQ-mask-anno" / str(i // 2000) / f"{i:05d}_{part}.png", m)


def _write_places2(data: Path) -> None:
    root, seg = data / "places365_standard", data / "places365_standard_seg"
    rel = [f"{'train' if i < 8 else 'val'}/{['a/abbey', 'b/beach'][i % 2]}/{i:08d}.jpg" for i in range(12)]
    for i, r in enumerate(rel):
        _rgb(root / r, 48, 64, i)
        _ids(seg / Path(r).with_suffix(".png"), _bands(48, 64, [2, 255, 6, 149]))  # ADE-style ids 0..149
    (root / "train.flist").write_text("\n".join(rel[:8]) + "\n")
    (root / "val.flist").write_text("\n".join(rel[8:]) + "\n")


def _write_template_layout(data: Path) -> None:
    """conf/data/folder_template.yaml as written: my_data/images/<rel>.jpg, my_data/labels/<rel>.png (ids 0..1)."""
    for i in range(12):
        rel = Path("sub" if i % 2 else "") / f"{i:02d}"
        _rgb(data / "my_data" / "images" / rel.with_suffix(".jpg"), 40, 56, i)
        _ids(data / "my_data" / "labels" / rel.with_suffix(".png"), _bands(40, 56, [0, 1, 255]))


SMALL = ["data.source.val_count=2", "data.source.test_count=2"]
PRESETS = {
    # preset: (writer, overrides, labelled)
    "scenes": (None, ["data.source.num_train=16", "data.source.num_val=4", "data.source.num_test=4"], True),
    "scenes_tiny": (None, [], True),
    "folder": (_write_folder, [*SMALL, "model=invertfill"], False),
    "folder_template": (_write_template_layout, [], True),
    "cityscapes": (_write_cityscapes, SMALL, True),
    "celebahq": (_write_celebahq, SMALL, True),
    "places2": (_write_places2, ["model=invertfill"], False),
}
LABELLED_VARIANTS = {
    # ADE/Places-style pseudo labels (class ids 0..K-1 as PNGs beside the images), as places2_mminvertfill uses
    "places2": ["data.source.labels_root=${paths.data_dir}/places365_standard_seg", "data.num_classes=150"],
    "folder": ["data.source.labels_root=${paths.data_dir}/labels", "data.num_classes=4"],
}


def test_every_preset_has_a_training_test():
    # `generated` feeds task=diverse (images made by the generator inside the step): tests/test_diverse_training.py
    presets = {p.stem for p in (CONF / "data").glob("*.yaml")} - {"generated"}
    assert presets == set(PRESETS), "add the new data preset to PRESETS"


def _train_and_check(tmp_path: Path, overrides: list[str], labelled: bool) -> None:
    cfg = compose_cfg(tmp_path, *TINY, *overrides)
    dm = instantiate(cfg.data)
    sample = dm.build("train")[0]
    assert sample["image"].shape == (3, 32, 32)
    assert bool((sample["seg"] != 255).any()) == labelled  # label maps were found and read
    train(cfg)
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 2


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_data_preset_trains_two_steps(tmp_path, preset):
    writer, overrides, labelled = PRESETS[preset]
    if writer is not None:
        writer(tmp_path / "data")
    _train_and_check(tmp_path, [f"data={preset}", *overrides], labelled)


@pytest.mark.parametrize("preset", sorted(LABELLED_VARIANTS))
def test_unlabelled_presets_train_the_multimodal_model_with_label_maps(tmp_path, preset):
    data = tmp_path / "data"
    PRESETS[preset][0](data)
    if preset == "folder":  # label maps in a parallel tree: labels/<rel>/<stem>.png
        for img in sorted((data / "images").rglob("*.*")):
            _ids(data / "labels" / img.relative_to(data / "images").with_suffix(".png"), _bands(40, 56, [0, 1, 2, 3]))
    overrides = [o for o in PRESETS[preset][1] if not o.startswith("model=")]
    _train_and_check(tmp_path, [f"data={preset}", *overrides, *LABELLED_VARIANTS[preset]], True)


def test_readme_folder_example_trains(tmp_path):
    """`python train.py data=folder data.source.root=/my/photos model=invertfill trainer.max_steps=2` (with the
    default, bundled 64 px generator)."""
    photos = tmp_path / "photos"
    for i in range(8):
        _rgb(photos / f"IMG_{i:04d}.jpg", 72, 96, i)
    cfg = compose_cfg(tmp_path, "data=folder", f"data.source.root={photos}", "model=invertfill", *RUN,
                      "data.source.val_count=2", "data.source.test_count=2", "data.batch_size=2",
                      "data.eval_masks.count=4")
    assert cfg.data.resolution == 64
    train(cfg)
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2


def test_model_needing_classes_on_unlabelled_data_names_both(tmp_path):
    _write_folder(tmp_path / "data")
    cfg = compose_cfg(tmp_path, *TINY, "data=folder", *SMALL)  # default model: MMInvertFill reads segmentation
    with pytest.raises(Exception, match=r"(?s)num_classes=0.*data\.num_classes.*model=invertfill"):
        train(cfg)


def test_model_built_for_other_classes_names_both(tmp_path):
    _write_cityscapes(tmp_path / "data")
    cfg = compose_cfg(tmp_path, *TINY, "data=cityscapes", *SMALL, "model.encoder.num_classes=15")
    with pytest.raises(ValueError, match=r"built for 15 segmentation classes.*data\.num_classes=19"):
        train(cfg)


def test_label_ids_outside_the_classes_name_the_file(tmp_path):
    data = tmp_path / "data"
    _write_places2(data)
    cfg = compose_cfg(tmp_path, *TINY, "data=places2", *LABELLED_VARIANTS["places2"], "data.num_classes=100")
    message = r"label map of \S*00000000\.jpg: ids \[149\] are not classes of data\.num_classes=100"
    with pytest.raises(ValueError, match=message):
        instantiate(cfg.data).build("train")[0]
    cfg = compose_cfg(tmp_path, *TINY, "data=places2", LABELLED_VARIANTS["places2"][0], "model=invertfill")
    with pytest.raises(ValueError, match="label maps but data.num_classes=0"):
        instantiate(cfg.data).build("train")[0]


def test_small_folder_with_large_held_out_counts_is_a_clear_error(tmp_path):
    _write_folder(tmp_path / "data")
    cfg = compose_cfg(tmp_path, *TINY, "data=folder", "model=invertfill")  # val_count = test_count = 100
    with pytest.raises(ValueError, match=r"holds 12 images, but val_count=100 \+ test_count=100"):
        instantiate(cfg.data).build("train")


def test_stylegan2_pretraining_on_a_folder(tmp_path):
    """`python train.py experiment=stylegan2_tiny data=folder data.source.root=...`: the generator is pre-trained
    on one's own images the same way."""
    _write_folder(tmp_path / "data")
    cfg = compose_cfg(tmp_path, "experiment=stylegan2_tiny", *RUN, "data=folder", *SMALL,
                      "callbacks.samples.every_n_steps=2")
    train(cfg)
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] >= 2


def test_edge_only_model_ignores_the_datas_classes():
    """check_model compares classes only for models that read segmentation (modalities with "seg")."""
    from types import SimpleNamespace

    from mminvert.data.datamodule import InpaintingDataModule
    from mminvert.encoder import MultiModalGuidedEncoder

    dm = SimpleNamespace(num_classes=19)
    check = InpaintingDataModule.check_model
    edge_only = SimpleNamespace(encoder=MultiModalGuidedEncoder(num_classes=0, modalities=["edge"], channels=[8, 8, 8, 8]))
    check(dm, edge_only)  # no error: the labels are not an input of this model
    both = SimpleNamespace(encoder=MultiModalGuidedEncoder(num_classes=15, channels=[8, 8, 8, 8]))
    with pytest.raises(ValueError, match="built for 15 segmentation classes"):
        check(dm, both)
