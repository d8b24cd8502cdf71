"""StyleGAN2 pre-training: losses and regularisers against hand-computed values, EMA and lazy-reg
formulas, style mixing, augmentation, and end-to-end runs of `train(cfg)` (export, exact resume)."""
from __future__ import annotations

import logging
import math
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader

from mminvert import load_discriminator, load_generator
from mminvert.runner import train
from mminvert.runner.callbacks import to_uint8_grid
from mminvert.runner.run import build_module
from mminvert.stylegan2 import (
    DiffAugment,
    build_lazy_optimizer,
    d_logistic_loss,
    ema_beta,
    ema_update,
    g_nonsaturating_loss,
    lazy_reg_ratio,
    mix_styles,
    path_lengths,
    r1_penalty,
)
from mminvert.tasks import StyleGAN2Module

CONF = Path(__file__).resolve().parents[1] / "conf"
REPO = CONF.parent
CPU = ["trainer.accelerator=cpu", "trainer.devices=1", "++trainer.enable_progress_bar=false", "logger=csv"]


def compose_cfg(tmp_path: Path, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        task = [] if any(o.startswith("task=") for o in overrides) else ["task=stylegan2"]
        return compose("config", overrides=[f"paths.output_dir={tmp_path}", *CPU, *task, *overrides])


class ConstantImages(pl.LightningDataModule):
    """Every sample is the same image, so batches do not depend on the data order (see the resume test).
    Other `data.*` keys the task sets (eval_masks) are accepted and ignored."""

    def __init__(self, resolution: int, batch_size: int, length: int = 16, **_: object) -> None:
        super().__init__()
        img = torch.rand(3, resolution, resolution, generator=torch.Generator().manual_seed(0)) * 2 - 1
        self.data = [{"image": img}] * length
        self.batch_size = batch_size

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.data, batch_size=self.batch_size, shuffle=True, drop_last=True)


# ------------------------------------------------------------------------------------------- losses
def test_logistic_losses_match_formula_and_order_reals_above_fakes():
    real, fake = torch.tensor([[3.0], [-1.0]]), torch.tensor([[-2.0], [0.5]])
    loss_real, loss_fake = d_logistic_loss(real, fake)
    torch.testing.assert_close(loss_real, torch.log1p(torch.exp(-real.flatten())))  # −log σ(D(x))
    torch.testing.assert_close(loss_fake, torch.log1p(torch.exp(fake.flatten())))  # −log(1 − σ(D(G(z))))
    torch.testing.assert_close(g_nonsaturating_loss(fake), torch.log1p(torch.exp(-fake.flatten())))
    # A D that scores reals high and fakes low has a lower loss than one that confuses them.
    good = sum(t.mean() for t in d_logistic_loss(torch.full((4, 1), 4.0), torch.full((4, 1), -4.0)))
    bad = sum(t.mean() for t in d_logistic_loss(torch.full((4, 1), -4.0), torch.full((4, 1), 4.0)))
    assert good < 0.05 < 8.0 < bad
    # At D = 0 both terms are log 2 (the equilibrium value).
    for t in d_logistic_loss(torch.zeros(3, 1), torch.zeros(3, 1)):
        torch.testing.assert_close(t, torch.full((3,), math.log(2)))


def test_r1_penalty_equals_hand_computed_gradient_norm():
    # D(x) = Σ a ⊙ x² ⇒ ∇_x D = 2 a ⊙ x ⇒ R1 = Σ (2 a x)² per sample; differentiable w.r.t. a.
    torch.manual_seed(0)
    a = torch.randn(1, 2, 3, 3, requires_grad=True)
    x = torch.randn(2, 2, 3, 3, requires_grad=True)
    logits = (a * x.square()).sum(dim=[1, 2, 3]).unsqueeze(1)
    r1 = r1_penalty(logits, x)
    expected = (2 * a * x).square().sum(dim=[1, 2, 3])
    torch.testing.assert_close(r1, expected)
    (grad_a,) = torch.autograd.grad(r1.sum(), a)
    torch.testing.assert_close(grad_a, (8 * a * x.square()).sum(0, keepdim=True))  # d/da Σ 4a²x²


def test_path_lengths_of_a_linear_generator():
    # images = k · ws reshaped (one W+ entry, w_dim = C·H·W) ⇒ J_wᵀ y = k y ⇒ length = k ‖y‖, y ~ N(0,I)/√(HW).
    k, h = 3.0, 4
    ws = torch.randn(5, 1, 2 * h * h, requires_grad=True)
    torch.manual_seed(1)
    lengths = path_lengths(k * ws.reshape(5, 2, h, h), ws)
    torch.manual_seed(1)
    y = torch.randn(5, 2, h, h) / h
    torch.testing.assert_close(lengths, k * y.flatten(1).norm(dim=1))


