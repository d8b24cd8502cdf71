"""The reference rows `evaluate.py baselines=[...]` can add, by name.

`BASELINES[name](cfg, model, device, skipped)` builds a method (batch -> {'composite', 'seg'}) from the
evaluation config (its `cfg.<name>` section holds the options, from conf/baseline_settings/), the evaluated model
(whose generator the optimisation baselines invert) and the device; it records parts it had to leave out in
`skipped`.
A new row is one builder function and one entry in `BASELINES`.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from ..baselines import ContextualInversion, OptimInversion
from ..io import bundled_discriminator_names, bundled_generator_name, load_discriminator
from .methods import GeneratorBaseline, TeleaMethod

__all__ = ["BASELINES", "build_baseline", "check_baseline_names"]

log = logging.getLogger(__name__)
Builder = Callable[[DictConfig, torch.nn.Module, torch.device, dict[str, str]], Any]


def _telea(cfg: DictConfig, model: torch.nn.Module, device: torch.device, skipped: dict[str, str]) -> Any:
    return TeleaMethod()


def _lpips_term(cfg: DictConfig, net: str, device: torch.device, skipped: dict[str, str], term: str,
                without: str) -> Any:
    """LPIPS-`net` for a baseline's perceptual term; None when its weights are missing and `skip_unavailable` is on,
    with `skipped[term]` = "<without>: <why>"."""
    from ..metrics import LPIPSMetric

    try:
        return LPIPSMetric(net).to(device)
    except (FileNotFoundError, ValueError) as e:
        if not cfg.skip_unavailable:
            raise
        skipped[term] = f"{without}: {str(e).split('. ')[0]}"
        return None


def _optim_inversion(cfg: DictConfig, model: torch.nn.Module, device: torch.device, skipped: dict[str, str]) -> Any:
    options = OmegaConf.to_container(cfg.optim_inversion, resolve=True)
    perceptual = None
    net = options.pop("lpips_net", None)
    if net and options.get("lambda_perceptual", 0):
        perceptual = _lpips_term(cfg, net, device, skipped, "optim_inversion LPIPS term", "MSE only")
    inversion = OptimInversion(copy.deepcopy(model.generator).to(device), perceptual=perceptual,
                               guidance=_guidance(options.pop("guidance", None)), **options)
    return GeneratorBaseline("optim_inversion", inversion, device)


def _guidance(raw: Any) -> list[Any]:
    """`optim_inversion.guidance`: [{classifier, targets: {attribute: 0|1}, weight, epsilon, temperature, ...}]."""
    from ..baselines import AttributeGuidance
    from ..editing import load_descriptor

    terms = []
    for g in raw or []:
        g = dict(g)
        net = load_descriptor(g.pop("classifier"))
        names = list(getattr(net, "names", []))
        wanted = g.pop("targets")
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            raise ValueError(f"guidance targets {unknown} are not attributes of the classifier ({names})")
        targets = [float(wanted[n]) if n in wanted else float("nan") for n in names]
        # mminvert classifiers read [-1, 1] images: identity normalisation
        terms.append(AttributeGuidance(net, targets, mean=(0.5,) * 3, std=(0.5,) * 3, **g))
    return terms


def _magec(cfg: DictConfig, model: torch.nn.Module, device: torch.device, skipped: dict[str, str]) -> Any:
    from .semantic import build_magec, ecs_distance

    options = OmegaConf.to_container(cfg.magec, resolve=True)
    net = options.pop("lpips_net", None)
    perceptual = _lpips_term(cfg, net, device, skipped, "magec LPIPS term", "off") if net else None
    if perceptual is None and options.get("lpips_offline_fallback", True):
        perceptual, label = ecs_distance(None)
        skipped["magec LPIPS term"] = f"replaced by the {label}"
    options.pop("lpips_offline_fallback", None)
    if not options.get("identity"):
        skipped["magec ID term"] = "off: no `magec.identity` network given"
    G = copy.deepcopy(model.generator).to(device)
    return GeneratorBaseline("magec", build_magec(options, G, perceptual), device)


def _contextual_inversion(cfg: DictConfig, model: torch.nn.Module, device: torch.device,
                          skipped: dict[str, str]) -> Any:
    options = OmegaConf.to_container(cfg.contextual_inversion, resolve=True)
    d_path = options.pop("discriminator", None)
    note = None
    wgan = options.pop("wgan_gp", None)
    if wgan:  # the seed's route: a WGAN-GP's z space with its critic as the prior
        from ..baselines.wgan_gp import load_wgan_gp

        generator, discriminator = load_wgan_gp(wgan, map_location=device)
    else:
        generator = copy.deepcopy(model.generator).to(device)
        discriminator = load_discriminator(d_path, map_location=device) if d_path else None
        bundled = None if d_path else bundled_generator_name(model.generator)
        if bundled in bundled_discriminator_names():  # a bundled generator: its shipped D is the default prior
            discriminator = load_discriminator(bundled, map_location=device)
            note = (f"prior: the bundled {bundled} discriminator (trained post hoc against the frozen generator, "
                    "not jointly; docs/stylegan2_training.md), used because no contextual_inversion.discriminator "
                    "was given")
            log.info("contextual_inversion %s", note)
    if discriminator is None:
        skipped["contextual_inversion prior"] = "off: no `contextual_inversion.discriminator` file given"
    inversion = ContextualInversion(generator, discriminator, **options)
    return GeneratorBaseline("contextual_inversion", inversion, device, note=note)


BASELINES: dict[str, Builder] = {
    "telea": _telea,                                  # cv2.inpaint, Telea's fast marching method
    "optim_inversion": _optim_inversion,              # Wauquiez: Adam on W+ of the model's generator
    "contextual_inversion": _contextual_inversion,    # Yeh / Vitoria: z optimisation + Poisson blend
    "magec": _magec,                                  # Grechka et al.: W+ optimisation + LinkNet edit consistency
}


def check_baseline_names(names: list[str]) -> None:
    """ValueError listing every name of `names` (evaluate.yaml `baselines`) that is not a row of BASELINES."""
    unknown = [b for b in names if b not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; available: {list(BASELINES)}")


def build_baseline(name: str, cfg: DictConfig, model: torch.nn.Module, device: torch.device,
                   skipped: dict[str, str]) -> Any:
    """The reference row `name`, built from its `cfg.<name>` settings (conf/baseline_settings/)."""
    check_baseline_names([name])
    return BASELINES[name](cfg, model, device, skipped)
