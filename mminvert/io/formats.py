"""The names mminvert writes into its files, in one place: the `format` value of each file kind and the keys it adds
to Lightning training checkpoints. Readers recognise files by these values, never by file name. Changing one breaks
every file written before: add a new value and keep reading the old one."""
from __future__ import annotations

__all__ = ["BUNDLE_FORMAT", "STYLEGAN2_FORMAT", "WGAN_GP_FORMAT", "ARCHITECTURE_KEY", "DATA_RECORD_KEY"]

BUNDLE_FORMAT = "mminvert.inpainter"  # inference bundle: {format, version, model_class, architecture, state_dict, ...}
STYLEGAN2_FORMAT = "mminvert.stylegan2"  # StyleGAN2 networks: {format, version, generator: {config, state_dict}, ...}
WGAN_GP_FORMAT = "mminvert.wgan_gp"  # DCGAN generator + critic of the WGAN-GP baseline

# keys the inpainting-family tasks add to their Lightning checkpoints
ARCHITECTURE_KEY = "mminvert_architecture"  # the model's constructor arguments: rebuild without the training config
DATA_RECORD_KEY = "mminvert_data"  # the data set trained on (data/run_data.py): evaluate.py scores its test split
