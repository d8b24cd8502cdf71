"""rosinality/stylegan2-pytorch checkpoints (`g_ema`, `d`, `latent_avg`) <-> mminvert networks.

Key layout of that implementation: mapping `style.{1..n}`; `input.input`; `conv1`/`to_rgb1` at 4 px;
`convs.{2j}` (up-sampling), `convs.{2j+1}`, `to_rgbs.{j}` at 2^(j+3) px; noise buffers
`noises.noise_{i}`; modulated conv weights (1, Cout, Cin, k, k). Discriminator: `convs.0` (1x1 from
RGB), `convs.{j}.conv1/conv2/skip` residual blocks, `final_conv`, `final_linear.{0,1}`.
"""
from __future__ import annotations

import re

from torch import Tensor

from ..stylegan2.ops import fir_kernel

__all__ = ["is_rosinality_generator", "rosinality_generator_config", "rosinality_to_generator",
           "generator_to_rosinality", "rosinality_discriminator_config", "rosinality_to_discriminator",
           "discriminator_to_rosinality"]


def is_rosinality_generator(sd: dict[str, Tensor]) -> bool:
    return "style.1.weight" in sd and "input.input" in sd


def rosinality_generator_config(sd: dict[str, Tensor]) -> dict:
    n_mlp = len([k for k in sd if re.fullmatch(r"style\.\d+\.weight", k)])
    n_rgbs = len([k for k in sd if re.fullmatch(r"to_rgbs\.\d+\.conv\.weight", k)])
    channels = {4: sd["input.input"].shape[1]}
    for j in range(n_rgbs):
        channels[2 ** (j + 3)] = sd[f"convs.{2 * j}.conv.weight"].shape[1]
    style_dim = sd["style.1.weight"].shape[1]
    return dict(resolution=2 ** (n_rgbs + 2), z_dim=style_dim, w_dim=style_dim, mapping_layers=n_mlp,
                channels=channels, img_channels=sd["to_rgb1.conv.weight"].shape[1])


def _styled_conv(sd: dict[str, Tensor], src: str, dst: str, noise: Tensor) -> dict[str, Tensor]:
    return {
        f"{dst}.weight": sd[f"{src}.conv.weight"][0],
        f"{dst}.affine.weight": sd[f"{src}.conv.modulation.weight"],
        f"{dst}.affine.bias": sd[f"{src}.conv.modulation.bias"],
        f"{dst}.noise_strength": sd[f"{src}.noise.weight"].reshape(()),
        f"{dst}.bias": sd[f"{src}.activate.bias"],
        f"{dst}.noise_const": noise.reshape(noise.shape[-2:]),
    }


def _to_rgb(sd: dict[str, Tensor], src: str, dst: str) -> dict[str, Tensor]:
    return {
        f"{dst}.weight": sd[f"{src}.conv.weight"][0],
        f"{dst}.affine.weight": sd[f"{src}.conv.modulation.weight"],
        f"{dst}.affine.bias": sd[f"{src}.conv.modulation.bias"],
        f"{dst}.bias": sd[f"{src}.bias"].reshape(-1),
    }


def rosinality_to_generator(sd: dict[str, Tensor], latent_avg: Tensor | None = None) -> dict[str, Tensor]:
    """Our generator state dict from a rosinality `g_ema` state dict. Raises KeyError on a missing key."""
    cfg = rosinality_generator_config(sd)
    out: dict[str, Tensor] = {}
    for i in range(cfg["mapping_layers"]):
        out[f"mapping.fcs.{i}.weight"] = sd[f"style.{i + 1}.weight"]
        out[f"mapping.fcs.{i}.bias"] = sd[f"style.{i + 1}.bias"]
    if latent_avg is not None:
        out["mapping.w_avg"] = latent_avg.reshape(-1)
    out["synthesis.blocks.0.const"] = sd["input.input"][0]
    out.update(_styled_conv(sd, "conv1", "synthesis.blocks.0.conv1", sd["noises.noise_0"]))
    out.update(_to_rgb(sd, "to_rgb1", "synthesis.blocks.0.torgb"))
    n_blocks = len(cfg["channels"]) - 1
    for j in range(n_blocks):
        b = f"synthesis.blocks.{j + 1}"
        out.update(_styled_conv(sd, f"convs.{2 * j}", f"{b}.conv0", sd[f"noises.noise_{2 * j + 1}"]))
        out.update(_styled_conv(sd, f"convs.{2 * j + 1}", f"{b}.conv1", sd[f"noises.noise_{2 * j + 2}"]))
        out.update(_to_rgb(sd, f"to_rgbs.{j}", f"{b}.torgb"))
    return out


