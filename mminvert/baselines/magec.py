"""MAGEC (Grechka, Goudou, Cord, BMVC 2021, "MAGECally invert images for realistic editing"): W+
optimisation whose latent code stays *consistent under edits*, through a linear LinkNet from latent to
semantic descriptor.

- Semantic descriptor F: a multi-label attribute classifier, logits (B, K); d = σ(F(x)).
- LinkNet L: a linear map W+ -> K logits, trained on N generated pairs (w, σ(F(G(w)))) with F's own loss
  (BCE) and F's predictions as (soft) labels (`train_linknet`).
- Edits e_i: latent edits w -> w + s_i·scale·n_i along attribute directions (`LatentDirections`), each with
  the descriptor it should produce, d_{e_i} = d with attribute k_i set to 1 (s_i > 0) or 0 (s_i < 0).
- L_MAGEC(w) = L_F(L(w), d) + mean_i L_F(L(e_i(w)), d_{e_i})
- Objective: λ_MSE·MSE + λ_LPIPS·LPIPS + λ_ID·ID + λ_MAGEC·L_MAGEC from the mean latent with Adam, lr 0.07
  × 0.8 every 25 steps, in two phases (the paper's): 100 steps with λ_MAGEC 3e-4, λ_LPIPS 0.5, λ_MSE 1e-3,
  λ_ID 3e-4, then 100 steps with λ_MSE = λ_LPIPS = 0.5 (λ_MAGEC and λ_ID keep their values: the paper only
  names the two that change). One Adam state and one lr schedule run through both phases (our reading).

For inpainting (a setting the paper does not treat) MSE, LPIPS and ID compare the known pixels only
(images multiplied by the mask), and the descriptor d of the holed image is computed by F on a classical
fill: `descriptor_input="telea"` (default: OpenCV Telea inpainting of the hole) or "known" (the hole set
to 0, i.e. mid-grey). The identity term needs a user network (none ships: off when None). Images are in
[-1, 1], so MSE is on that range (the paper's figures are on its own scale).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F_
from torch import Tensor, nn

from ..editing.directions import LatentDirections
from ..stylegan2 import StyleGAN2Generator
from ..stylegan2.style_mixing import mix_styles
from .inputs import PerImageInversion, mean_latent_start, prepare_inputs
from .optim_inversion import OptimInversion, Perceptual
from .telea import telea_fill

__all__ = ["LinkNet", "train_linknet", "magec_loss", "MagecPhase", "PAPER_PHASES", "MagecInversion",
           "descriptor_of_holed_image"]


class LinkNet(nn.Module):
    """Linear map from a W+ code (B, num_ws, w_dim) (or a W code (B, w_dim), broadcast to every layer) to
    descriptor logits (B, K): L(w) = A·vec(w) + c."""

    def __init__(self, num_ws: int, w_dim: int, num_attributes: int) -> None:
        super().__init__()
        self.num_ws, self.w_dim = num_ws, w_dim
        self.linear = nn.Linear(num_ws * w_dim, num_attributes)

    def forward(self, ws: Tensor) -> Tensor:
        if ws.ndim == 2:
            ws = ws.unsqueeze(1).expand(-1, self.num_ws, -1)
        if ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"LinkNet reads (B, {self.num_ws}, {self.w_dim}) codes, got {tuple(ws.shape)}")
        return self.linear(ws.flatten(1))


@torch.no_grad()
def _generated_pairs(G: StyleGAN2Generator, F: nn.Module, n: int, mixing_prob: float, batch: int,
                     gen: torch.Generator) -> tuple[Tensor, Tensor]:
    ws, ds = [], []
    device = G.w_avg.device
    for i in range(0, n, batch):
        b = min(batch, n - i)
        w1 = G.mapping(torch.randn(b, G.z_dim, generator=gen).to(device))
        w2 = G.mapping(torch.randn(b, G.z_dim, generator=gen).to(device))
        with torch.random.fork_rng():  # mix_styles draws from the global RNG: seed it from ours
            torch.manual_seed(int(torch.randint(2**31, (1,), generator=gen)))
            w = mix_styles(w1, w2, G.num_ws, mixing_prob)
        ws.append(w)
        ds.append(torch.sigmoid(F(G.synthesis(w, noise_mode="const"))))
    return torch.cat(ws), torch.cat(ds)


def train_linknet(G: StyleGAN2Generator, F: nn.Module, num_samples: int = 2000, steps: int = 2000, lr: float = 1e-2,
                  batch_size: int = 256, mixing_prob: float = 0.5, seed: int = 0) -> tuple[LinkNet, dict[str, float]]:
    """LinkNet from `num_samples` generated (W+ code, σ(F(G(w)))) pairs — codes style-mixed with
    `mixing_prob` so every layer carries information — fitted with BCE (F's loss) to F's predictions by
    Adam. Returns the network (frozen) and {"train_bce", "agreement"}: final BCE and the share of
    (sample, attribute) pairs where L and F agree on the side of 0.5."""
    gen = torch.Generator().manual_seed(seed)
    ws, d = _generated_pairs(G, F, num_samples, mixing_prob, 64, gen)
    K = d.shape[1]
    link = LinkNet(G.num_ws, G.w_dim, K).to(ws.device)
    with torch.no_grad():  # start from the prior log-odds: faster, and not needed for correctness
        link.linear.weight.zero_()
        p = d.mean(0).clamp(1e-4, 1 - 1e-4)
        link.linear.bias.copy_(torch.log(p / (1 - p)))
    opt = torch.optim.Adam(link.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(len(ws), (min(batch_size, len(ws)),), generator=gen).to(ws.device)
        loss = F_.binary_cross_entropy_with_logits(link(ws[idx]), d[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        logits = link(ws)
        stats = {"train_bce": float(F_.binary_cross_entropy_with_logits(logits, d)),
                 "agreement": float(((logits > 0) == (d > 0.5)).float().mean())}
    return link.requires_grad_(False).eval(), stats


def magec_loss(link: Callable[[Tensor], Tensor], ws: Tensor, d: Tensor, directions: LatentDirections,
               edits: Sequence[tuple[str, float]]) -> Tensor:
    """Per-sample L_MAGEC (B,) = BCE(L(w), d) + mean_i BCE(L(e_i(w)), d_{e_i}); BCE is averaged over the K
    attributes; d (B, K) in [0, 1]; edits [(attribute, strength)], strength sign = add (+) / remove (−)."""
    def bce(logits: Tensor, target: Tensor) -> Tensor:
        return F_.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(1)

    loss = bce(link(ws), d)
    if edits:
        edited = []
        for attribute, strength in edits:
            k = directions.index(attribute)
            d_e = d.clone()
            d_e[:, k] = 1.0 if strength > 0 else 0.0
            edited.append(bce(link(directions.edit(ws, attribute, strength)), d_e))
        loss = loss + torch.stack(edited).mean(0)
    return loss


@dataclass(frozen=True)
class MagecPhase:
    """One phase of the schedule: `steps` Adam steps with these weights."""

    steps: int
    mse: float
    lpips: float
    id: float
    magec: float


PAPER_PHASES = (MagecPhase(100, mse=1e-3, lpips=0.5, id=3e-4, magec=3e-4),
                MagecPhase(100, mse=0.5, lpips=0.5, id=3e-4, magec=3e-4))


@torch.no_grad()
def descriptor_of_holed_image(F: nn.Module, image: Tensor, mask: Tensor, how: str = "telea") -> Tensor:
    """d = σ(F(x̃)) (B, K) of an image with a hole: x̃ = Telea fill ("telea") or x ⊙ M ("known")."""
    if how == "telea":
        x = telea_fill(image, mask)
    elif how == "known":
        x = image * (mask > 0.5).to(image.dtype)
    else:
        raise ValueError(f"descriptor_input must be 'telea' or 'known', got {how!r}")
    return torch.sigmoid(F(x))


class MagecInversion(PerImageInversion):
    """`MagecInversion(G, F, directions, edits, ...)(image, mask) -> dict` — MAGEC W+ inversion for inpainting.

    Inputs as `OptimInversion`. `linknet`: a trained LinkNet, or None to train one at construction on
    `linknet_samples` generated pairs (`train_linknet`; its stats in `.linknet_stats`). `phases`: the schedule
    (default `PAPER_PHASES`); `lambda_magec=0` in every phase gives the same optimisation without MAGEC.
    `perceptual`: LPIPS-like term as in OptimInversion (None: the LPIPS term is off); `identity`: callable
    (x, y) -> per-sample distance (None: off). Returns `image`, `composite`, `ws`, `descriptor` d, and
    per-step batch-mean histories `loss`, `loss_mse`, `loss_perceptual`, `loss_id`, `loss_magec`, `lr`.
    """

    def __init__(self, generator: StyleGAN2Generator, descriptor: nn.Module, directions: LatentDirections,
                 edits: Sequence[tuple[str, float]] = (), linknet: LinkNet | None = None,
                 phases: Sequence[MagecPhase] = PAPER_PHASES, lr: float = 0.07, lr_decay: float = 0.8,
                 lr_every: int = 25, perceptual: Perceptual | None = None,
                 identity: Callable[[Tensor, Tensor], Tensor] | None = None, descriptor_input: str = "telea",
                 linknet_samples: int = 2000, linknet_steps: int = 2000, seed: int = 0) -> None:
        if descriptor_input not in ("telea", "known"):
            raise ValueError(f"descriptor_input must be 'telea' or 'known', got {descriptor_input!r}")
        if lr <= 0 or not 0 < lr_decay <= 1 or lr_every < 1:
            raise ValueError(f"need lr > 0, 0 < lr_decay <= 1, lr_every >= 1; got {lr}, {lr_decay}, {lr_every}")
        self.generator = generator.freeze()
        self.descriptor = descriptor.eval()
        for p in self.descriptor.parameters():
            p.requires_grad_(False)
        self.directions, self.edits = directions, [(str(a), float(s)) for a, s in edits]
        for a, s in self.edits:
            directions.index(a)  # unknown attributes fail here, not mid-run
            if s == 0:
                raise ValueError(f"edit strength of {a!r} must be non-zero (its sign says add or remove)")
        self.phases = [p if isinstance(p, MagecPhase) else MagecPhase(**p) for p in phases]
        self.lr, self.lr_decay, self.lr_every = lr, lr_decay, lr_every
        self._distance = OptimInversion._resolve_distance(perceptual)
        self.identity, self.descriptor_input = identity, descriptor_input
        self.linknet_stats: dict[str, float] = {}
        uses_magec = any(p.magec != 0 for p in self.phases)
        if linknet is None and uses_magec:
            linknet, self.linknet_stats = train_linknet(self.generator, self.descriptor, linknet_samples,
                                                        linknet_steps, seed=seed)
        self.linknet = linknet

    def invert(self, image: Tensor, mask: Tensor) -> dict[str, Any]:
        G = self.generator
        y, M, known, y_masked = prepare_inputs(G, image, mask)
        device, B = y.device, y.shape[0]
        d = descriptor_of_holed_image(self.descriptor.to(device), y, M, self.descriptor_input)
        ws = mean_latent_start(G, B)
        opt = torch.optim.Adam([ws], lr=self.lr)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=self.lr_every, gamma=self.lr_decay)
        link = self.linknet.to(device) if self.linknet is not None else None
        hist: dict[str, list[Tensor]] = {k: [] for k in ("loss", "loss_mse", "loss_perceptual", "loss_id",
                                                          "loss_magec", "lr")}
        zero = torch.zeros(B, device=device)
        for phase in self.phases:
            for _ in range(phase.steps):
                lr_now = opt.param_groups[0]["lr"]
                out = G.synthesis(ws, noise_mode="const")
                mse = ((out - y).square() * M).flatten(1).sum(1) / known
                perc = (OptimInversion._per_sample(self._distance, out * M, y_masked)
                        if self._distance is not None and phase.lpips != 0 else zero)
                ident = (self.identity(out * M, y_masked).reshape(B)
                         if self.identity is not None and phase.id != 0 else zero)
                mag = magec_loss(link, ws, d, self.directions, self.edits) if link is not None and phase.magec != 0 else zero
                # λ_MSE·MSE + λ_LPIPS·LPIPS + λ_ID·ID + λ_MAGEC·L_MAGEC
                loss = phase.mse * mse + phase.lpips * perc + phase.id * ident + phase.magec * mag
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()
                opt.step()
                sched.step()
                for k, v in zip(hist, (loss, mse, perc, ident, mag)):
                    hist[k].append(v.detach().mean())
                hist["lr"].append(torch.tensor(lr_now))
        ws = ws.detach()
        with torch.no_grad():
            out = G.synthesis(ws, noise_mode="const").to(image.dtype).to(image.device)
        composite = torch.where((mask > 0.5).to(image.device), image, out)
        res = {k: torch.stack(v).cpu() if v else torch.zeros(0) for k, v in hist.items()}
        return {"image": out, "composite": composite, "ws": ws.to(image.device), "descriptor": d.to(image.device), **res}
