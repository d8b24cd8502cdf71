"""Multi-device and cluster readiness, checked on CPU: every task trains under DDP with its preset's own trainer
config, fp16 is refused, bf16 keeps the sensitive sums in fp32, SLURM's pre-timeout signal saves and stops every
rank and the run resumes exactly, checkpoints resume on another device count, FID reals and validation metrics
cover the whole data set on any number of ranks."""
from __future__ import annotations

import csv
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from pytorch_lightning.strategies import DDPStrategy
from torch import nn

from mminvert.baselines.wgan_gp import DCGANCritic, DCGANGenerator
from mminvert.baselines.wgan_gp.losses import gradient_penalty
from mminvert.metrics import InpaintingMetrics
from mminvert.runner.run import build_module
from mminvert.stylegan2.modconv import demodulation
from mminvert.tasks import WGANGPModule
from mminvert.utils import rng

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
QUIET = ["++trainer.enable_progress_bar=false", "logger=csv"]
# The smallest preset of each task, with the trainer config the preset picks (trainer=cpu: strategy auto).
TASKS = {
    "inpainting": ["experiment=inpainting_tiny", "+trainer.limit_val_batches=0"],
    "stylegan2": ["experiment=stylegan2_tiny", "callbacks.samples.every_n_steps=0", "callbacks.fid.enabled=false"],
    "diverse": ["experiment=diverse_tiny", "+trainer.limit_val_batches=0"],
    "wgan_gp": ["experiment=wgan_gp_tiny", "callbacks.samples.every_n_steps=0"],
}
RNG_KEY = {"inpainting": "inpainting_rng", "stylegan2": "stylegan2_rng", "diverse": "diverse_rng", "wgan_gp": "wgan_gp_rng"}


def compose_cfg(out: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=[f"paths.output_dir={out}", f"paths.data_dir={out}/data", *overrides])


def run_train(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def tiny_wgan() -> WGANGPModule:
    return WGANGPModule(DCGANGenerator(resolution=32, z_dim=8, width=8), DCGANCritic(resolution=32, width=8),
                        g_optimizer=torch.optim.Adam, d_optimizer=torch.optim.Adam)


# ------------------------------------------------------------------------------------------ strategy, SyncBN
def test_any_ddp_strategy_finds_unused_parameters_and_refuses_a_static_graph(caplog):
    from mminvert.runner.distributed import configure_ddp

    trainer = pl.Trainer(accelerator="cpu", devices=2, logger=False, enable_progress_bar=False)  # strategy auto
    assert isinstance(trainer.strategy, DDPStrategy) and not trainer.strategy._ddp_kwargs.get("find_unused_parameters")
    module = tiny_wgan()
    with caplog.at_level(logging.WARNING, logger="mminvert.runner.distributed"):
        configure_ddp(trainer, module)
    assert trainer.strategy._ddp_kwargs["find_unused_parameters"] is True
    assert "BatchNorm" in caplog.text  # CPU: per-rank statistics, said so (torch's SyncBatchNorm needs CUDA)
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in module.modules())

    static = SimpleNamespace(strategy=DDPStrategy(static_graph=True), world_size=2)
    with pytest.raises(ValueError, match="static_graph"):
        configure_ddp(static, tiny_wgan())


def test_batchnorm_becomes_syncbatchnorm_under_cuda_ddp():
    from mminvert.runner.distributed import configure_ddp

    cuda = [torch.device("cuda", 0), torch.device("cuda", 1)]  # constructing the strategy needs no GPU
    trainer = SimpleNamespace(strategy=DDPStrategy(parallel_devices=cuda), world_size=2)
    module = tiny_wgan()
    n_bn = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.generator.modules())
    configure_ddp(trainer, module)
    assert n_bn > 0 and sum(isinstance(m, nn.SyncBatchNorm) for m in module.generator.modules()) == n_bn
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in module.critic.modules())  # the critic has none


# ---------------------------------------------------------------------------------------------- precision
@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_refuses_fp16_and_accepts_bf16(tmp_path, task):
    module = build_module(compose_cfg(tmp_path, *TASKS[task]))
    module._trainer = SimpleNamespace(precision="16-mixed")
    with pytest.raises(ValueError, match=r"precision=16-mixed is not supported.*bf16-mixed"):
        module.on_fit_start()
    module._trainer = SimpleNamespace(precision="bf16-mixed")
    module.on_fit_start()


