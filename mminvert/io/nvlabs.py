"""NVlabs stylegan2-ada-pytorch networks (state dicts with its key names) -> mminvert networks.

Generator keys: `mapping.fc{i}`, `mapping.w_avg`, `synthesis.b{res}.{const,conv0,conv1,torgb}`.
Discriminator (resnet architecture): `b{R}.fromrgb`, `b{res}.{conv0,conv1,skip}`, `b4.{conv,fc,out}`.
Their conv weights carry no equalised-lr scale when demodulated; ours do, which demodulation cancels
(only the 1e-8 epsilon moves, far below float32 test tolerances).
"""
from __future__ import annotations

import re

from torch import Tensor

__all__ = ["is_nvlabs_generator", "nvlabs_generator_config", "nvlabs_to_generator",
           "is_nvlabs_discriminator", "nvlabs_discriminator_config", "nvlabs_to_discriminator"]


def is_nvlabs_generator(sd: dict[str, Tensor]) -> bool:
    return "mapping.fc0.weight" in sd and "synthesis.b4.const" in sd


def _resolutions(sd: dict[str, Tensor], pattern: str) -> list[int]:
    return sorted({int(m.group(1)) for k in sd if (m := re.fullmatch(pattern, k))})


def nvlabs_generator_config(sd: dict[str, Tensor]) -> dict:
    if "mapping.embed.weight" in sd:
        raise ValueError("conditional generator (mapping.embed present): class-conditional StyleGAN2 is not supported")
    res = _resolutions(sd, r"synthesis\.b(\d+)\.conv1\.weight")
    no_rgb = [r for r in res if f"synthesis.b{r}.torgb.weight" not in sd]
    if no_rgb:
        raise ValueError(f"synthesis blocks {no_rgb} have no torgb: only the 'skip' architecture is supported")
    n_map = len(_resolutions(sd, r"mapping\.fc(\d+)\.weight"))
    return dict(resolution=res[-1], z_dim=sd["mapping.fc0.weight"].shape[1],
                w_dim=sd[f"mapping.fc{n_map - 1}.weight"].shape[0], mapping_layers=n_map,
                channels={r: sd[f"synthesis.b{r}.conv1.weight"].shape[0] for r in res},
                img_channels=sd[f"synthesis.b{res[-1]}.torgb.weight"].shape[0])


def nvlabs_to_generator(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """Our generator state dict from an NVlabs `G_ema` state dict. Raises KeyError on a missing key."""
    cfg = nvlabs_generator_config(sd)
    out: dict[str, Tensor] = {"mapping.w_avg": sd["mapping.w_avg"]} if "mapping.w_avg" in sd else {}
    for i in range(cfg["mapping_layers"]):
        out[f"mapping.fcs.{i}.weight"] = sd[f"mapping.fc{i}.weight"]
        out[f"mapping.fcs.{i}.bias"] = sd[f"mapping.fc{i}.bias"]
    for j, r in enumerate(sorted(cfg["channels"])):
        src, dst = f"synthesis.b{r}", f"synthesis.blocks.{j}"
        if j == 0:
            out[f"{dst}.const"] = sd[f"{src}.const"]
        for conv in (("conv1",) if j == 0 else ("conv0", "conv1")):
            for name in ("weight", "bias", "noise_strength", "noise_const", "affine.weight", "affine.bias"):
                out[f"{dst}.{conv}.{name}"] = sd[f"{src}.{conv}.{name}"]
        for name in ("weight", "bias", "affine.weight", "affine.bias"):
            out[f"{dst}.torgb.{name}"] = sd[f"{src}.torgb.{name}"]
    return out


def is_nvlabs_discriminator(sd: dict[str, Tensor]) -> bool:
    return "b4.out.weight" in sd and any(k.endswith(".fromrgb.weight") for k in sd)


def nvlabs_discriminator_config(sd: dict[str, Tensor]) -> dict:
    if "mapping.embed.weight" in sd or "b4.out.weight" in sd and sd["b4.out.weight"].shape[0] != 1:
        raise ValueError("conditional discriminator: class-conditional StyleGAN2 is not supported")
    res = _resolutions(sd, r"b(\d+)\.conv1\.weight")
    fromrgb = _resolutions(sd, r"b(\d+)\.fromrgb\.weight")
    if fromrgb != [res[-1]] or any(f"b{r}.skip.weight" not in sd for r in res):
        raise ValueError("only the 'resnet' discriminator architecture is supported")
    channels = {r: sd[f"b{r}.conv0.weight"].shape[0] for r in res}
    channels[4] = sd["b4.conv.weight"].shape[0]
    return dict(resolution=res[-1], channels=channels, img_channels=sd[f"b{res[-1]}.fromrgb.weight"].shape[1])


def nvlabs_to_discriminator(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """Our discriminator state dict from an NVlabs `D` state dict (resnet architecture)."""
    cfg = nvlabs_discriminator_config(sd)
    r0 = cfg["resolution"]
    out = {"fromrgb.weight": sd[f"b{r0}.fromrgb.weight"], "fromrgb.bias": sd[f"b{r0}.fromrgb.bias"]}
    for j, r in enumerate(sorted((r for r in cfg["channels"] if r > 4), reverse=True)):
        for name in ("conv0.weight", "conv0.bias", "conv1.weight", "conv1.bias", "skip.weight"):
            out[f"blocks.{j}.{name}"] = sd[f"b{r}.{name}"]
    out["final_conv.weight"], out["final_conv.bias"] = sd["b4.conv.weight"], sd["b4.conv.bias"]
    out["fc.weight"], out["fc.bias"] = sd["b4.fc.weight"], sd["b4.fc.bias"]
    out["out.weight"], out["out.bias"] = sd["b4.out.weight"], sd["b4.out.bias"]
    return out