# ---------------------------------------------------------------------------- EMA, optimiser, mixing
def test_ema_update_follows_the_formula_and_copies_buffers():
    src, ema = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    with torch.no_grad():
        src.weight.copy_(torch.tensor([1.0, 2.0, 3.0]))
        ema.weight.copy_(torch.tensor([3.0, 2.0, 1.0]))
        src.running_mean.fill_(7.0)
    ema_update(ema, src, beta=0.9)
    torch.testing.assert_close(ema.weight.data, 0.9 * torch.tensor([3.0, 2.0, 1.0]) + 0.1 * torch.tensor([1.0, 2.0, 3.0]))
    torch.testing.assert_close(ema.running_mean, torch.full((3,), 7.0))
    # β has a half-life of ema_kimg thousand images; the ramp-up caps it at rampup · images seen.
    beta = ema_beta(batch_size=32, ema_kimg=10, cur_nimg=10**9)
    assert beta ** (10_000 / 32) == pytest.approx(0.5)
    assert ema_beta(32, 10, cur_nimg=3200, rampup=0.05) == pytest.approx(0.5 ** (32 / 160))
    assert ema_beta(32, 10, cur_nimg=0, rampup=0.05) == 0.0  # first step copies G


def test_lazy_regularisation_corrects_lr_and_betas():
    p = [nn.Parameter(torch.zeros(2))]
    adam = partial(torch.optim.Adam, lr=0.002, betas=(0.0, 0.99), eps=1e-8)
    opt = build_lazy_optimizer(adam, p, interval=16)
    c = 16 / 17
    assert lazy_reg_ratio(16) == pytest.approx(c) and lazy_reg_ratio(None) == 1.0
    group = opt.param_groups[0]
    assert group["lr"] == pytest.approx(0.002 * c)
    assert group["betas"] == pytest.approx((0.0, 0.99**c))
    assert group["eps"] == 1e-8
    plain = build_lazy_optimizer(adam, p, interval=None).param_groups[0]
    assert plain["lr"] == pytest.approx(0.002) and plain["betas"] == pytest.approx((0.0, 0.99))


def test_module_optimisers_use_the_lazy_correction(tiny_generator):
    from mminvert.stylegan2 import StyleGAN2Discriminator

    d = StyleGAN2Discriminator(32, channels=tiny_generator.channels)
    adam = partial(torch.optim.Adam, lr=0.0025, betas=(0.0, 0.99))
    m = StyleGAN2Module(tiny_generator, d, adam, adam, g_reg_interval=4, d_reg_interval=16, pl_weight=2.0, r1_gamma=1.0)
    opt_g, opt_d = m.configure_optimizers()
    assert opt_g.param_groups[0]["lr"] == pytest.approx(0.0025 * 4 / 5)
    assert opt_d.param_groups[0]["betas"][1] == pytest.approx(0.99 ** (16 / 17))
    assert {id(p) for p in opt_g.param_groups[0]["params"]} == {id(p) for p in m.generator.parameters()}
    assert not any(p.requires_grad for p in m.g_ema.parameters())  # never trained, never in DDP's reducer
    no_pl = StyleGAN2Module(tiny_generator, d, adam, adam, pl_weight=0.0).configure_optimizers()[0]
    assert no_pl.param_groups[0]["lr"] == pytest.approx(0.0025)


def test_style_mixing_switches_once_at_a_cutoff():
    torch.manual_seed(0)
    w1, w2 = torch.zeros(64, 8), torch.ones(64, 8)
    assert torch.equal(mix_styles(w1, w2, num_ws=6, prob=0.0), w1[:, None].expand(64, 6, 8))
    ws = mix_styles(w1, w2, num_ws=6, prob=1.0)
    use_w2 = ws[..., 0]  # (B, num_ws): 0 before the cutoff, 1 from it on
    assert torch.all(use_w2[:, 0] == 0) and torch.all(use_w2[:, -1] == 1)
    assert torch.all(use_w2[:, 1:] >= use_w2[:, :-1])  # a single switch
    assert len(set(use_w2.sum(1).tolist())) > 1  # the cutoff varies per sample


def test_diffaugment_is_differentiable_and_keeps_pixels():
    torch.manual_seed(0)
    x = (torch.rand(4, 3, 16, 16) + 1).requires_grad_()  # values in [1, 2]: zeros only from padding
    y = DiffAugment(["translation"])(x)
    assert y.shape == x.shape
    kept = y[y != 0]
    assert torch.isin(kept, x.detach()).all()  # a translation moves pixels, never alters them
    cut = DiffAugment(["cutout"])(x)
    zero_frac = (cut == 0).float().flatten(1).mean(1)
    assert torch.all(zero_frac <= 0.25 + 1e-6) and torch.all(zero_frac > 0)
    DiffAugment()(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="unknown DiffAugment"):
        DiffAugment(["rotate"])


