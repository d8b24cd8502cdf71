"""The StyleGAN2 discriminator D of the diverse-inpainting method, trained jointly with the encoder side.

The paper starts D from the pretrained StyleGAN2's discriminator. `path`: a StyleGAN2 file that holds one
(rosinality 'd', NVlabs 'D', mminvert's format; or a bundled name such as `scenes64`, the discriminator of the
bundled generator). Without it D starts random and a warning says so.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

from ..io import load_discriminator
from ..stylegan2 import StyleGAN2Discriminator

__all__ = ["build_discriminator"]

log = logging.getLogger(__name__)


def build_discriminator(resolution: int, path: str | None = None, channel_base: int = 32768, channel_max: int = 512,
                        channels: Mapping[int, int] | None = None, mbstd_group_size: int = 4) -> StyleGAN2Discriminator:
    """D from `path` (checked against `resolution`), else a randomly initialised one of the given widths."""
    if path:
        d = load_discriminator(path)
        if d.resolution != resolution:
            raise ValueError(f"the discriminator in {path} reads {d.resolution} px images, the generator makes "
                             f"{resolution} px")
        log.info("discriminator: pretrained, from %s", path)
        return d.train()
    log.warning("discriminator: randomly initialised (no pretrained discriminator configured: "
                "loss.adversarial.discriminator.path=<StyleGAN2 file with a discriminator>); the paper starts "
                "from the pretrained StyleGAN2 discriminator")
    return StyleGAN2Discriminator(resolution, channel_base, channel_max, channels, mbstd_group_size=mbstd_group_size)
