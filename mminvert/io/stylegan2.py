"""Load StyleGAN2 networks from the checkpoint formats users already have, and save our own.

Formats recognised by content (never by file name alone):
- mminvert: `{"format": "mminvert.stylegan2", "generator": {"config", "state_dict"}, "discriminator"?}`
- rosinality/stylegan2-pytorch `.pt`: `{"g_ema", "d"?, "latent_avg"?}` or a bare `g_ema` state dict
- NVlabs stylegan2-ada-pytorch: `.pkl` network snapshot (restricted unpickling, see safe_pickle.py),
  or a `.pt` state dict with its key names, as `{"G_ema": sd, "D"?: sd}` or bare.
`.pt` files are read with `torch.load(weights_only=True)`: no code in them runs.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from ..utils.assets import bundled_names
from . import nvlabs, rosinality
from .atomic import atomic_torch_save
from .checkpoint_file import read_checkpoint, resolve_file
from .errors import CheckpointError
from .formats import STYLEGAN2_FORMAT
from .safe_pickle import PersistentStub, flatten_stub_tensors

__all__ = ["build_generator", "load_generator", "load_discriminator", "save_stylegan2", "export_rosinality",
           "FORMAT", "save_discriminator",
           "bundled_generator_name", "bundled_discriminator_names"]

log = logging.getLogger(__name__)
FORMAT = STYLEGAN2_FORMAT
def bundled_discriminator_names() -> list[str]:
    """Names `load_discriminator` resolves to a shipped file (that is present)."""
    return sorted(n for n, p in bundled_names("discriminator").items() if p.is_file())


def bundled_generator_name(generator: torch.nn.Module, rtol: float = 2e-3, atol: float = 1e-6) -> str | None:
    """The bundled name whose generator `generator` is (same tensors; `rtol` lets a float16 copy, as in the
    app's bundled inpainter, still match), else None."""
    own = {k: v.detach().float().cpu() for k, v in generator.state_dict().items()}
    for name, path in sorted(bundled_names("generator").items()):
        if not path.is_file():
            continue
        ref = load_generator(path).state_dict()
        if set(ref) == set(own) and all(ref[k].shape == own[k].shape and torch.allclose(own[k], ref[k].float(),
                                                                                          rtol=rtol, atol=atol)
                                        for k in ref):
            return name
    return None


def _tensor_dict(obj: Any) -> dict[str, Tensor] | None:
    if isinstance(obj, PersistentStub):
        return flatten_stub_tensors(obj)
    if isinstance(obj, dict) and obj and all(isinstance(v, Tensor) for v in obj.values()):
        return dict(obj)
    return None


def _parse(obj: Any, p: Path, which: str) -> tuple[dict, dict[str, Tensor], str]:
    """-> (config, our state dict, format name) of the generator ('G') or discriminator ('D')."""
    if not isinstance(obj, dict):
        raise CheckpointError(p, f"unknown format: top level is a {type(obj).__name__}, expected a dict")
    try:
        if obj.get("format") == FORMAT:
            entry = obj.get("generator" if which == "G" else "discriminator")
            if entry is None:
                raise CheckpointError(p, f"mminvert checkpoint has no {_name(which)}")
            return dict(entry["config"]), dict(entry["state_dict"]), "mminvert"
        if which == "G":
            return _parse_generator(obj, p)
        return _parse_discriminator(obj, p)
    except KeyError as e:
        raise CheckpointError(p, f"state dict is missing key {e}: incomplete or not a StyleGAN2 "
                                 f"{_name(which)}") from None
    except ValueError as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(p, str(e)) from None


def _name(which: str) -> str:
    return "generator" if which == "G" else "discriminator"


def _parse_generator(obj: dict, p: Path) -> tuple[dict, dict[str, Tensor], str]:
    if "g_ema" in obj and (sd := _tensor_dict(obj["g_ema"])) is not None and rosinality.is_rosinality_generator(sd):
        cfg = rosinality.rosinality_generator_config(sd)
        return cfg, rosinality.rosinality_to_generator(sd, obj.get("latent_avg")), "rosinality"
    for key in ("G_ema", "G"):
        if key in obj and (sd := _tensor_dict(obj[key])) is not None and nvlabs.is_nvlabs_generator(sd):
            cfg = nvlabs.nvlabs_generator_config(sd)
            stub = obj[key]
            if isinstance(stub, PersistentStub):
                lr = stub.init_kwargs.get("mapping_kwargs", {}).get("lr_multiplier")
                if lr is not None:
                    cfg["mapping_lr_mul"] = float(lr)
            return cfg, nvlabs.nvlabs_to_generator(sd), "nvlabs"
    sd = _tensor_dict(obj)
    if sd is not None:
        if rosinality.is_rosinality_generator(sd):
            return rosinality.rosinality_generator_config(sd), rosinality.rosinality_to_generator(sd), "rosinality"
        if nvlabs.is_nvlabs_generator(sd):
            return nvlabs.nvlabs_generator_config(sd), nvlabs.nvlabs_to_generator(sd), "nvlabs"
    keys = ", ".join(map(str, list(obj)[:8]))
    raise CheckpointError(p, f"unknown format: no StyleGAN2 generator found (top-level keys: {keys})")


def _parse_discriminator(obj: dict, p: Path) -> tuple[dict, dict[str, Tensor], str]:
    if "d" in obj and (sd := _tensor_dict(obj["d"])) is not None:
        return rosinality.rosinality_discriminator_config(sd), rosinality.rosinality_to_discriminator(sd), "rosinality"
    if "D" in obj and (sd := _tensor_dict(obj["D"])) is not None and nvlabs.is_nvlabs_discriminator(sd):
        cfg = nvlabs.nvlabs_discriminator_config(sd)
        if isinstance(obj["D"], PersistentStub):
            mbstd = obj["D"].init_kwargs.get("epilogue_kwargs", {}).get("mbstd_group_size")
            if mbstd is not None:
                cfg["mbstd_group_size"] = int(mbstd)
        return cfg, nvlabs.nvlabs_to_discriminator(sd), "nvlabs"
    raise CheckpointError(p, "the file holds no discriminator (rosinality 'd', NVlabs 'D' or mminvert)")


def _build(cls: Callable[..., torch.nn.Module], cfg: dict, sd: dict[str, Tensor], p: Path, fmt: str) -> Any:
    net = cls(**cfg)
    own = net.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    if missing or unexpected:
        raise CheckpointError(p, f"{fmt} state dict does not match the inferred network: missing "
                                 f"{missing[:5]}, unexpected {unexpected[:5]}")
    for k, v in sd.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise CheckpointError(p, f"tensor '{k}' has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}")
    net.load_state_dict({k: v.float() for k, v in sd.items()})
    return net.eval()


def _check_expectations(p: Path, cfg: dict, expect: dict[str, Any]) -> None:
    for key, want in expect.items():
        if want is not None and cfg.get(key) != want:
            raise CheckpointError(p, f"checkpoint has {key}={cfg.get(key)}, but {key}={want} was asked for")


# ---------------------------------------------------------------------------------------- public API

def load_generator(path: str | Path, map_location: str | torch.device = "cpu", *, resolution: int | None = None,
                   img_channels: int | None = None, w_dim: int | None = None,
                   compute_w_avg: int = 10000) -> StyleGAN2Generator:
    """StyleGAN2 generator (eval mode) from any supported file, format detected from its content.

    Architecture (resolution, z/w dims, mapping depth, widths) is inferred from the tensors;
    `resolution`/`img_channels`/`w_dim`, when given, must match or a CheckpointError is raised.
    When the file has no mean latent, w_avg is computed from `compute_w_avg` samples (logged).
    """
    p = resolve_file(path)
    cfg, sd, fmt = _parse(read_checkpoint(p, map_location), p, "G")
    _check_expectations(p, cfg, dict(resolution=resolution, img_channels=img_channels, w_dim=w_dim))
    w_avg_missing = "mapping.w_avg" not in sd
    if w_avg_missing:
        sd["mapping.w_avg"] = torch.zeros(cfg["w_dim"])
    G = _build(StyleGAN2Generator, cfg, sd, p, fmt).to(map_location)
    if w_avg_missing:
        log.info("%s: no mean latent in the file; computing w_avg from %d samples of z", p, compute_w_avg)
        G.w_avg = G.mean_latent(compute_w_avg)
    log.debug("loaded %s generator from %s: %s", fmt, p, cfg)
    return G


def build_generator(pretrained: bool, path: str | None = None, freeze: bool = True, **architecture: Any
                    ) -> StyleGAN2Generator:
    """Generator from config: `pretrained: true` loads `path` (any supported format); `pretrained: false`
    builds a randomly initialised network from `architecture` and says so in a warning — random
    generators are for tests and smoke runs, inverting into one cannot inpaint anything meaningful."""
    if pretrained:
        if not path:
            raise CheckpointError(None, "generator: pretrained=true needs `path` (a checkpoint file or bundled name)")
        if architecture:
            expect = {k: architecture[k] for k in ("resolution", "img_channels", "w_dim") if k in architecture}
            G = load_generator(path, **expect)
        else:
            G = load_generator(path)
    else:
        log.warning("generator is randomly initialised (pretrained: false): fine for tests, useless for inpainting")
        G = StyleGAN2Generator(**architecture)
        with torch.no_grad():
            G.w_avg = G.mean_latent(1000)
    return G.freeze() if freeze else G


def load_discriminator(path: str | Path, map_location: str | torch.device = "cpu") -> StyleGAN2Discriminator:
    """StyleGAN2 discriminator (eval mode) from a file that has one (rosinality 'd', NVlabs 'D', ours), or a
    bundled name ("scenes64": the discriminator of the bundled scenes64 generator, docs/stylegan2_training.md)."""
    p = resolve_file(path, bundled_names("discriminator"))
    cfg, sd, fmt = _parse(read_checkpoint(p, map_location), p, "D")
    return _build(StyleGAN2Discriminator, cfg, sd, p, fmt).to(map_location)


def save_stylegan2(path: str | Path, generator: StyleGAN2Generator,
                   discriminator: StyleGAN2Discriminator | None = None, **extra: Any) -> Path:
    """Write our format (config + state dicts), readable with weights_only. Atomic."""
    obj: dict[str, Any] = {"format": FORMAT, "version": 1,
                           "generator": {"config": generator.config, "state_dict": _cpu(generator.state_dict())}}
    if discriminator is not None:
        obj["discriminator"] = {"config": discriminator.config, "state_dict": _cpu(discriminator.state_dict())}
    obj.update(extra)
    return atomic_torch_save(obj, path)


def save_discriminator(path: str | Path, discriminator: StyleGAN2Discriminator, **extra: Any) -> Path:
    """Write a discriminator alone in our format (config + state dict; `load_discriminator` reads it). Atomic."""
    obj: dict[str, Any] = {"format": FORMAT, "version": 1,
                           "discriminator": {"config": discriminator.config,
                                             "state_dict": _cpu(discriminator.state_dict())}}
    obj.update(extra)
    return atomic_torch_save(obj, path)


def export_rosinality(path: str | Path, generator: StyleGAN2Generator,
                      discriminator: StyleGAN2Discriminator | None = None) -> Path:
    """Write a rosinality/stylegan2-pytorch checkpoint (`g_ema`, `latent_avg`, `d`). Atomic."""
    if generator.z_dim != generator.w_dim:
        raise ValueError("rosinality's format needs z_dim == w_dim")
    sd = _cpu(generator.state_dict())
    obj: dict[str, Any] = {"g_ema": rosinality.generator_to_rosinality(sd, generator.config["mapping_layers"]),
                           "latent_avg": sd["mapping.w_avg"].clone()}
    if discriminator is not None:
        obj["d"] = rosinality.discriminator_to_rosinality(_cpu(discriminator.state_dict()))
    return atomic_torch_save(obj, path)


def _cpu(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: v.detach().cpu().clone() for k, v in sd.items()}