def generator_to_rosinality(sd: dict[str, Tensor], mapping_layers: int) -> dict[str, Tensor]:
    """rosinality `g_ema` state dict (including its blur-kernel buffers) from ours."""
    out: dict[str, Tensor] = {}
    for i in range(mapping_layers):
        out[f"style.{i + 1}.weight"] = sd[f"mapping.fcs.{i}.weight"]
        out[f"style.{i + 1}.bias"] = sd[f"mapping.fcs.{i}.bias"]
    out["input.input"] = sd["synthesis.blocks.0.const"][None]
    up_kernel = fir_kernel(gain=4.0)

    def conv(src: str, dst: str, up: bool) -> None:
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"][None]
        if up:
            out[f"{dst}.conv.blur.kernel"] = up_kernel.clone()
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"]
        out[f"{dst}.noise.weight"] = sd[f"{src}.noise_strength"].reshape(1)
        out[f"{dst}.activate.bias"] = sd[f"{src}.bias"]

    def rgb(src: str, dst: str, up: bool) -> None:
        out[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(1, -1, 1, 1)
        if up:
            out[f"{dst}.upsample.kernel"] = up_kernel.clone()
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"][None]
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"]

    conv("synthesis.blocks.0.conv1", "conv1", up=False)
    rgb("synthesis.blocks.0.torgb", "to_rgb1", up=False)
    noises = [sd["synthesis.blocks.0.conv1.noise_const"]]
    j = 0
    while f"synthesis.blocks.{j + 1}.conv0.weight" in sd:
        b = f"synthesis.blocks.{j + 1}"
        conv(f"{b}.conv0", f"convs.{2 * j}", up=True)
        conv(f"{b}.conv1", f"convs.{2 * j + 1}", up=False)
        rgb(f"{b}.torgb", f"to_rgbs.{j}", up=True)
        noises += [sd[f"{b}.conv0.noise_const"], sd[f"{b}.conv1.noise_const"]]
        j += 1
    for i, n in enumerate(noises):
        out[f"noises.noise_{i}"] = n[None, None]
    return out


def rosinality_discriminator_config(sd: dict[str, Tensor]) -> dict:
    n_blocks = len([k for k in sd if re.fullmatch(r"convs\.\d+\.conv1\.0\.weight", k)])
    resolution = 2 ** (n_blocks + 2)
    channels = {resolution: sd["convs.0.0.weight"].shape[0]}
    for j in range(1, n_blocks + 1):
        channels[resolution // 2**j] = sd[f"convs.{j}.conv2.1.weight"].shape[0]
    return dict(resolution=resolution, channels=channels, img_channels=sd["convs.0.0.weight"].shape[1])


def rosinality_to_discriminator(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """Our discriminator state dict from a rosinality `d` state dict."""
    n_blocks = len(rosinality_discriminator_config(sd)["channels"]) - 1
    out = {"fromrgb.weight": sd["convs.0.0.weight"], "fromrgb.bias": sd["convs.0.1.bias"]}
    for j in range(1, n_blocks + 1):
        b = f"blocks.{j - 1}"
        out[f"{b}.conv0.weight"] = sd[f"convs.{j}.conv1.0.weight"]
        out[f"{b}.conv0.bias"] = sd[f"convs.{j}.conv1.1.bias"]
        out[f"{b}.conv1.weight"] = sd[f"convs.{j}.conv2.1.weight"]
        out[f"{b}.conv1.bias"] = sd[f"convs.{j}.conv2.2.bias"]
        out[f"{b}.skip.weight"] = sd[f"convs.{j}.skip.1.weight"]
    out["final_conv.weight"] = sd["final_conv.0.weight"]
    out["final_conv.bias"] = sd["final_conv.1.bias"]
    out["fc.weight"], out["fc.bias"] = sd["final_linear.0.weight"], sd["final_linear.0.bias"]
    out["out.weight"], out["out.bias"] = sd["final_linear.1.weight"], sd["final_linear.1.bias"]
    return out


def discriminator_to_rosinality(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """rosinality `d` state dict (with blur-kernel buffers) from ours."""
    k = fir_kernel()
    out = {"convs.0.0.weight": sd["fromrgb.weight"], "convs.0.1.bias": sd["fromrgb.bias"]}
    j = 0
    while f"blocks.{j}.conv0.weight" in sd:
        b, c = f"blocks.{j}", f"convs.{j + 1}"
        out[f"{c}.conv1.0.weight"], out[f"{c}.conv1.1.bias"] = sd[f"{b}.conv0.weight"], sd[f"{b}.conv0.bias"]
        out[f"{c}.conv2.0.kernel"] = k.clone()
        out[f"{c}.conv2.1.weight"], out[f"{c}.conv2.2.bias"] = sd[f"{b}.conv1.weight"], sd[f"{b}.conv1.bias"]
        out[f"{c}.skip.0.kernel"] = k.clone()
        out[f"{c}.skip.1.weight"] = sd[f"{b}.skip.weight"]
        j += 1
    out["final_conv.0.weight"], out["final_conv.1.bias"] = sd["final_conv.weight"], sd["final_conv.bias"]
    out["final_linear.0.weight"], out["final_linear.0.bias"] = sd["fc.weight"], sd["fc.bias"]
    out["final_linear.1.weight"], out["final_linear.1.bias"] = sd["out.weight"], sd["out.bias"]
    return out