def test_bf16_autocast_keeps_demodulation_and_gradient_penalties_in_fp32():
    gen = torch.Generator().manual_seed(0)
    weight, styles = torch.randn(32, 64, 3, 3, generator=gen) / 24, torch.randn(4, 64, generator=gen)
    reference = demodulation(weight, styles)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        demod = demodulation(weight, styles)
    assert demod.dtype == torch.float32
    torch.testing.assert_close(demod, reference, rtol=1e-6, atol=0)

    critic = DCGANCritic(resolution=32, width=8)
    real, fake = torch.randn(2, 3, 32, 32, generator=gen), torch.randn(2, 3, 32, 32, generator=gen)
    eps = torch.tensor([0.3, 0.7])
    fp32 = gradient_penalty(critic, real, fake, eps)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = gradient_penalty(critic, real, fake, eps)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, fp32, rtol=1e-6, atol=1e-7)


def test_stylegan2_r1_is_computed_in_fp32_under_bf16_autocast(tmp_path):
    module = build_module(compose_cfg(tmp_path, *TASKS["stylegan2"]))
    real = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    reference, _ = module.r1_loss(real)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed, terms = module.r1_loss(real)
    assert terms["r1_penalty"].dtype == torch.float32
    torch.testing.assert_close(mixed, reference, rtol=1e-6, atol=1e-9)


# ----------------------------------------------------------------------------------------- SLURM launcher
@pytest.mark.parametrize(("trainer", "nodes"), [("trainer=gpu", 1), ("trainer=default", 1), ("trainer=ddp", 1),
                                               ("trainer=ddp trainer.num_nodes=2", 2)])
def test_submitit_launcher_nodes_resolve_for_every_trainer_preset(trainer, nodes):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["hydra/launcher=submitit_slurm", *trainer.split()], return_hydra_config=True)
    assert OmegaConf.select(cfg, "hydra.launcher.nodes", throw_on_missing=True) == nodes


# ------------------------------------------------------------------------------------------ RNG on resume
def test_cuda_rng_states_of_more_devices_restore_on_fewer(monkeypatch, caplog):
    restored: list[tuple[int, torch.Tensor]] = []

    def set_rng_state(state: torch.Tensor, device: int = 0) -> None:
        if device >= 1:
            raise IndexError(f"no CUDA device {device}")
        restored.append((device, state))

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_rng_state", set_rng_state)
    monkeypatch.setattr(torch.cuda.random, "set_rng_state", set_rng_state)
    state = rng.capture_global_rng()
    state["cuda"] = [torch.full((16,), i, dtype=torch.uint8) for i in range(8)]  # saved on 8 GPUs
    with caplog.at_level(logging.INFO, logger="mminvert.utils.rng"):
        rng.restore_global_rng(state)
    assert [d for d, _ in restored] == [0] and torch.equal(restored[0][1], state["cuda"][0])
    assert "8 CUDA RNG states" in caplog.text


# -------------------------------------------------------------------------------------------------- FID
class _Reals(pl.LightningDataModule):
    """Training batches are 'augmented' (all +1); real_images() item i is the constant image i / 100."""

    num_workers = 0

    def __init__(self, length: int) -> None:
        super().__init__()
        self.length = length

    def train_dataloader(self):
        return torch.utils.data.DataLoader([{"image": torch.ones(3, 8, 8)}] * self.length, batch_size=2)

    def real_images(self):
        return [torch.full((3, 8, 8), i / 100) for i in range(self.length)]


