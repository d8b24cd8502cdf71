"""Training the inversion inpainting models: every variant trains, the loss falls, resume is exact,
DDP and Hydra multirun work, and training checkpoints load for inference."""
from __future__ import annotations

import csv
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mminvert.inference import Inpainter
from mminvert.runner import train
from mminvert.runner.encoder_step import EncoderDiscriminatorModule

CONF = Path(__file__).resolve().parents[1] / "conf"
REPO = CONF.parent
BASE = ["experiment=inpainting_tiny", "++trainer.enable_progress_bar=false", "trainer.accelerator=cpu",
        "trainer.devices=1", "logger=csv"]


def compose_cfg(tmp_path: Path, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=[*BASE, f"paths.output_dir={tmp_path}", f"paths.data_dir={tmp_path}/data",
                                            *overrides])


def read_metrics(run: Path) -> list[dict[str, str]]:
    files = sorted(run.glob("csv/*/metrics.csv"))
    assert files, f"no metrics.csv under {run}"
    rows = []
    for f in files:
        with open(f) as fh:
            rows += list(csv.DictReader(fh))
    return rows


def losses_by_step(run: Path, key: str = "train/loss_total") -> dict[int, float]:
    return {int(r["step"]): float(r[key]) for r in read_metrics(run) if r.get(key)}


class TrainingProbe(pl.Callback):
    """Test probe, added to a run with PROBE: keeps the trained module, its state dict when training starts and
    the parameters each optimiser holds. `made` lists the probes in the order the runs built them."""

    made: list[TrainingProbe] = []

    def __init__(self) -> None:
        self.module: pl.LightningModule | None = None
        self.start: dict[str, torch.Tensor] = {}
        self.optimizer_params: list[list[torch.nn.Parameter]] = []
        TrainingProbe.made.append(self)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.module = pl_module
        self.start = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        self.optimizer_params = [[p for g in o.param_groups for p in g["params"]] for o in trainer.optimizers]


PROBE = f"+callbacks.probe._target_={__name__}.TrainingProbe"


def train_probed(cfg: DictConfig) -> TrainingProbe:
    """train(cfg) (composed with PROBE); its probe."""
    TrainingProbe.made.clear()
    train(cfg)
    (probe,) = TrainingProbe.made
    return probe


def assert_optimizers_hold_exactly_the_trainable_parameters(module: EncoderDiscriminatorModule,
                                                            optimizer_params: list[list[torch.nn.Parameter]]) -> None:
    """Encoder optimiser: every trainable parameter once, nothing of the frozen generator; a discriminator
    optimiser (with the discriminator's parameters) exactly when the loss has an adversarial term."""
    ids = lambda params: [id(p) for p in params]  # noqa: E731
    encoder, *disc = optimizer_params
    trainable = ids(module.model.trainable_parameters())
    assert len(set(ids(encoder))) == len(encoder) and set(ids(encoder)) == set(trainable)
    assert not set(ids(encoder)) & set(ids(module.model.generator.parameters()))
    adversarial = module.loss.adversarial
    assert len(disc) == (adversarial is not None)
    if adversarial is not None:
        assert sorted(ids(disc[0])) == sorted(ids(adversarial.discriminator.parameters()))


@pytest.mark.parametrize("model,loss", [("mminvertfill", "offline"), ("invertfill", "invertfill"), ("psp", "invertfill")])
def test_each_variant_trains_and_validates(tmp_path, model, loss):
    cfg = compose_cfg(tmp_path, f"model={model}", f"loss={loss}", "loss.terms.perceptual.weight=0",
                      "loss.terms.adversarial.width=8", "trainer.max_steps=4", "trainer.val_check_interval=4",
                      "trainer.log_every_n_steps=1", PROBE)
    probe = train_probed(cfg)
    module, start = probe.module, probe.start
    end = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    rows = read_metrics(tmp_path)
    val = [r for r in rows if r.get("val/psnr")]
    assert val and np.isfinite(float(val[-1]["val/psnr"])) and float(val[-1]["val/l1_hole"]) > 0
    assert list((tmp_path / "samples").glob("val_step_*.png"))
    # the frozen generator (weights and buffers) is bit-identical; every trainable tensor and the discriminator moved
    generator = [k for k in start if k.startswith("model.generator.")]
    assert generator and [k for k in generator if not torch.equal(start[k], end[k])] == []
    names = {id(p): n for n, p in module.named_parameters()}
    trainable = [names[id(p)] for p in module.model.trainable_parameters()]
    discriminator = [names[id(p)] for p in module.loss.adversarial.discriminator.parameters()]
    assert trainable and discriminator and not any(n.startswith("model.generator.") for n in trainable)
    assert set(trainable) == {n for n, p in module.named_parameters() if n.startswith("model.") and p.requires_grad}
    # (the backbone attention's key bias shifts all scores of a query alike: softmax ignores it, it gets no gradient)
    dead = {"model.encoder.backbone.attention.k.bias"}
    assert [n for n in trainable + discriminator if torch.equal(start[n], end[n]) and n not in dead] == []
    # the mean latent: updated every step, moving only where τ > 0 (pSp keeps the static mean)
    assert int(end["model.sml.steps"]) == 4 and module.model.sml.tau == (0.0 if model == "psp" else 0.005)
    assert torch.equal(end["model.sml.online"], start["model.sml.online"]) == (model == "psp")
    assert_optimizers_hold_exactly_the_trainable_parameters(module, probe.optimizer_params)
    # every step logs the configured terms (weight > 0), their total and the discriminator's terms, all finite
    terms = sorted(k for k, v in cfg.loss.terms.items() if v and v.get("weight"))
    assert terms == sorted(module.loss.terms) and "perceptual" not in terms and "adversarial" in terms
    train_rows = [r for r in rows if r.get("train/loss_total")]
    assert [int(r["step"]) for r in train_rows] == [0, 1, 2, 3]
    logged = {k for r in train_rows for k, v in r.items() if k.startswith("train/loss_") and v}
    # (lazy R1 is due every 16th discriminator step: none within these 4)
    assert logged == {f"train/loss_{k}" for k in [*terms, "total", "d_real", "d_fake"]}
    for r in train_rows:
        values = {k: float(r[k]) for k in logged if r.get(k)}
        assert all(np.isfinite(v) for v in values.values()), values
        assert values["train/loss_total"] == pytest.approx(sum(values[f"train/loss_{k}"] for k in terms), rel=1e-5)


