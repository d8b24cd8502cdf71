"""Train a StyleGAN2 discriminator *post hoc* against a frozen, already trained generator.

For generators whose training run (and so its D) is gone, e.g. the bundled scenes64 one: D of a `gan=` preset
learns real scenes vs G's samples with the StyleGAN2 task's losses (non-saturating logistic loss, lazy R1 on
reals every `d_reg_interval` steps with the lazy-regularisation correction of the optimiser). G is never
updated, so this D is a critic of G's *final* distribution, not the jointly trained D of the original run.

    python -m mminvert.tasks.stylegan2_discriminator --generator scenes64 --gan scenes64 --out d.pt --steps 3000

Writes `out` (mminvert format, `load_discriminator(out)`) every `--save-every` steps and at the end, with the
settings, the steps done, the CPU time and a held-out measurement (`evaluate_discriminator`) in `training`.
`--measure` instead measures an existing `out` (e.g. the last periodic save of a stopped run) on the held-out
scenes and records the figure in it.
"""
from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf
from torch import Tensor

from ..stylegan2.discriminator import StyleGAN2Discriminator
from ..stylegan2.generator import StyleGAN2Generator
from ..stylegan2.lazy_reg import build_lazy_optimizer
from ..stylegan2.losses import d_logistic_loss, r1_penalty
from ..utils.config_dir import config_dir

__all__ = ["scene_reals", "train_discriminator", "evaluate_discriminator", "discriminator_from_preset", "main"]

log = logging.getLogger(__name__)
CONF = config_dir()
RealSampler = Callable[[int, np.random.Generator], Tensor]  # (count, rng) -> (count, 3, R, R) in [-1, 1]


def discriminator_from_preset(gan: str) -> StyleGAN2Discriminator:
    """The discriminator of conf/gan/<gan>.yaml (randomly initialised)."""
    from hydra.utils import instantiate

    path = CONF / "gan" / f"{gan}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no GAN preset {path} (presets: {sorted(p.stem for p in (CONF / 'gan').glob('*.yaml'))})")
    return instantiate(OmegaConf.load(path).discriminator)


def scene_reals(split: str, resolution: int, hflip: bool = True, **source: Any) -> RealSampler:
    """Random real scenes of a split of the built-in data set (conf/data/scenes.yaml's stream by default), flipped
    left-right with probability 1/2 when `hflip` (as the StyleGAN2 task's data module does)."""
    from ..data import ScenesSource

    kw = dict(seed=0, num_train=50_000, num_val=256, num_test=1_000) | source
    src = ScenesSource(split, resolution, **kw)

    def draw(count: int, rng: np.random.Generator) -> Tensor:
        images = []
        for i in rng.integers(0, len(src), count):
            x = torch.from_numpy(np.ascontiguousarray(src.load(int(i))[0])).permute(2, 0, 1).float() / 127.5 - 1
            images.append(x.flip(-1) if hflip and rng.uniform() < 0.5 else x)
        return torch.stack(images)

    return draw


@torch.no_grad()
def _fakes(G: StyleGAN2Generator, count: int, gen: torch.Generator) -> Tensor:
    z = torch.randn(count, G.z_dim, generator=gen)
    return G.synthesis(G.mapping(z).unsqueeze(1).expand(-1, G.num_ws, -1), noise_mode="random")


