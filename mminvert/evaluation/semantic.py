"""evaluate.py's semantic parts, built from their config sections: the MAGEC baseline (`magec:`), the
attribute directions it and the edit-consistency score use, and the ECS of the inverting methods (`ecs:`)."""
from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor

from ..baselines import MagecInversion, MagecPhase
from ..editing import LatentDirections, load_descriptor
from ..editing.directions import fit_directions
from ..editing.write_directions import sample_latent_pairs
from ..metrics.ecs import mean_ecs_per_edit
from ..stylegan2 import StyleGAN2Generator

__all__ = ["build_directions", "build_magec", "ecs_distance", "method_ecs", "ecs_edit_scores"]

log = logging.getLogger(__name__)


def build_directions(path: str | None, G: StyleGAN2Generator, descriptor: torch.nn.Module, num_samples: int,
                     names: list[str] | None = None) -> LatentDirections:
    """A directions file (or bundled name), checked against G's w_dim; None = fitted now on `num_samples`
    generated samples of G labelled by the descriptor."""
    if path:
        d = LatentDirections.load(path)
        if d.normals.shape[1] != G.w_dim:
            raise ValueError(f"directions {path} are {d.normals.shape[1]}-d, the generator's w is {G.w_dim}-d: fit "
                             "directions for this generator (python -m mminvert.editing.write_directions) or set null")
        return d
    ws, probs = sample_latent_pairs(G, descriptor, num_samples)
    names = list(getattr(descriptor, "names", None) or names or [f"attr{k}" for k in range(probs.shape[1])])
    return fit_directions(ws, probs, names)


def _edits(raw: Any) -> list[tuple[str, float]]:
    return [(str(a), float(s)) for a, s in (raw or [])]


def build_magec(options: dict[str, Any], G: StyleGAN2Generator, perceptual: Any) -> MagecInversion:
    """`magec:` options -> MagecInversion on G (a copy the caller owns)."""
    opts = dict(options)
    descriptor = load_descriptor(opts.pop("classifier"))
    directions = build_directions(opts.pop("directions", None), G, descriptor, int(opts.get("linknet_samples", 2000)))
    phases = [MagecPhase(**p) for p in opts.pop("phases")]
    lam = opts.pop("lambda_magec", None)
    if lam is not None:  # one λ_MAGEC for every phase (0: the same optimisation without MAGEC)
        phases = [MagecPhase(p.steps, p.mse, p.lpips, p.id, float(lam)) for p in phases]
    identity = opts.pop("identity", None)
    if identity:
        identity = torch.jit.load(str(identity), map_location="cpu").eval()
    return MagecInversion(G, descriptor, directions, _edits(opts.pop("edits")), phases=phases, perceptual=perceptual,
                          identity=identity, **opts)


def ecs_distance(lpips: Any) -> tuple[Any, str]:
    """The ECS distance: the evaluation's LPIPS when it has pretrained weights, else LPIPS with a random
    AlexNet backbone (the package's learned linear layers), named as the offline fallback."""
    if lpips is not None:
        return lpips, f"LPIPS-{lpips.net_name}"
    from ..metrics import LPIPSMetric

    torch.manual_seed(0)  # the same random backbone in every run
    return LPIPSMetric("alex", pretrained=False, allow_random=True), "offline fallback: LPIPS-alex with a random backbone"


def method_ecs(inversion: Any, G: StyleGAN2Generator, image: Tensor, mask: Tensor, directions: LatentDirections,
               edits: Any, distance: Any) -> dict[str, float]:
    """Mean ECS per edit of one inverting method on (image, mask)."""
    device = next(iter(G.parameters())).device

    def render(ws: Tensor) -> Tensor:
        return G.synthesis(ws.to(device), noise_mode="const").cpu()

    def edit(ws: Tensor, attribute: str, s: float) -> Tensor:
        return directions.edit(ws, attribute, s)

    def invert(x: Tensor, m: Tensor) -> dict[str, Any]:
        out = inversion(x.to(device), m.to(device))
        return {"ws": out["ws"].cpu()}

    return mean_ecs_per_edit(invert, render, image, mask, _edits(edits), edit, lambda a, b: distance(a, b))


def ecs_edit_scores(cfg: Any, methods: list[Any], generator: StyleGAN2Generator, batch: dict[str, Tensor],
                    lpips: Any, skipped: dict[str, str]) -> dict[str, Any]:
    """`ecs:` section -> {"distance", "num_images", method: {edit: mean ECS}} for every method whose inversion
    returns W+ codes, on the first `num_images` images of `batch`."""
    import copy

    n = int(cfg.get("num_images", 4))
    image, mask = batch["image"][:n], batch["mask"][:n]
    distance, label = ecs_distance(lpips)
    G = copy.deepcopy(generator).freeze()
    descriptor = load_descriptor(cfg.get("classifier", "scenes64"))
    directions = build_directions(cfg.get("directions"), G, descriptor, int(cfg.get("fit_samples", 2000)))
    out: dict[str, Any] = {"distance": label, "num_images": int(image.shape[0])}
    for m in methods:
        inversion = getattr(m, "inversion", None)
        if inversion is None or not hasattr(inversion, "generator") or not hasattr(inversion.generator, "synthesis"):
            skipped[f"ecs {m.name}"] = "not a W+ inversion of the generator"
            continue
        out[m.name] = method_ecs(inversion, inversion.generator, image, mask, directions, cfg["edits"], distance)
        log.info("ECS %s: %s", m.name, out[m.name])
    return out