def test_loss_decreases_over_30_steps_on_a_fixed_batch(tmp_path):
    cfg = compose_cfg(tmp_path, "loss.terms.adversarial.weight=0")
    torch.manual_seed(0)
    model, loss = instantiate(cfg.model), instantiate(cfg.loss)
    dm = instantiate(cfg.data)
    batch = torch.utils.data.default_collate([dm.build("train")[i] for i in range(4)])
    opt = torch.optim.Adam(model.trainable_parameters(), lr=1e-3)
    values = []
    for _ in range(30):
        model.update_mean_latent()
        total = loss(model(batch), batch)["total"]
        opt.zero_grad()
        total.backward()
        opt.step()
        values.append(total.item())
    assert np.mean(values[-5:]) < 0.7 * np.mean(values[:5])


def test_resume_reproduces_the_uninterrupted_run_exactly(tmp_path):
    common = ["trainer.log_every_n_steps=1", "+trainer.limit_val_batches=0", "callbacks.checkpoint.every_n_steps=3"]
    full = tmp_path / "full"
    train(compose_cfg(full, *common, "trainer.max_steps=6"))
    part = tmp_path / "part"
    train(compose_cfg(part, *common, "trainer.max_steps=3"))
    train(compose_cfg(part, *common, "trainer.max_steps=6", f"ckpt_path={part}/checkpoints/last.ckpt"))
    a, b = losses_by_step(full), losses_by_step(part)
    assert set(a) == set(range(6)) and set(b) == set(range(6))
    for step in range(6):
        assert a[step] == b[step], (step, a[step], b[step])  # bit-identical on CPU
    ckpt = torch.load(part / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["mminvert_logger_runs"]["CSVLogger"] == 1  # run ids travel with the checkpoint (wandb resumes its run)
    wa = torch.load(full / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    wb = torch.load(part / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_a_reused_run_folder_continues_instead_of_starting_over(tmp_path):
    common = ["trainer.log_every_n_steps=1", "+trainer.limit_val_batches=0"]
    train(compose_cfg(tmp_path, *common, "trainer.max_steps=2"))
    train(compose_cfg(tmp_path, *common, "trainer.max_steps=4"))  # e.g. a requeued SLURM job: no ckpt_path given
    assert set(losses_by_step(tmp_path)) == {0, 1, 2, 3}  # steps 2 and 3 only in the second run
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 4
    before = last.read_bytes()
    with pytest.raises(FileExistsError, match=r"last\.ckpt exists.*ckpt_path="):
        train(compose_cfg(tmp_path, *common, "trainer.max_steps=6", "auto_resume=false"))
    assert last.read_bytes() == before  # nothing overwritten


def test_training_checkpoint_loads_for_inference(tmp_path):
    train(compose_cfg(tmp_path, "trainer.max_steps=2", "+trainer.limit_val_batches=0"))
    inp = Inpainter.from_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    img = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    mask = np.full((40, 56), 255, np.uint8)
    mask[10:30, 10:30] = 0
    out = inp(img, mask)
    assert out.shape == img.shape and np.array_equal(out[mask > 127], img[mask > 127])
    bundle = inp.export(tmp_path / "bundle.pt")
    np.testing.assert_array_equal(Inpainter.from_checkpoint(bundle)(img, mask), out)


def _run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path):
    r = _run([str(REPO / "train.py"), *BASE, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
              "trainer.max_steps=2", "+trainer.limit_val_batches=0", f"hydra.run.dir={tmp_path}",
              f"paths.data_dir={tmp_path}/data"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 2 and int(ckpt["state_dict"]["model.sml.steps"]) == 2


@pytest.mark.slow
def test_multirun_over_an_ablation_switch_with_ddp(tmp_path):
    r = _run([str(REPO / "train.py"), "-m", *BASE, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
              "model.premod=true,false", "trainer.max_steps=2", "+trainer.limit_val_batches=0",
              f"hydra.sweep.dir={tmp_path}", f"paths.data_dir={tmp_path}/data"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    log = r.stdout + r.stderr
    assert log.count("Launching 2 jobs") == 1  # DDP child ranks did not launch the sweep again
    assert log.count("GLOBAL_RANK: 1") == 2  # each job had its second rank
    runs = sorted(p for p in tmp_path.iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in runs] == ["0", "1"]
    premod = [torch.load(p / "checkpoints" / "last.ckpt", weights_only=True)["mminvert_architecture"]["model"]["premod"]
              for p in runs]
    assert premod == [True, False]


def test_init_from_loads_weights_only_and_reports_mismatches(tmp_path, caplog):
    first = tmp_path / "first"
    train(compose_cfg(first, "trainer.max_steps=2", "+trainer.limit_val_batches=0"))
    second = tmp_path / "second"
    cfg = compose_cfg(second, "trainer.max_steps=1", "+trainer.limit_val_batches=0", "model.skip=false",
                      f"init_from={first}/checkpoints/last.ckpt", PROBE)
    with caplog.at_level(logging.INFO, logger="mminvert.runner.run"):
        probe = train_probed(cfg)
    a = torch.load(first / "checkpoints" / "last.ckpt", weights_only=True)
    skip = sorted(k for k in a["state_dict"] if k.startswith("model.skip."))
    assert skip and not set(skip) & set(probe.start)  # the skip projections have no home ...
    loaded = sorted(set(a["state_dict"]) - set(skip))
    assert set(loaded) == set(probe.start)  # ... everything else has one
    assert f"loaded {len(loaded)} tensors" in caplog.text and f"{len(skip)} unexpected tensor(s)" in caplog.text
    assert [k for k in loaded if not torch.equal(probe.start[k], a["state_dict"][k])] == []  # training starts there
    b = torch.load(second / "checkpoints" / "last.ckpt", weights_only=True)
    assert b["global_step"] == 1  # a new run (weights only) ...
    assert not b["optimizer_states"][0]["state"] or all(  # ... with fresh optimiser moments: Adam's step count is 1
        int(s["step"]) == 1 for s in b["optimizer_states"][0]["state"].values())


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (CONF / "experiment").glob("*.yaml")))
def test_every_experiment_composes_and_instantiates(tmp_path, experiment):
    from mminvert.runner.run import build_module

    overrides = [f"experiment={experiment}", f"paths.output_dir={tmp_path}", f"paths.data_dir={tmp_path}/data"]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
        if cfg.task.name == "inpainting" and cfg.model.generator.get("pretrained", True):
            # The paper presets read a pretrained generator and ImageNet perceptual weights, which tests
            # do not have: swap in a random generator of the same size and random perceptual features.
            # (stylegan2_d matches the bundled discriminator's features: it ships, so it stays pretrained.)
            r = cfg.model.generator.get("resolution") or 256
            offline = OmegaConf.select(cfg, "loss.terms.perceptual.backbone") == "stylegan2_d"
            cfg = compose("config", overrides=[*overrides, f"model/generator=random{256 if r == 256 else 64}",
                                               *([] if offline else ["loss.terms.perceptual.pretrained=false"])])
    datamodule = instantiate(cfg.data)
    module = build_module(cfg)
    assert type(module).__name__ == cfg.task.module._target_.rsplit(".", 1)[1]
    assert datamodule.resolution == cfg.data.resolution
    if isinstance(module, EncoderDiscriminatorModule):  # inpainting, diverse: a frozen generator of the data's size
        G = module.model.generator
        assert G.resolution == datamodule.resolution and not any(p.requires_grad for p in G.parameters())
        opts = module.configure_optimizers()
        opts = opts[0] if isinstance(opts, tuple) else opts  # (optimisers, schedulers) with a scheduler
        assert_optimizers_hold_exactly_the_trainable_parameters(
            module, [[p for g in o.param_groups for p in g["params"]] for o in opts])
    else:  # GAN pre-training: the generator is built for the data's resolution
        assert module.generator.resolution == datamodule.resolution


def test_wandb_run_id_is_reused_on_resume():
    from mminvert.runner.callbacks.logger_runs import resume_logger_kwargs

    ckpt = {"mminvert_logger_runs": {"WandbLogger": "abc123", "CSVLogger": 0}}
    assert resume_logger_kwargs(ckpt, "pytorch_lightning.loggers.WandbLogger") == {"id": "abc123", "resume": "allow"}
    assert resume_logger_kwargs(ckpt, "pytorch_lightning.loggers.CSVLogger") == {}
    assert resume_logger_kwargs({}, "pytorch_lightning.loggers.WandbLogger") == {}
