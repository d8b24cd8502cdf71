"""LightningDataModule for inpainting data: global batch size, distributed sharding, seeded workers,
deterministic validation and test sets."""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, SequentialSampler

from .dataset import InpaintingDataset
from .first_items import FirstItems
from .masks import MaskGenerator, ModalityMasks

__all__ = ["InpaintingDataModule", "ResumableSampler", "seed_worker"]

log = logging.getLogger(__name__)


def seed_worker(worker_id: int) -> None:
    """numpy / random seeds of a worker follow torch's per-worker seed (itself derived from the run seed)."""
    import random

    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)
    cv2.setNumThreads(1)  # one OpenCV thread per worker: N workers x all cores oversubscribe the CPU


class ResumableSampler(Sampler[int]):
    """Training order as a pure function of the training step: epoch e is the permutation of the N samples
    drawn from `seed + e`, sharded across ranks (rank r takes positions r, r + W, ...), and an epoch that
    starts at step s skips the batches the run has already done. The keys yielded are draw numbers
    `e · N + index`, from which the dataset seeds each sample. A resumed run therefore continues with
    exactly the batches the uninterrupted run would have seen.
    """

    def __init__(self, length: int, global_batch: int, seed: int, world: int = 1, rank: int = 0,
                 step_fn: Callable[[], int] | None = None) -> None:
        self.n, self.global_batch, self.seed = int(length), int(global_batch), int(seed)
        self.world, self.rank = int(world), int(rank)
        self.step_fn = step_fn or (lambda: 0)
        self.batches_per_epoch = self.n // self.global_batch
        if self.batches_per_epoch < 1:
            raise ValueError(f"the training set ({self.n} samples) is smaller than one global batch ({self.global_batch})")

    def __len__(self) -> int:
        return self.batches_per_epoch * self.global_batch // self.world

    def __iter__(self):
        step = int(self.step_fn())
        epoch, skip = divmod(step, self.batches_per_epoch)
        perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + epoch))
        used = perm[: self.batches_per_epoch * self.global_batch]
        mine = used[self.rank :: self.world]
        start = skip * (self.global_batch // self.world)
        for idx in mine[start:].tolist():
            yield epoch * self.n + idx


class InpaintingDataModule(pl.LightningDataModule):
    """`source(split=..., resolution=...)` builds each split's source (a `_partial_` config).

    `batch_size` is global: each of the `world_size` devices loads `batch_size / world_size` samples; the
    training order is a function of the step (`ResumableSampler`), so resumed runs see the same batches
    (an error if it does not divide). `num_classes` must equal the source's number of classes (it is
    what model configs read as `${data.num_classes}`). Validation/test masks come from `eval_masks`
    (a factory called with the split's length, e.g. a fixed evaluation set) or, when None, from
    `eval_mask_generator` seeded per index. `pin_memory=None` pins batches when CUDA is available.
    """

    def __init__(
        self,
        source: Callable[..., Any],
        resolution: int,
        batch_size: int,
        num_classes: int,
        class_names: Sequence[str] | None = None,
        mask_generator: MaskGenerator | None = None,
        eval_mask_generator: MaskGenerator | None = None,
        eval_masks: Callable[..., Any] | None = None,
        modality: ModalityMasks | None = None,
        crop: str = "random",
        hflip: bool = True,
        augment: Any = None,
        edges: dict[str, float] | None = None,
        num_workers: int = 0,
        val_batch_size: int | None = None,
        seed: int = 0,
        on_error: str = "raise",
        pin_memory: bool | None = None,
        cache_edges: bool = False,
        images_only: bool = False,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.source_factory, self.resolution, self.batch_size = source, int(resolution), int(batch_size)
        self.num_classes = int(num_classes)
        self.class_names = tuple(class_names or ())
        self.mask_generator, self.eval_mask_generator = mask_generator, eval_mask_generator or mask_generator
        self.eval_masks_factory, self.modality = eval_masks, modality
        self.crop, self.hflip, self.augment, self.edges = crop, hflip, augment, dict(edges or {})
        self.num_workers, self.val_batch_size = int(num_workers), val_batch_size
        self.seed, self.on_error, self.pin_memory, self.cache_edges = int(seed), on_error, pin_memory, cache_edges
        self.images_only = bool(images_only)  # batches of {image, index, path}: GAN training needs no masks or edges
        self.datasets: dict[str, InpaintingDataset] = {}

    # ------------------------------------------------------------------------------- datasets
    def build(self, split: str, eval_masks: Any = None, count: int | None = None) -> InpaintingDataset:
        """The `split` ("train" | "val" | "test") dataset as training, validation and test use it.

        `eval_masks` (anything with `load(i)`, e.g. one bucket's `EvalMaskSet`) replaces the config's evaluation
        masks of a val / test split; `count` keeps the split's first `count` items. Either way the images, crop,
        edges, label check (`num_classes`) and `on_error` are those of the config, so an evaluation built here
        scores exactly what validation / test would with the same masks."""
        source = self.source_factory(split=split, resolution=self.resolution)
        names = tuple(getattr(source, "class_names", ()) or ())
        if names and len(names) != self.num_classes:
            raise ValueError(f"data.num_classes={self.num_classes} but the {split} source has {len(names)} classes "
                             f"({', '.join(names)})")
        if names:
            self.class_names = names
        if count is not None:
            source = FirstItems(source, count)
        train = split == "train"
        if train and eval_masks is not None:
            raise ValueError("eval_masks are for the val / test splits; training draws masks from data.mask_generator")
        if not train and eval_masks is None and self.eval_masks_factory is not None:
            eval_masks = self.eval_masks_factory()
            if hasattr(eval_masks, "ensure"):
                eval_masks.ensure()  # no-op when prepare_data already wrote the set
        if train and self.mask_generator is None:
            raise ValueError("training needs data.mask_generator")
        return InpaintingDataset(
            source, self.resolution, mask_generator=self.mask_generator if train else self.eval_mask_generator,
            eval_masks=eval_masks, modality=self.modality if train else None, train=train, crop=self.crop,
            hflip=self.hflip, augment=self.augment if train else None, edges=self.edges,
            seed=self.seed + {"train": 0, "val": 1, "test": 2}[split], on_error=self.on_error,
            cache_edges=self.cache_edges, num_classes=self.num_classes, images_only=self.images_only)

    def prepare_data(self) -> None:
        """Generate the fixed evaluation masks once (Lightning runs this on one process per node)."""
        if self.eval_masks_factory is not None:
            masks = self.eval_masks_factory()
            if hasattr(masks, "ensure"):
                masks.ensure()

    def check_model(self, model: Any) -> None:
        """A model that reads segmentation (an encoder whose `modalities` include "seg") must have been built
        for this data's classes; a mismatch is an error naming both numbers."""
        encoder = getattr(model, "encoder", None)
        if not getattr(encoder, "use_aux", False) or "seg" not in getattr(encoder, "modalities", ("seg",)):
            return  # RGB-only and edge-only models ignore the labels
        if int(encoder.num_classes) != self.num_classes:
            raise ValueError(f"the model's encoder was built for {encoder.num_classes} segmentation classes "
                             f"(model.encoder.num_classes) but the data has data.num_classes={self.num_classes}: "
                             "build the model for the data's classes (model.encoder.num_classes: ${data.num_classes})")

    def setup(self, stage: str | None = None) -> None:
        module = getattr(getattr(self, "trainer", None), "lightning_module", None)
        if module is not None:
            self.check_model(getattr(module, "model", None))
        splits = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        for split in splits.get(stage or "fit", ("train", "val", "test")):
            if split not in self.datasets:
                self.datasets[split] = self.build(split)

    def teardown(self, stage: str | None = None) -> None:
        for split, ds in self.datasets.items():
            if ds.skipped:
                log.warning("%s: %d unreadable sample(s) skipped (in the main process; workers log their own)",
                            split, ds.skipped)

    # ---------------------------------------------------------------------------- distribution
    def _world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 1, 0
        return int(trainer.world_size), int(trainer.global_rank)

    def per_device_batch_size(self, global_batch: int | None = None) -> int:
        world, _ = self._world()
        b = self.batch_size if global_batch is None else global_batch
        if b % world:
            raise ValueError(f"global batch size {b} is not divisible by the world size {world}")
        return b // world

    def _loader(self, split: str, train: bool) -> DataLoader:
        ds = self.datasets.get(split) or self.build(split)
        self.datasets[split] = ds
        world, rank = self._world()
        batch = self.per_device_batch_size(self.batch_size if train else (self.val_batch_size or self.batch_size))
        if train:
            sampler: Sampler = ResumableSampler(len(ds), self.batch_size, self.seed, world, rank, self._global_step)
        elif world > 1:
            sampler = DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=False)
        else:
            sampler = SequentialSampler(ds)
        return DataLoader(ds, batch_size=batch, sampler=sampler, num_workers=self.num_workers, drop_last=train,
                          persistent_workers=self.num_workers > 0, worker_init_fn=seed_worker,
                          pin_memory=torch.cuda.is_available() if self.pin_memory is None else self.pin_memory)

    def _global_step(self) -> int:
        trainer = getattr(self, "trainer", None)
        return int(trainer.global_step) if trainer is not None else 0

    def real_images(self) -> Dataset:
        """The training split's images in index order, centre-cropped, un-augmented (FID's reference set)."""
        from .real_images import RealImages

        return RealImages(self.source_factory(split="train", resolution=self.resolution), self.resolution)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