def train_discriminator(G: StyleGAN2Generator, D: StyleGAN2Discriminator, reals: RealSampler, steps: int,
                        batch_size: int = 16, lr: float = 0.0025, betas: tuple[float, float] = (0.0, 0.99),
                        r1_gamma: float = 0.05, d_reg_interval: int = 16, seed: int = 0, log_every: int = 50,
                        on_progress: Callable[[int, dict[str, float]], None] | None = None,
                        max_seconds: float | None = None, channels_last: bool = True) -> dict[str, Any]:
    """Train D in place for `steps` minibatches (or until `max_seconds` of process CPU time); G stays frozen.

    Each step: L_D = softplus(D(G(z))) + softplus(−D(x)); every `d_reg_interval` steps a separate step on
    γ/2 · ‖∇ₓD(x)‖² · d_reg_interval (lazy R1). `on_progress(step, running means)` is called every `log_every`
    steps. `channels_last`: NHWC weights and images while training (faster convolutions, as the StyleGAN2 task);
    D is handed back in the default layout. Returns {'steps', 'cpu_seconds', 'wall_seconds', 'history': [...]}.
    """
    G = G.freeze()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    D.train().requires_grad_(True).to(memory_format=fmt)
    opt = build_lazy_optimizer(partial(torch.optim.Adam, lr=lr, betas=betas, eps=1e-8), D.parameters(),
                               d_reg_interval if r1_gamma > 0 else None)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    cpu0, wall0 = time.process_time(), time.time()
    history, acc = [], {"loss_real": 0.0, "loss_fake": 0.0, "r1": 0.0, "n": 0}
    done = 0
    for step in range(1, steps + 1):
        x = reals(batch_size, rng).contiguous(memory_format=fmt)
        fake = _fakes(G, batch_size, gen).contiguous(memory_format=fmt)
        loss_real, loss_fake = d_logistic_loss(D(x), D(fake))
        opt.zero_grad(set_to_none=True)
        (loss_real.mean() + loss_fake.mean()).backward()
        opt.step()
        acc["loss_real"] += float(loss_real.detach().mean())
        acc["loss_fake"] += float(loss_fake.detach().mean())
        acc["n"] += 1
        if r1_gamma > 0 and step % d_reg_interval == 0:
            x = x.detach().requires_grad_(True)
            r1 = r1_penalty(D(x), x)
            opt.zero_grad(set_to_none=True)
            (r1.mean() * (r1_gamma / 2) * d_reg_interval).backward()
            opt.step()
            acc["r1"] = float(r1.detach().mean())
        done = step
        if step % log_every == 0 or step == steps:
            means = {"step": step, "loss_d_real": acc["loss_real"] / acc["n"], "loss_d_fake": acc["loss_fake"] / acc["n"],
                     "r1_penalty": acc["r1"], "cpu_seconds": time.process_time() - cpu0}
            history.append(means)
            acc = {"loss_real": 0.0, "loss_fake": 0.0, "r1": acc["r1"], "n": 0}
            if on_progress is not None:
                on_progress(step, means)
        if max_seconds is not None and time.process_time() - cpu0 >= max_seconds:
            log.info("stopping at step %d: %.0f s of CPU time used (max %.0f)", step, time.process_time() - cpu0,
                     max_seconds)
            break
    D.eval().requires_grad_(False).to(memory_format=torch.contiguous_format)
    return {"steps": done, "cpu_seconds": time.process_time() - cpu0, "wall_seconds": time.time() - wall0,
            "history": history}


@torch.no_grad()
def evaluate_discriminator(G: StyleGAN2Generator, D: StyleGAN2Discriminator, reals: Tensor, seed: int = 1,
                           batch_size: int = 64) -> dict[str, float]:
    """How well D separates `reals` (N, 3, R, R) from N fresh samples of G: accuracy at logit 0 on each side and
    overall, mean logits and their gap (mean D(real) − mean D(fake))."""
    gen = torch.Generator().manual_seed(seed)
    D = D.eval()
    real_logits = torch.cat([D(x) for x in reals.split(batch_size)]).flatten()
    fake_logits = torch.cat([D(_fakes(G, x.shape[0], gen)) for x in reals.split(batch_size)]).flatten()
    acc_real, acc_fake = float((real_logits > 0).float().mean()), float((fake_logits < 0).float().mean())
    return {"num_images": int(reals.shape[0]), "accuracy_real": acc_real, "accuracy_fake": acc_fake,
            "accuracy": (acc_real + acc_fake) / 2, "mean_logit_real": float(real_logits.mean()),
            "mean_logit_fake": float(fake_logits.mean()),
            "logit_gap": float(real_logits.mean() - fake_logits.mean())}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="train a StyleGAN2 discriminator against a frozen generator (post hoc)")
    ap.add_argument("--generator", default="scenes64", help="generator file or bundled name")
    ap.add_argument("--gan", default="scenes64", help="conf/gan preset whose discriminator is trained")
    ap.add_argument("--out", required=True, help="output file (refused if it exists, unless --overwrite)")
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--max-cpu-minutes", type=float, default=None, help="stop earlier after this much CPU time")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.0025)
    ap.add_argument("--r1-gamma", type=float, default=None, help="default: the preset's training.r1_gamma")
    ap.add_argument("--d-reg-interval", type=int, default=16)
    ap.add_argument("--save-every", type=int, default=250)
    ap.add_argument("--eval-images", type=int, default=512, help="held-out real scenes (test split) for the measurement")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--measure", action="store_true", help="only measure the existing --out file on held-out scenes")
    return ap


