"""WGAN-GP (step 1 of Vitoria et al.'s semantic inpainting): the gradient penalty against hand-computed
values, the networks, `python train.py task=wgan_gp` end to end with export and an exact resume, and
the contextual inversion in the WGAN-GP's z space with its critic as the prior."""
from __future__ import annotations

from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from torch import nn

from mminvert.baselines import ContextualInversion
from mminvert.baselines.wgan_gp import DCGANCritic, DCGANGenerator, critic_loss, generator_loss, gradient_penalty, load_wgan_gp
from mminvert.runner import train

CONF = Path(__file__).resolve().parents[1] / "conf"
CPU = ["trainer.accelerator=cpu", "trainer.devices=1", "++trainer.enable_progress_bar=false", "logger=csv"]


class _Linear(nn.Module):
    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.a).flatten(1).sum(1)


def test_gradient_penalty_equals_hand_computed_values():
    # D(x) = Σ a ⊙ x: ∇D = a everywhere, penalty = (‖a‖ − 1)²; here ‖a‖ = sqrt(12 · 0.25) = sqrt(3)
    a = torch.full((1, 3, 2, 2), 0.5)
    real, fake = torch.randn(2, 3, 2, 2), torch.randn(2, 3, 2, 2)
    gp = gradient_penalty(_Linear(a), real, fake)
    torch.testing.assert_close(gp, torch.full((2,), (3 ** 0.5 - 1) ** 2))
    # D(x) = ½‖x‖²: ∇D(x̂) = x̂ = ε·real + (1 − ε)·fake
    quad = lambda x: 0.5 * x.flatten(1).square().sum(1)  # noqa: E731
    real, fake = torch.ones(2, 1, 1, 4), torch.zeros(2, 1, 1, 4)
    eps = torch.tensor([0.25, 1.0])  # x̂ = 0.25·1 (norm 0.5) and 1 (norm 2)
    torch.testing.assert_close(gradient_penalty(quad, real, fake, eps), torch.tensor([0.25, 1.0]))
    # the penalty is differentiable in the critic's parameters (create_graph)
    critic = _Linear(a.clone())
    gradient_penalty(critic, torch.randn(2, 3, 2, 2), torch.randn(2, 3, 2, 2)).sum().backward()
    torch.testing.assert_close(critic.a.grad, torch.full_like(a, 2 * (3 ** 0.5 - 1) / 3 ** 0.5 * 0.5 * 2))
    # L_D = E[D(fake)] − E[D(real)] + λ·E[gp],  L_G = −E[D(fake)]
    torch.testing.assert_close(critic_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, -1.0]), torch.tensor([0.1, 0.3])),
                               torch.tensor(-0.5 - 2.0 + 10 * 0.2))
    torch.testing.assert_close(generator_loss(torch.tensor([0.0, -1.0])), torch.tensor(0.5))


def test_networks_shapes():
    G, D = DCGANGenerator(32, z_dim=8, width=8), DCGANCritic(32, width=8)
    x = G(torch.randn(3, 8))
    assert x.shape == (3, 3, 32, 32) and x.abs().max() <= 1
    assert D(x).shape == (3,)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in D.modules())  # GP needs none


def _cfg(out: Path, steps: int, *extra: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=[f"paths.output_dir={out}", *CPU, "task=wgan_gp", "gan=dcgan_tiny",
                                            f"trainer.max_steps={steps}", "~data",
                                            "+data._target_=tests.test_stylegan2_training.ConstantImages",
                                            "++data.batch_size=10", "callbacks.samples.every_n_steps=2",
                                            "callbacks.checkpoint.every_n_steps=2", "trainer.log_every_n_steps=1", *extra])


def test_train_export_and_exact_resume(tmp_path):
    train(_cfg(tmp_path / "full", 4))
    train(_cfg(tmp_path / "first", 2))
    train(_cfg(tmp_path / "resumed", 4, f"ckpt_path={tmp_path / 'first' / 'checkpoints' / 'last.ckpt'}"))
    full = torch.load(tmp_path / "full" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    res = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert full["global_step"] == res["global_step"] == 4  # generator iterations
    for k, v in full["state_dict"].items():
        assert torch.equal(v, res["state_dict"][k]), k
    G, D = load_wgan_gp(tmp_path / "full" / "wgan_gp.pt")
    for k, v in G.state_dict().items():
        assert torch.equal(v, full["state_dict"][f"generator.{k}"]), k
    assert not G.training and (tmp_path / "full" / "samples" / "step_0000004.png").is_file()
    metrics = next((tmp_path / "full").glob("csv/*/metrics.csv")).read_text().splitlines()[0]
    assert {"train/loss_d", "train/loss_g", "train/gp", "train/wasserstein"} <= set(metrics.split(","))


def test_contextual_inversion_in_the_wgan_z_space_with_the_critic_prior():
    torch.manual_seed(0)
    G, D = DCGANGenerator(32, z_dim=8, width=8).freeze(), DCGANCritic(32, width=8).eval()
    with torch.no_grad():
        target = G(torch.randn(1, 8))
    mask = torch.ones(1, 1, 32, 32)
    mask[..., 10:22, 10:22] = 0
    out = ContextualInversion(G, D, steps=15, lr=0.05, alpha=0.003, beta=1.0, eta=1.0)(target, mask)
    assert out["z"].shape == (1, 8) and (out["loss_prior"] != 0).all()
    assert out["loss_context"][-1] < out["loss_context"][0]
    keep = mask.bool().expand_as(target)
    assert torch.equal(out["composite"][keep], target[keep])
    torch.testing.assert_close(out["loss"], out["loss_context"] + out["loss_gradient"] + 0.003 * out["loss_prior"])
    no_prior = ContextualInversion(G, None, steps=2, eta=2.0)(target, mask)
    torch.testing.assert_close(no_prior["loss"], 2.0 * no_prior["loss_context"] + no_prior["loss_gradient"])


def test_bundled_scenes64_prior_loads_by_name():
    G, D = load_wgan_gp("scenes64")
    assert (G.resolution, G.z_dim, G.config["width"]) == (64, 128, 16)
    assert not G.training and not any(p.requires_grad for p in [*G.parameters(), *D.parameters()])
    with torch.no_grad():
        x = G(torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(0)))
        scores = D(x)
    assert x.shape == (3, 3, 64, 64) and x.abs().max() <= 1 and x.std() > 0.05  # not a constant image
    assert scores.shape == (3,) and torch.isfinite(scores).all()
    G2, _ = load_wgan_gp("scenes64_wgan_gp")  # the older name reads the same file
    assert all(torch.equal(a, b) for a, b in zip(G.state_dict().values(), G2.state_dict().values()))