def test_sample_grid_is_uint8():
    grid = to_uint8_grid(torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1).expand(4, 3, 4, 4), nrow=2)
    assert grid.dtype.name == "uint8" and grid.shape == (2 * 4 + 3 * 2, 2 * 4 + 3 * 2, 3)
    assert grid[2, 2].tolist() == [0, 128, 255]


def test_discriminator_training_separates_reals_from_fakes(tiny_generator):
    from mminvert.stylegan2 import StyleGAN2Discriminator

    torch.manual_seed(0)
    adam = partial(torch.optim.Adam, lr=0.002, betas=(0.0, 0.99))
    m = StyleGAN2Module(tiny_generator, StyleGAN2Discriminator(32, channels=tiny_generator.channels), adam, adam)
    opt_d = m.configure_optimizers()[1]
    real = ConstantImages(32, 4).data[0]["image"].expand(4, -1, -1, -1)
    losses = []
    for _ in range(30):
        loss, terms = m.d_main_loss(real)
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.6 * losses[0]
    assert terms["score_real"] > 0 > terms["score_fake"]
    # The generator's loss on those fakes is then high: the non-saturating loss still has gradient.
    g_loss, _ = m.g_main_loss(4)
    assert g_loss.item() > math.log(2)


def test_channels_last_training_computes_the_same_losses(tiny_generator):
    import copy

    from mminvert.stylegan2 import StyleGAN2Discriminator

    adam = partial(torch.optim.Adam, lr=0.0025, betas=(0.0, 0.99))
    d = StyleGAN2Discriminator(32, channels=tiny_generator.channels)
    real = ConstantImages(32, 4).data[0]["image"].expand(4, -1, -1, -1)
    losses = []
    for channels_last in (False, True):
        m = StyleGAN2Module(copy.deepcopy(tiny_generator), copy.deepcopy(d), adam, adam, channels_last=channels_last)
        m.setup("fit")
        torch.manual_seed(0)
        terms = [m.d_main_loss(m._images({"image": real}))[0], m.r1_loss(real)[0], m.g_main_loss(4)[0], m.pl_loss(4)[0]]
        losses.append(torch.stack(terms).detach())
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-4, atol=1e-5)


def test_module_rejects_images_of_another_resolution(tiny_generator):
    from mminvert.stylegan2 import StyleGAN2Discriminator

    adam = partial(torch.optim.Adam, lr=0.0025, betas=(0.0, 0.99))
    m = StyleGAN2Module(tiny_generator, StyleGAN2Discriminator(32, channels=tiny_generator.channels), adam, adam)
    with pytest.raises(ValueError, match="data.resolution=32"):
        m._images({"image": torch.zeros(4, 3, 64, 64)})


# ------------------------------------------------------------------------------- end to end (CPU)
def test_train_tiny_on_scenes_exports_a_loadable_generator(tmp_path, caplog):
    cfg = compose_cfg(tmp_path, "task=stylegan2", "data=scenes", "gan=tiny", "trainer.max_steps=20",
                      "data.batch_size=4", "callbacks.samples.every_n_steps=10", "callbacks.checkpoint.every_n_steps=10",
                      "callbacks.fid.metric_kwargs.weights_path=/nonexistent/inception.pt", "callbacks.export.rosinality=true",
                      "callbacks.fid.enabled=true")  # on even on CPU (the default, auto, is off there)
    with caplog.at_level(logging.INFO):
        assert train(cfg) is None  # FID skipped, so the optimised metric is absent
    assert "FID skipped: FID weights unavailable" in caplog.text

    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 20
    g = load_generator(tmp_path / "generator.pt")  # the exported EMA generator
    assert (g.resolution, g.z_dim, g.num_ws) == (32, 32, 8)
    for k, v in g.state_dict().items():
        assert torch.equal(v, ckpt["state_dict"][f"g_ema.{k}"]), k
    assert load_discriminator(tmp_path / "generator.pt").resolution == 32
    g_ros = load_generator(tmp_path / "generator_rosinality.pt")
    z = torch.randn(2, 32)
    torch.testing.assert_close(g_ros(z), g(z))

    metrics = (next(tmp_path.glob("csv/*/metrics.csv"))).read_text().splitlines()[0].split(",")
    assert {"train/loss_d_real", "train/loss_d_fake", "train/loss_g", "train/loss_r1"} <= set(metrics)
    grid = np.asarray(Image.open(tmp_path / "samples" / "step_0000020.png"))
    assert grid.dtype == np.uint8 and grid.ndim == 3 and grid.std() > 0
    saved = OmegaConf.load(tmp_path / "config.yaml")
    assert saved.data.resolution == 32 and "${" not in (tmp_path / "config.yaml").read_text()


