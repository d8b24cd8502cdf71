"""Data of the diverse-inpainting task: training images come from the frozen generator (made inside the training
step), so the training loader only counts steps; real images, when configured, serve validation — and training
for the real-data ablation (`train_source: real`)."""
from __future__ import annotations

from collections.abc import Iterator

import pytorch_lightning as pl
from torch.utils.data import DataLoader, IterableDataset

from .datamodule import InpaintingDataModule

__all__ = ["GeneratedDataModule", "StepCounter"]

TRAIN_SOURCES = ("generated", "real")


class StepCounter(IterableDataset):
    """An endless stream of {"index": i}: one item per generated training image (the step draws its own data)."""

    def __iter__(self) -> Iterator[dict[str, int]]:
        i = 0
        while True:
            yield {"index": i}
            i += 1


class GeneratedDataModule(pl.LightningDataModule):
    """`batch_size` is global (divided by the number of devices). `real`: an InpaintingDataModule whose validation
    split (with its fixed evaluation masks) is the validation data, or None (no validation). `train_source`:
    `generated` (batches of indices) or `real` (the real data module's training batches)."""

    def __init__(self, batch_size: int, resolution: int, real: InpaintingDataModule | None = None,
                 train_source: str = "generated") -> None:
        super().__init__()
        if train_source not in TRAIN_SOURCES:
            raise ValueError(f"train_source must be one of {TRAIN_SOURCES}, got {train_source!r}")
        if train_source == "real" and real is None:
            raise ValueError("train_source=real needs a real data module (data.real)")
        if real is not None and real.resolution != resolution:
            raise ValueError(f"data.real renders {real.resolution} px images, the generator makes {resolution} px")
        self.batch_size, self.resolution, self.real, self.train_source = int(batch_size), int(resolution), real, train_source
        self.num_classes = 0

    def _sync_real(self) -> None:
        if self.real is not None:
            self.real.trainer = getattr(self, "trainer", None)
            self.real.batch_size = self.batch_size

    def prepare_data(self) -> None:
        if self.real is not None:
            self.real.prepare_data()  # the fixed evaluation masks

    def setup(self, stage: str | None = None) -> None:
        self._sync_real()
        if self.real is not None and (stage != "fit" or self.train_source == "real"):
            self.real.setup(stage)
        elif self.real is not None:
            self.real.setup("validate")

    def train_dataloader(self) -> DataLoader:
        self._sync_real()
        if self.train_source == "real":
            return self.real.train_dataloader()
        trainer = getattr(self, "trainer", None)
        world = int(trainer.world_size) if trainer is not None else 1
        if self.batch_size % world:
            raise ValueError(f"global batch size {self.batch_size} is not divisible by the world size {world}")
        return DataLoader(StepCounter(), batch_size=self.batch_size // world, num_workers=0)

    def val_dataloader(self) -> DataLoader | list:
        self._sync_real()
        return self.real.val_dataloader() if self.real is not None else []

    def test_dataloader(self) -> DataLoader | list:
        self._sync_real()
        return self.real.test_dataloader() if self.real is not None else []

