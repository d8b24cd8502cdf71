"""The training objective L = L_inp + λ_ms·L_ms + λ_fid·L_fid as a dict of named, weighted terms."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hydra.utils import instantiate
from torch import Tensor, nn

from .adversarial import NonSaturatingAdversarial
from .multiscale import MultiScaleLoss

__all__ = ["InpaintingLoss"]

log = logging.getLogger(__name__)


class InpaintingLoss(nn.Module):
    """Built from `{name: {_target_, weight, ...}}` configs; a term with weight 0 (or null) is not built.

    `forward(out, batch)` -> {name: weight · term} plus `total`; each name is logged as
    `train/loss_<name>`. The adversarial term's discriminator is reached through `adversarial`.
    """

    def __init__(self, terms: Mapping[str, Any]) -> None:
        super().__init__()
        self.terms = nn.ModuleDict()
        for name, cfg in terms.items():
            if cfg is None or float(cfg.get("weight", 0.0)) == 0.0:
                continue
            self.terms[name] = cfg if isinstance(cfg, nn.Module) else instantiate(cfg)
        perc = [t for t in self.terms.values() if hasattr(t, "distance")]
        self._perceptual = perc[0] if perc else None
        for t in self.terms.values():
            if isinstance(t, MultiScaleLoss) and t.perceptual_weight and self._perceptual is None:
                log.warning("the multi-scale term's perceptual part is skipped: no perceptual term is built "
                            "(its weight is 0)")

    @property
    def adversarial(self) -> NonSaturatingAdversarial | None:
        adv = [t for t in self.terms.values() if isinstance(t, NonSaturatingAdversarial)]
        return adv[0] if adv else None

    def forward(self, out: dict[str, Any], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        losses: dict[str, Tensor] = {}
        for name, term in self.terms.items():
            value = term(out, batch, self._perceptual) if isinstance(term, MultiScaleLoss) else term(out, batch)
            losses[name] = term.weight * value
        losses["total"] = sum(losses.values())  # [paper:L] L_inp + λ_ms·L_ms + λ_fid·L_fid
        return losses
