"""DiverseInversion: diverse inpainting by GAN inversion with a mixing network (Yildirim et al., ICCV 2023).

    encoder   W^enc = E(I ⊙ M, M) + w̄                         (encoder.py; no normalisation layers)
    random    W^rand = Ma(z), z ~ N(0, I), the frozen mapping network, no truncation
    mixing    (W^comb, g) = NN(W^enc, W^rand);  W^out = σ(g)·W^comb + (1 − σ(g))·W^rand   (mixing.py)
    stage 1   Î = G(W^out);  composite I^f = I ⊙ M + Î ⊙ (1 − M)
    stage 2   S(cat(I^f_stage1, M, I ⊙ M)) -> (G_add, G_mult) at R/2, R/4, R/8;  Î = G(W^out; G_f ← G_f + G_f ⊙ G_mult
              + G_add)                                            (skip_encoder.py; E and the mixing network frozen)
Each new z gives another fill of the same hole: `sample` encodes once and draws K codes. An edit moves W^out
along a latent direction before synthesis (`ws_edit`). The StyleGAN2 generator is frozen (never trained, always
in eval mode, in the state dict so a checkpoint is self-contained).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ..stylegan2 import StyleGAN2Generator
from ..stylegan2.synthesis import NOISE_MODES
from ..utils import to_plain
from .encoder import DiverseEncoder
from .mixing import MixingNetwork
from .skip_encoder import SkipEncoder

__all__ = ["DiverseInversion", "WsEdit"]

# An edit of W^out before synthesis: a function ws -> ws, or an offset added to ws (broadcast to (B, num_ws, w_dim)).
WsEdit = Callable[[Tensor], Tensor] | Tensor
STAGES = (1, 2)


class DiverseInversion(nn.Module):
    """batch dict (image (B,3,R,R) in [-1,1], mask (B,1,R,R) 1 = known) -> dict with `image` (raw generator
    output), `composite`, `ws` W^out (B,num_ws,w_dim), `w_enc`, `w_rand`, `w_comb`, `gate` (logits or None) and,
    in stage 2, `stage1_image`.

    `encoder`, `mixing`, `skip_encoder`: keyword arguments of DiverseEncoder / MixingNetwork / SkipEncoder (plain
    data, so `architecture()` rebuilds the model). The skip encoder is built in both stages (stage-1 checkpoints
    then initialise stage 2 completely); `stage` says whether it is used. Stage 2 freezes E and the mixing network.
    Generator noise: `train_noise_mode` while training, `noise_mode` (const: deterministic fills) otherwise.
    """

    supports_sampling = True

    def __init__(self, generator: StyleGAN2Generator, encoder: dict[str, Any] | None = None,
                 mixing: dict[str, Any] | None = None, skip_encoder: dict[str, Any] | None = None, stage: int = 1,
                 noise_mode: str = "const", train_noise_mode: str = "const") -> None:
        super().__init__()
        for name, mode in (("noise_mode", noise_mode), ("train_noise_mode", train_noise_mode)):
            if mode not in NOISE_MODES:
                raise ValueError(f"{name} must be one of {NOISE_MODES}, got {mode!r}")
        if int(stage) not in STAGES:
            raise ValueError(f"stage must be 1 or 2, got {stage!r}")
        self.config = to_plain(dict(encoder=dict(encoder or {}), mixing=dict(mixing or {}),
                                    skip_encoder=dict(skip_encoder or {}), stage=int(stage), noise_mode=noise_mode,
                                    train_noise_mode=train_noise_mode))
        self.generator = generator.freeze()
        R, L, D = generator.resolution, generator.num_ws, generator.w_dim
        self.encoder = DiverseEncoder(R, L, D, **self.config["encoder"])
        self.mixing = MixingNetwork(L, D, **self.config["mixing"])
        self.skip_encoder = SkipEncoder(R, generator.channels, **self.config["skip_encoder"])
        self.stage = int(stage)
        self.noise_mode, self.train_noise_mode = noise_mode, train_noise_mode
        if self.stage == 2:  # [paper:diverse-stage-2] E (and the mixing network) stay as stage 1 trained them
            self.encoder.requires_grad_(False)
            self.mixing.requires_grad_(False)

    # ------------------------------------------------------------------------------ (de)serialisation
    def architecture(self) -> dict[str, Any]:
        """Plain-data description that rebuilds this model without Hydra (see `from_architecture`)."""
        return {"model_class": "DiverseInversion", "generator": dict(self.generator.config),
                "model": to_plain(dict(self.config))}

    @classmethod
    def from_architecture(cls, arch: dict[str, Any]) -> DiverseInversion:
        """An untrained model of the described architecture (load a state dict into it)."""
        if arch.get("model_class") != "DiverseInversion":
            raise ValueError(f"not a DiverseInversion architecture (model_class={arch.get('model_class')!r})")
        return cls(StyleGAN2Generator(**arch["generator"]), **arch["model"])

    # ------------------------------------------------------------------------------ frozen parts
    def train(self, mode: bool = True) -> DiverseInversion:
        super().train(mode)
        self.generator.eval()  # the frozen generator never leaves eval mode
        if self.stage == 2:
            self.encoder.eval()
            self.mixing.eval()
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Stage 1: E and the mixing network; stage 2: the skip encoder. Never the generator."""
        parts = [self.encoder, self.mixing] if self.stage == 1 else [self.skip_encoder]
        return [p for part in parts for p in part.parameters() if p.requires_grad]

    @property
    def _noise(self) -> str:
        return self.train_noise_mode if self.training else self.noise_mode

    # ------------------------------------------------------------------------------ the method
    def draw_z(self, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
        """z (B, z_dim) ~ N(0, I), from `generator` (a CPU torch.Generator) or torch's global RNG."""
        z = torch.randn(batch_size, self.generator.z_dim, generator=generator)
        return z.to(self.generator.w_avg.device)

    def map_z(self, z: Tensor) -> Tensor:
        """W^rand = Ma(z) broadcast to every style layer: (B, z_dim) -> (B, num_ws, w_dim)."""
        return self.generator.mapping(z).unsqueeze(1).expand(-1, self.generator.num_ws, -1)

    def encode(self, image: Tensor, mask: Tensor) -> Tensor:
        """W^enc (B, num_ws, w_dim) from the erased image."""
        R = self.generator.resolution
        if image.shape[-2:] != (R, R) or mask.shape[-2:] != (R, R):
            raise ValueError(f"image and mask must be {R}x{R} (the generator's resolution), got "
                             f"{tuple(image.shape[-2:])} and {tuple(mask.shape[-2:])}")
        return self.encoder(image * mask, mask) + self.generator.w_avg  # [paper:diverse-W^enc] pSp starts from w̄

    def decode(self, image: Tensor, mask: Tensor, w_enc: Tensor, w_rand: Tensor,
               ws_edit: WsEdit | None = None) -> dict[str, Any]:
        """Mix W^enc with W^rand, (edit,) synthesise, and in stage 2 refine with the skip encoder."""
        frozen = self.stage == 2
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
            mixed = self.mixing(w_enc, w_rand)
            ws = _apply_edit(mixed["ws"], ws_edit)
            out_image = self.generator.synthesis(ws, noise_mode=self._noise)
        out = dict(w_enc=w_enc, w_rand=w_rand, w_comb=mixed["w_comb"], gate=mixed["gate"], ws=ws)
        if self.stage == 2:
            first = image * mask + out_image * (1 - mask)  # the stage-1 composite
            features = self.skip_encoder(first, mask, image * mask)
            out["stage1_image"] = out_image
            out_image = self.generator.synthesis(ws, noise_mode=self._noise, features=features)
        out["image"] = out_image
        out["composite"] = image * mask + out_image * (1 - mask)  # [paper:diverse-composite] I ⊙ M + Î ⊙ (1 − M)
        return out

    def forward(self, batch: dict[str, Tensor], z: Tensor | None = None, generator: torch.Generator | None = None,
                ws_edit: WsEdit | None = None) -> dict[str, Any]:
        """One fill per input: z given, or drawn from `generator` / the global RNG."""
        image, mask = batch["image"], batch["mask"]
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.stage == 1):
            w_enc = self.encode(image, mask)
        if z is None:
            z = self.draw_z(image.shape[0], generator)
        return self.decode(image, mask, w_enc, self.map_z(z), ws_edit)

    @torch.no_grad()
    def sample(self, batch: dict[str, Tensor], num_samples: int, seed: int,
               ws_edit: WsEdit | None = None) -> dict[str, Tensor]:
        """K = num_samples fills per input: encode once, a new z per fill from torch.Generator(seed).

        -> image, composite (B, K, 3, R, R); ws (B, K, num_ws, w_dim). The same seed gives the same fills."""
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        image, mask = batch["image"], batch["mask"]
        gen = torch.Generator().manual_seed(int(seed))
        z = torch.randn(num_samples, image.shape[0], self.generator.z_dim, generator=gen).to(image.device)
        w_enc = self.encode(image, mask)
        fills = [self.decode(image, mask, w_enc, self.map_z(z[k]), ws_edit) for k in range(num_samples)]
        return {key: torch.stack([f[key] for f in fills], dim=1) for key in ("image", "composite", "ws")}


def _apply_edit(ws: Tensor, ws_edit: WsEdit | None) -> Tensor:
    if ws_edit is None:
        return ws
    if callable(ws_edit):
        out = ws_edit(ws)
        if out.shape != ws.shape:
            raise ValueError(f"ws_edit must keep the shape {tuple(ws.shape)}, returned {tuple(out.shape)}")
        return out
    return ws + ws_edit.to(ws)  # an offset along a latent direction