def _run(out: Path, steps: int, ckpt: Path | None = None) -> dict:
    cfg = compose_cfg(out, "gan=tiny", f"trainer.max_steps={steps}", "~data",
                      f"+data._target_={__name__}.ConstantImages", "+data.batch_size=4",
                      # every regulariser every other step, so the resumed half exercises them all
                      "task.module.pl_weight=2", "task.module.d_reg_interval=2", "task.module.g_reg_interval=2",
                      "task.module.augment={_target_:mminvert.stylegan2.DiffAugment}",
                      "callbacks.samples.every_n_steps=0", "callbacks.fid=null",
                      *([f"ckpt_path={ckpt}"] if ckpt else []))
    train(cfg)
    return torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)


def test_resume_matches_an_uninterrupted_run_exactly(tmp_path):
    full = _run(tmp_path / "full", 6)
    _run(tmp_path / "first", 3)
    resumed = _run(tmp_path / "resumed", 6, ckpt=tmp_path / "first" / "checkpoints" / "last.ckpt")

    assert resumed["global_step"] == full["global_step"] == 6
    assert full["state_dict"].keys() == resumed["state_dict"].keys()
    for k, v in full["state_dict"].items():  # G, D, G_ema, path-length mean, w_avg
        assert torch.equal(v, resumed["state_dict"][k]), k
    for opt_full, opt_res in zip(full["optimizer_states"], resumed["optimizer_states"], strict=True):
        assert opt_full["param_groups"] == opt_res["param_groups"]
        for i, state in opt_full["state"].items():
            for name, value in state.items():
                assert torch.equal(value, opt_res["state"][i][name]), (i, name)
    assert torch.equal(full["stylegan2_rng"]["streams"][0]["cpu"], resumed["stylegan2_rng"]["streams"][0]["cpu"])


@pytest.mark.parametrize("preset", ["tiny", "scenes64", "256_configf"])
def test_gan_presets_build_and_match_the_data_resolution(tmp_path, preset):
    cfg = compose_cfg(tmp_path, f"gan={preset}")
    with torch.device("meta"):  # shapes only: paper-scale presets cost nothing to build
        module = build_module(cfg)
    g, d = module.generator, module.discriminator
    assert g.resolution == d.resolution == cfg.data.resolution
    if preset == "256_configf":
        assert g.channels == {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128}
        assert g.config["mapping_layers"] == 8 and g.w_dim == 512


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (CONF / "experiment").glob("stylegan2_*.yaml")))
def test_stylegan2_experiments_compose(tmp_path, experiment):
    cfg = compose_cfg(tmp_path, f"experiment={experiment}")
    assert cfg.task.name == "stylegan2" and cfg.data.resolution == cfg.gan.generator.resolution


@pytest.mark.slow
def test_ddp_on_two_cpu_processes(tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, str(REPO / "train.py"), "task=stylegan2", "data=scenes", "gan=tiny",
           "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.max_steps=4", "data.batch_size=8",
           "logger=csv", f"hydra.run.dir={out}", "callbacks.samples.every_n_steps=0"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 4 and len(ckpt["stylegan2_rng"]["streams"]) == 2  # one RNG stream per rank
    assert not torch.equal(ckpt["stylegan2_rng"]["streams"][0]["cpu"], ckpt["stylegan2_rng"]["streams"][1]["cpu"])
    load_generator(out / "generator.pt")


def test_fid_hook_skips_with_a_reason_and_computes_with_a_metric(caplog, tiny_generator):
    from types import SimpleNamespace

    from mminvert.runner.callbacks import FIDCallback

    trainer = SimpleNamespace(is_global_zero=True, global_step=10, datamodule=ConstantImages(32, 4, length=8))
    module = SimpleNamespace(device=torch.device("cpu"), g_ema=tiny_generator)
    missing = FIDCallback(metric_kwargs={"weights_path": "/nonexistent/inception.pt"})
    with caplog.at_level(logging.WARNING):
        missing.on_fit_start(trainer, module)
    assert missing.metric is None and "FID skipped: FID weights unavailable" in caplog.text

    features = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten())  # a toy 48-d feature extractor
    fid = FIDCallback(num_images=8, batch_size=4, metric_kwargs={"features": features})
    fid.on_fit_start(trainer, module)
    first, second = fid.compute(trainer, module), fid.compute(trainer, module)
    assert first > 0 and first == pytest.approx(second)  # fixed latents, cached real statistics