def _held_out(resolution: int, count: int) -> Tensor:
    """The measurement's real images: `count` scenes of the test split (never seen in training), unflipped."""
    return scene_reals("test", resolution, hflip=False)(count, np.random.default_rng(12345))


def _measure(out: Path, generator: str, count: int) -> Path:
    from ..io import load_discriminator, load_generator, save_discriminator

    G, D = load_generator(generator).freeze(), load_discriminator(out)
    training = dict(torch.load(out, weights_only=True).get("training", {}))
    training["held_out"] = evaluate_discriminator(G, D, _held_out(G.resolution, count))
    log.info("%s (%s steps): held-out %d real vs generated: %s", out, training.get("steps"), count,
             training["held_out"])
    return save_discriminator(out, D, training=training)


def main(argv: list[str] | None = None) -> Path:
    from ..io import load_generator, save_discriminator

    a = _parser().parse_args(argv)
    out = Path(a.out)
    if a.measure:
        return _measure(out, a.generator, a.eval_images)
    if out.exists() and not a.overwrite:
        raise SystemExit(f"{out} exists; pass --overwrite to replace it")
    G = load_generator(a.generator).freeze()
    D = discriminator_from_preset(a.gan)
    if D.resolution != G.resolution:
        raise SystemExit(f"the {a.gan} preset's D is {D.resolution} px but the generator is {G.resolution} px")
    gamma = a.r1_gamma if a.r1_gamma is not None else float(
        OmegaConf.load(CONF / "gan" / f"{a.gan}.yaml").get("training", {}).get("r1_gamma", 10.0))
    torch.manual_seed(a.seed)
    held_out = _held_out(G.resolution, a.eval_images)
    before = evaluate_discriminator(G, D, held_out)
    settings = dict(generator=str(a.generator), gan=a.gan, batch_size=a.batch_size, lr=a.lr, betas=[0.0, 0.99],
                    r1_gamma=gamma, d_reg_interval=a.d_reg_interval, seed=a.seed, reals="scenes train split, hflip",
                    jointly_trained=False)

    def save(step: int, result: dict[str, Any] | None = None, after: dict[str, float] | None = None) -> None:
        training = dict(settings, steps=step, held_out_before=before)
        if result is not None:
            training.update(cpu_seconds=result["cpu_seconds"], wall_seconds=result["wall_seconds"], held_out=after,
                            history=result["history"])
        save_discriminator(out, D, training=training)

    def progress(step: int, means: dict[str, float]) -> None:
        log.info("step %d: %s", step, {k: round(v, 4) for k, v in means.items() if k != "step"})
        if step % a.save_every == 0:  # a usable file even if the job is stopped
            save(step)

    max_s = None if a.max_cpu_minutes is None else a.max_cpu_minutes * 60
    result = train_discriminator(G, D, scene_reals("train", G.resolution), a.steps, a.batch_size, a.lr,
                                 r1_gamma=gamma, d_reg_interval=a.d_reg_interval, seed=a.seed,
                                 log_every=math.gcd(50, a.save_every), on_progress=progress, max_seconds=max_s)
    after = evaluate_discriminator(G, D, held_out)
    save(result["steps"], result, after)
    log.info("wrote %s after %d steps (%.1f CPU-min); held-out %d real vs generated: before %s, after %s", out,
             result["steps"], result["cpu_seconds"] / 60, a.eval_images, before, after)
    return out


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    main()
