"""MMInvertFill: the multi-modal guided encoder inverted into a frozen StyleGAN2 (F&W+ latent space).

    encoder      MGE(batch) -> RGB-branch features F_s and structure maps P_s at H/4, H/2, H
    map2style    F_s -> style codes of group s (coarse ← H/4, middle ← H/2, fine ← H)
    map2struct   P_s -> structure vector s_s;  pre-modulation w' = γ(s) ⊙ IN(w) + β(s)
    SML          W+ = w' + w̄_onl
    skip         F_s -> zero-initialised additive features at the generator's 3 largest resolutions
    generator    ŷ = G.synthesis(W+, features);  composite ŷ_comp = x ⊙ M + ŷ ⊙ (1 − M)
The same class with switches gives InvertFill (encoder modalities []) and pSp-style W+ inversion
(premod=False, skip=False, tau=0).
"""
from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor, nn

from ..encoder import MultiModalGuidedEncoder
from ..stylegan2 import StyleGAN2Generator
from ..stylegan2.synthesis import NOISE_MODES
from ..utils import to_plain
from .map2style import MapToVectors, style_groups
from .premod import PreModulation
from .skip import SkipInjection
from .sml import SoftMeanLatent

__all__ = ["MMInvertFill"]

log = logging.getLogger(__name__)


class MMInvertFill(nn.Module):
    """batch dict (image (B,3,R,R) in [-1,1], mask (B,1,R,R) 1 = known, optional seg/edge/mask_seg/mask_edge)
    -> dict with `image` ŷ, `composite`, `ws` (B,num_ws,w_dim), `w_mean` (w_dim,), per-scale lists `rgb`,
    `edge`, `seg` (logits), `structure`.

    The generator is frozen: no gradients for its parameters, always in eval mode, never in an optimiser
    (see `trainable_parameters`), but gradients flow through it to the encoder. Its per-layer noise follows
    this module's mode: `train_noise_mode` (default random, as the paper's generator) while training,
    `noise_mode` (default const: deterministic fills) otherwise.
    """

    def __init__(
        self,
        generator: StyleGAN2Generator,
        encoder: MultiModalGuidedEncoder,
        premod: bool = True,
        skip: bool = True,
        sml: dict[str, Any] | None = None,
        noise_mode: str = "const",
        map_hidden: int | None = None,
        train_noise_mode: str = "random",
    ) -> None:
        super().__init__()
        for name, mode in (("noise_mode", noise_mode), ("train_noise_mode", train_noise_mode)):
            if mode not in NOISE_MODES:
                raise ValueError(f"{name} must be one of {NOISE_MODES}, got {mode!r}")
        self.config = to_plain(dict(premod=premod, skip=skip, sml=dict(sml or {}), noise_mode=noise_mode,
                                    map_hidden=map_hidden, train_noise_mode=train_noise_mode))
        self.generator = generator.freeze()
        self.encoder = encoder
        R, D = generator.resolution, generator.w_dim
        self.groups = style_groups(generator.num_ws)
        widths = encoder.decoder.rgb_channels  # at R/4, R/2, R
        self.map2style = nn.ModuleList(
            MapToVectors(c, D, n, map_hidden) for c, n in zip(widths, self.groups) if n > 0)
        self.premod = None
        if premod:
            struct_in = encoder.decoder.structure_channels  # P_s: RGB + the present modalities' maps
            self.map2structure = nn.ModuleList(MapToVectors(struct_in, D, 1, map_hidden) for _ in range(3))
            self.premod = PreModulation(D, D, self.groups, map_hidden)
        self.skip = SkipInjection(widths, [R // 4, R // 2, R], generator.channels) if skip else None
        self.sml = SoftMeanLatent(D, **dict(sml or {}))
        self.sml.reset(generator.w_avg)
        self.noise_mode, self.train_noise_mode = noise_mode, train_noise_mode

    def architecture(self) -> dict[str, Any]:
        """Plain-data description that rebuilds this model without Hydra (see `from_architecture`); `model_class`
        tells the checkpoint loaders which class to rebuild (mminvert.inference.model_classes)."""
        return {"model_class": "MMInvertFill", "generator": dict(self.generator.config),
                "encoder": dict(self.encoder.config), "model": dict(self.config)}

    @classmethod
    def from_architecture(cls, arch: dict[str, Any]) -> MMInvertFill:
        """An untrained model of the described architecture (load a state dict into it). Keys that older
        stored architectures lack take the behaviour those models were trained with: encoder keys via
        `MultiModalGuidedEncoder.from_config`; a missing `train_noise_mode` means they trained with
        `noise_mode` (const)."""
        encoder = MultiModalGuidedEncoder.from_config(arch["encoder"])
        model_cfg = dict(arch["model"])
        model_cfg.setdefault("train_noise_mode", model_cfg.get("noise_mode", "const"))
        return cls(StyleGAN2Generator(**arch["generator"]), encoder, **model_cfg)

    # ---------------------------------------------------------------- frozen generator bookkeeping
    def train(self, mode: bool = True) -> MMInvertFill:
        super().train(mode)
        self.generator.eval()  # the frozen generator never leaves eval mode
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Everything but the generator (what optimisers and DDP should see)."""
        return [p for n, p in self.named_parameters() if not n.startswith("generator.") and p.requires_grad]

    @torch.no_grad()
    def update_mean_latent(self) -> Tensor:
        """Soft-update w̄_onl; call once per training step."""
        return self.sml.update(self.generator.mapping, self.generator.z_dim)

    # ---------------------------------------------------------------- forward
    def forward(self, batch: dict[str, Tensor]) -> dict[str, Any]:
        image, mask = batch["image"], batch["mask"]
        R = self.generator.resolution
        if image.shape[-2:] != (R, R) or mask.shape[-2:] != (R, R):
            raise ValueError(f"image and mask must be {R}x{R} (the generator's resolution), got "
                             f"{tuple(image.shape[-2:])} and {tuple(mask.shape[-2:])}")
        enc = self.encoder(batch)
        feats = enc["features"]  # R/4, R/2, R
        w = torch.cat([m(f) for m, f in zip(self.map2style, feats)], dim=1)  # [paper:map2style] (B, num_ws, D)
        if self.premod is not None:
            structure = [m(p).squeeze(1) for m, p in zip(self.map2structure, enc["structure"])]  # [paper:map2structure]
            w = self.premod(w, structure)
        w_mean = self.sml.online
        ws = w + w_mean  # [paper:W+] W+ = w' + w̄_onl
        features = self.skip(feats) if self.skip is not None else None
        noise_mode = self.train_noise_mode if self.training else self.noise_mode  # paper: random in training
        out_image = self.generator.synthesis(ws, noise_mode=noise_mode, features=features)
        composite = image * mask + out_image * (1 - mask)  # [paper:composite] x ⊙ M + ŷ ⊙ (1 − M)
        return dict(image=out_image, composite=composite, ws=ws, w_mean=w_mean, rgb=enc["rgb"], edge=enc["edge"],
                    seg=enc["seg"], structure=enc["structure"])
