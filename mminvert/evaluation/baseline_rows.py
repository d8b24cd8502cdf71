"""The reference rows `evaluate.py baselines=[...]` can add, by name.

`BASELINES[name](cfg, model, device, skipped)` builds a method (batch -> {'composite', 'seg'}) from the
evaluation config (its `cfg.<name>` section holds the options), the evaluated model (whose generator the
optimisation baselines invert) and the device; it records parts it had to leave out in `skipped`.
A new row is one builder function and one entry in `BASELINES`.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from ..baselines import ContextualInversion, OptimInversion
from ..io import load_discriminator
from .methods import GeneratorBaseline, TeleaMethod

__all__ = ["BASELINES", "build_baseline"]

Builder = Callable[[DictConfig, torch.nn.Module, torch.device, dict[str, str]], Any]


def _telea(cfg: DictConfig, model: torch.nn.Module, device: torch.device, skipped: dict[str, str]) -> Any:
    return TeleaMethod()


def _optim_inversion(cfg: DictConfig, model: torch.nn.Module, device: torch.device, skipped: dict[str, str]) -> Any:
    options = OmegaConf.to_container(cfg.optim_inversion, resolve=True)
    perceptual = None
    net = options.pop("lpips_net", None)
    if net and options.get("lambda_perceptual", 0):
        from ..metrics import LPIPSMetric

        try:
            perceptual = LPIPSMetric(net).to(device)
        except (FileNotFoundError, ValueError) as e:
            if not cfg.skip_unavailable:
                raise
            skipped["optim_inversion LPIPS term"] = f"MSE only: {str(e).split('. ')[0]}"
    inversion = OptimInversion(copy.deepcopy(model.generator).to(device), perceptual=perceptual, **options)
    return GeneratorBaseline("optim_inversion", inversion, device)


def _contextual_inversion(cfg: DictConfig, model: torch.nn.Module, device: torch.device,
                          skipped: dict[str, str]) -> Any:
    options = OmegaConf.to_container(cfg.contextual_inversion, resolve=True)
    d_path = options.pop("discriminator", None)
    discriminator = load_discriminator(d_path, map_location=device) if d_path else None
    if discriminator is None:
        skipped["contextual_inversion prior"] = "off: no `contextual_inversion.discriminator` file given"
    inversion = ContextualInversion(copy.deepcopy(model.generator).to(device), discriminator, **options)
    return GeneratorBaseline("contextual_inversion", inversion, device)


BASELINES: dict[str, Builder] = {
    "telea": _telea,                                  # cv2.inpaint, Telea's fast marching method
    "optim_inversion": _optim_inversion,              # Wauquiez: Adam on W+ of the model's generator
    "contextual_inversion": _contextual_inversion,    # Yeh / Vitoria: z optimisation + Poisson blend
}


def build_baseline(name: str, cfg: DictConfig, model: torch.nn.Module, device: torch.device,
                   skipped: dict[str, str]) -> Any:
    if name not in BASELINES:
        raise ValueError(f"unknown baselines [{name!r}]; available: {list(BASELINES)}")
    return BASELINES[name](cfg, model, device, skipped)
