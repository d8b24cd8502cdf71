"""mminvert: encoder-based GAN-inversion image inpainting on a frozen, pretrained StyleGAN2.

The names below load on first use, so that `import mminvert.inference.onnx_inpainter` (the onnxruntime backend)
works without torch.
"""
from __future__ import annotations

from .utils.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {"Inpainter": ".inference", "OnnxInpainter": ".inference", "load_generator": ".io",
         "load_discriminator": ".io", "save_stylegan2": ".io", "export_rosinality": ".io", "CheckpointError": ".io",
         "StyleGAN2Generator": ".stylegan2", "StyleGAN2Discriminator": ".stylegan2"}
__all__ = [*_LAZY, "__version__"]


__getattr__ = lazy_exports(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
