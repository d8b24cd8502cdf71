"""A small multi-label attribute classifier for the built-in scenes: the semantic descriptor F of the
latent-editing tools and of MAGEC when no other classifier is given.

`SceneAttributeClassifier`: image (B, 3, H, W) in [-1, 1] (any H = W, resized to `resolution`) -> logits
(B, K), one per attribute in `names`. Four stride-2 3×3 convolutions with GroupNorm and SiLU, global
average pooling, a linear layer (~0.2 M parameters). Trained by `python -m mminvert.editing.train_classifier`;
the 64 px scenes one ships as `load_attribute_classifier("scenes64")`.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..io.atomic import atomic_torch_save
from ..io.size_limits import check_checkpoint_size
from ..io.torchscript import frozen_network
from ..utils.assets import bundled_names

__all__ = ["SceneAttributeClassifier", "load_attribute_classifier", "save_attribute_classifier",
           "BUNDLED_CLASSIFIERS", "CLASSIFIER_FORMAT", "load_descriptor"]

CLASSIFIER_FORMAT = "mminvert.attribute_classifier"
BUNDLED_CLASSIFIERS = bundled_names("classifier")


class SceneAttributeClassifier(nn.Module):
    def __init__(self, names: Sequence[str], resolution: int = 64, width: int = 32) -> None:
        super().__init__()
        self.names, self.resolution, self.width = list(names), int(resolution), int(width)
        chans = [3, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GroupNorm(8, cout), nn.SiLU()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(chans[-1], len(self.names))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images (B, 3, H, W), got {tuple(x.shape)}")
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False,
                              antialias=True)
        return self.head(self.features(x).mean(dim=(2, 3)))

    @property
    def config(self) -> dict[str, Any]:
        return {"names": self.names, "resolution": self.resolution, "width": self.width}


def save_attribute_classifier(path: str | Path, model: SceneAttributeClassifier, **info: Any) -> Path:
    """Write {format, config, state_dict, info} (info: e.g. the held-out accuracy per attribute)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_torch_save({"format": CLASSIFIER_FORMAT, "config": model.config, "state_dict": sd, "info": info}, path)
    return path


def load_attribute_classifier(path: str | Path = "scenes64", map_location: str | torch.device = "cpu"
                              ) -> SceneAttributeClassifier:
    """A classifier file written by `save_attribute_classifier`, or a bundled name ("scenes64"); frozen,
    eval mode. The file's `info` is kept as `.info`."""
    p = BUNDLED_CLASSIFIERS.get(str(path), Path(path).expanduser())
    if not p.is_file():
        raise FileNotFoundError(f"attribute classifier {p} does not exist (bundled names: {sorted(BUNDLED_CLASSIFIERS)})")
    check_checkpoint_size(p)
    obj = torch.load(p, map_location=map_location, weights_only=True)
    if not isinstance(obj, dict) or obj.get("format") != CLASSIFIER_FORMAT:
        raise ValueError(f"{p} is not an mminvert attribute classifier file (format {CLASSIFIER_FORMAT!r})")
    model = SceneAttributeClassifier(**obj["config"])
    model.load_state_dict(obj["state_dict"])
    model.info = obj.get("info", {})
    return model.requires_grad_(False).eval()


Descriptor = nn.Module | str | Path


def load_descriptor(net: Descriptor, names: Sequence[str] | None = None) -> nn.Module:
    """The semantic descriptor F: an nn.Module, a TorchScript file, a classifier file or a bundled name.
    It maps [-1, 1] images (B, 3, H, W) to logits (B, K); frozen and in eval mode. TorchScript networks
    without a `names` attribute get `names` (or attr0..attrK-1 on first use)."""
    if isinstance(net, (str, Path)):
        p = Path(str(net)).expanduser()
        if str(net) in BUNDLED_CLASSIFIERS or (p.is_file() and _is_classifier_file(p)):
            return load_attribute_classifier(net)
    net = frozen_network(net, "descriptor network", f" (bundled: {sorted(BUNDLED_CLASSIFIERS)})")
    if names is not None and not hasattr(net, "names"):
        try:
            net.names = list(names)
        except (AttributeError, RuntimeError):  # some ScriptModules refuse new attributes
            pass
    return net.eval()


def _is_classifier_file(p: Path) -> bool:
    try:
        check_checkpoint_size(p)
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception:  # TorchScript archives and other files: not ours
        return False
    return isinstance(obj, dict) and obj.get("format") == CLASSIFIER_FORMAT
