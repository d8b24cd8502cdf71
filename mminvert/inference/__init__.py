"""Inference: the `Inpainter` API and the exportable inference bundle."""
from .bundle import BUNDLE_FORMAT, load_bundle, save_bundle
from .inpainter import Inpainter

__all__ = ["Inpainter", "save_bundle", "load_bundle", "BUNDLE_FORMAT"]
