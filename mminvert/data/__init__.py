"""Data: the built-in procedural scenes, image folders with label maps, CelebAMask-HQ, masks (training
generators, fixed evaluation sets, user folders), edges, augmentation, the dataset and the DataModules.

The DataModules (`InpaintingDataModule`, `GeneratedDataModule`, and their samplers) are Lightning objects and load
on first use, so that reading images, masks and data records (inference, evaluation, the app) never imports
Lightning."""
from __future__ import annotations

from ..utils.lazy import lazy_exports
from .augment import GeometricAugment
from .dataset import InpaintingDataset, fit_geometry
from .edges import canny_edges
from .eval_mask_roots import eval_mask_set
from .eval_masks import BUCKETS, WIDE_BUCKETS, EvalMaskSet, FolderMasks, bucket_ratio, parse_bucket, read_mask_file
from .folder import CelebAMaskHQSource, FolderSource, read_image, read_labels
from .label_maps import CELEBAMASK_CLASSES, IGNORE_INDEX, LabelMap, cityscapes_label_map
from .masks import (
                    MASKS_VERSION,
                    BoxMasks,
                    BucketMasks,
                    FreeFormMasks,
                    MixedMasks,
                    ModalityMasks,
                    OutpaintMasks,
                    hole_ratio,
)
from .scenes import SCENE_CLASSES, SCENES_VERSION, ScenesSource, render_scene

__all__ = [
    "InpaintingDataModule", "GeneratedDataModule", "StepCounter",
    "ResumableSampler", "InpaintingDataset", "fit_geometry", "GeometricAugment", "canny_edges", "BUCKETS",
    "WIDE_BUCKETS", "bucket_ratio",
    "EvalMaskSet", "eval_mask_set", "FolderMasks", "parse_bucket", "read_mask_file", "CelebAMaskHQSource", "FolderSource",
    "read_image", "read_labels", "CELEBAMASK_CLASSES", "IGNORE_INDEX", "LabelMap", "cityscapes_label_map",
    "MASKS_VERSION", "BoxMasks", "BucketMasks", "FreeFormMasks", "MixedMasks", "ModalityMasks", "OutpaintMasks",
    "hole_ratio", "SCENE_CLASSES", "SCENES_VERSION", "ScenesSource", "render_scene",
]

_LAZY_LIGHTNING = {"InpaintingDataModule": ".datamodule", "ResumableSampler": ".datamodule",
                   "GeneratedDataModule": ".generated", "StepCounter": ".generated"}

__getattr__ = lazy_exports(__name__, _LAZY_LIGHTNING)