class _Recorder(nn.Module):
    """A feature extractor that records the mean value of each real image it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[float] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen += [round(float(v), 4) for v in x.mean(dim=(1, 2, 3))]
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], 1).double()


def test_fid_reals_are_the_first_unaugmented_images_and_short_reals_warn(tiny_generator, caplog):
    from mminvert.runner.callbacks import FIDCallback

    module = SimpleNamespace(device=torch.device("cpu"), g_ema=tiny_generator)
    recorder = _Recorder()
    fid = FIDCallback(num_images=6, batch_size=4, metric_kwargs={"features": recorder})
    trainer = SimpleNamespace(is_global_zero=True, global_step=10, datamodule=_Reals(length=10), world_size=1)
    fid.on_fit_start(trainer, module)
    fid.metric.features = recorder
    fid.compute(trainer, module)
    assert recorder.seen[:6] == [i / 100 for i in range(6)]  # images 0..5, not the +1 training batches

    short = FIDCallback(num_images=6, batch_size=4, metric_kwargs={"features": _Recorder()})
    trainer.datamodule = _Reals(length=4)
    short.on_fit_start(trainer, module)
    with caplog.at_level(logging.WARNING, logger="mminvert.runner.callbacks.fid"):
        short.compute(trainer, module)
    assert "has 4 images, fewer than callbacks.fid.num_images=6" in caplog.text


# ------------------------------------------------------------------------------------- evaluation device
def test_evaluation_networks_run_on_the_modules_device_and_receive_their_images_there(tmp_path):
    moved: list[torch.device] = []
    seen: list[tuple[torch.device, torch.device]] = []

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(()))

        def to(self, *args, **kwargs):
            moved.append(torch.device(args[0]))
            return super().to(*args, **kwargs)

        def forward(self, x, y=None):
            seen.append((x.device, self.w.device))
            return x.flatten(1)[:, :4].double() if y is None else (x - y).abs().mean(dim=(1, 2, 3))

    suite = InpaintingMetrics(["fid", "lpips"], inception=Net(), lpips=Net()).to(torch.device("cpu"))
    x = torch.zeros(2, 3, 8, 8)
    suite.update(x, x, torch.ones(2, 1, 8, 8))
    assert moved == [torch.device("cpu")] * 2 and all(a == b for a, b in seen) and len(seen) == 3

    # validation: the suite is moved to the LightningModule's device at every validation start
    module = build_module(compose_cfg(tmp_path, *TASKS["inpainting"], "task.module.val_metrics=[psnr]"))
    module.on_validation_epoch_start()
    calls: list[torch.device] = []
    module._metrics.to = lambda device: calls.append(torch.device(device)) or module._metrics
    module.on_validation_epoch_start()
    assert calls == [module.device]


# --------------------------------------------------------------------------------- DDP validation sums
def _merge_worker(rank: int, world: int, init_file: str, out: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    images, targets, masks, logits, seg = _validation_data()
    part = slice(0, 1) if rank == 0 else slice(1, 4)  # uneven shards: 1 and 3 images
    suite = InpaintingMetrics(["psnr", "l1_hole", "miou"], num_classes=3)
    suite.update(images[part], targets[part], masks[part], logits[part], seg[part])
    suite.merge_ranks()
    torch.save(suite.compute(), f"{out}.{rank}")
    torch.distributed.destroy_process_group()


def _validation_data():
    g = torch.Generator().manual_seed(0)
    images, targets = torch.rand(4, 3, 8, 8, generator=g) * 2 - 1, torch.rand(4, 3, 8, 8, generator=g) * 2 - 1
    masks = (torch.rand(4, 1, 8, 8, generator=g) > 0.5).float()
    logits, seg = torch.randn(4, 3, 8, 8, generator=g), torch.randint(0, 3, (4, 8, 8), generator=g)
    seg[3] = 2  # the last image alone holds most of class 2: a mean of per-rank mIoUs would differ
    return images, targets, masks, logits, seg


def test_validation_metrics_are_those_of_the_whole_set_under_ddp(tmp_path):
    out = str(tmp_path / "metrics")
    torch.multiprocessing.spawn(_merge_worker, args=(2, str(tmp_path / "init"), out), nprocs=2, join=True)
    whole = InpaintingMetrics(["psnr", "l1_hole", "miou"], num_classes=3)
    whole.update(*_validation_data())
    expected = whole.compute()
    for rank in (0, 1):
        got = torch.load(f"{out}.{rank}", weights_only=True)
        assert got == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------------- DDP on 2 CPU processes
@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_trains_under_ddp_with_its_presets_trainer(tmp_path, task):
    r = run_train([*TASKS[task], *QUIET, "trainer.accelerator=cpu", "trainer.devices=2", "trainer.max_steps=2",
                   f"hydra.run.dir={tmp_path}", f"paths.data_dir={tmp_path}/data"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "GLOBAL_RANK: 1" in r.stdout + r.stderr  # two processes trained
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 2
    state = ckpt[RNG_KEY[task]]
    if task == "inpainting":  # the global RNG (noise inputs) differs per rank
        ranks = state["ranks"]
        assert len(ranks) == 2 and not torch.equal(ranks[0]["torch"], ranks[1]["torch"])
    else:  # each rank's private stream
        assert len(state["streams"]) == 2 and not torch.equal(state["streams"][0]["cpu"], state["streams"][1]["cpu"])


@pytest.mark.slow
def test_celebahq_preset_trains_three_ddp_steps_on_two_cpu_processes(tmp_path):
    """The paper preset (trainer=gpu, MMInvertFill-256 model and loss classes) with the bundled 64 px scenes
    generator, the built-in scenes and narrow widths: the smallest form of
    `python train.py experiment=celebahq_mminvertfill trainer.accelerator=cpu trainer.devices=2`."""
    r = run_train(["experiment=celebahq_mminvertfill", "trainer.accelerator=cpu", "trainer.devices=2", "data=scenes",
                   "model.generator.path=scenes64", "model.generator.resolution=64", "data.batch_size=2",
                   "loss.terms.perceptual.weight=0", "model.encoder.channels=[8,16,16,16]", "model.map_hidden=32",
                   "model.encoder.bottleneck.depth=1", "model.encoder.heads=2", "loss.terms.adversarial.width=8",
                   "trainer.max_steps=3", "+trainer.limit_val_batches=0", *QUIET,
                   f"hydra.run.dir={tmp_path}", f"paths.data_dir={tmp_path}/data"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "GLOBAL_RANK: 1" in r.stdout + r.stderr
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 3


def _steps_logged(run: Path) -> int:
    steps = set()
    for f in run.glob("csv/*/metrics.csv"):
        try:
            with open(f) as fh:
                steps |= {int(row["step"]) for row in csv.DictReader(fh) if row.get("train/loss")}
        except (ValueError, KeyError):
            pass
    return len(steps)


@pytest.mark.slow
def test_sigusr1_under_ddp_saves_stops_every_rank_and_resumes_exactly(tmp_path):
    """SLURM's pre-timeout signal (sbatch --signal=USR1@120) reaches rank 0 only: both ranks stop at the same
    step, last.ckpt holds it, both processes exit; the requeued command continues to the same weights as an
    uninterrupted run."""
    base = [*TASKS["inpainting"], *QUIET, "trainer.accelerator=cpu", "trainer.devices=2", "trainer.log_every_n_steps=1",
            "+logger.flush_logs_every_n_steps=1", "callbacks.checkpoint.stop_check_every_n_steps=2",
            "callbacks.run_estimate=null", f"paths.data_dir={tmp_path}/data"]
    run, ref = tmp_path / "run", tmp_path / "ref"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *base, "trainer.max_steps=400",
                             f"hydra.run.dir={run}"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 300
        while _steps_logged(run) < 3:
            assert proc.poll() is None and time.time() < deadline, "training did not start"
            time.sleep(0.2)
        proc.send_signal(signal.SIGUSR1)
        out, _ = proc.communicate(timeout=120)  # no rank left waiting in a collective
    finally:
        proc.kill()
    assert proc.returncode == 0, out[-3000:]
    assert out.count("training stopped by SIGUSR1") == 2, out[-3000:]  # both ranks, the same step
    assert "outside a SLURM job: not requeued" in out
    n = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    assert 3 <= n < 400 and n % 2 == 0

    for folder in (run, ref):  # the requeued job (same folder, auto-resume) and an uninterrupted run
        r = run_train([*base, f"trainer.max_steps={n + 2}", f"hydra.run.dir={folder}"], cwd=tmp_path)
        assert r.returncode == 0, r.stderr[-3000:]
    wa = torch.load(ref / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    wb = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa), [k for k in wa if not torch.equal(wa[k], wb[k])][:5]
