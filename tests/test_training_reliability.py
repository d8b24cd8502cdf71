"""Nothing a user has is silently lost: one writer per run folder, Ctrl-C and SIGTERM save a checkpoint that
resumes exactly, a failed resume keeps the run's record and falls back to an intact checkpoint, init_from
refuses files it cannot use, export refuses to overwrite its source, and wrong inputs get clear errors."""
from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from mminvert.cli import main as mminvert_cli
from mminvert.io import CheckpointError
from mminvert.runner import train
from mminvert.runner.callbacks import StepCheckpoint
from mminvert.runner.callbacks.interrupt import StopRequest, defer_sigint
from mminvert.runner.run_lock import LOCK_NAME, RunFolderLock, RunFolderLockedError
from tests.conftest import COMPACT_FIXTURES
from tests.test_inpainting_training import BASE, REPO, compose_cfg, losses_by_step

QUIET = ["+trainer.limit_val_batches=0", "trainer.log_every_n_steps=1"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A 2-step tiny run with checkpoints at steps 1 and 2 (step_0000001.ckpt, step_0000002.ckpt, last.ckpt)."""
    run = tmp_path_factory.mktemp("trained")
    train(compose_cfg(run, *QUIET, "trainer.max_steps=2", "callbacks.checkpoint.every_n_steps=1",
                      "callbacks.checkpoint.keep=-1"))
    return run


def steps_logged(run: Path) -> int:
    """Training steps in the run's metrics.csv so far (0 while none is written or a write is under way)."""
    try:
        return len(losses_by_step(run)) if list(run.glob("csv/*/metrics.csv")) else 0
    except (ValueError, KeyError):
        return 0


@pytest.fixture
def sigint_default():
    """Python's own SIGINT handler in this process (a test runner's worker may have changed it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def one_thread():
    """One intra-op thread here (as OMP_NUM_THREADS=1 in a subprocess): the same float reductions in both, so
    numbers computed in one process can equal those of the other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def copy_run(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("data"))
    return dest


def data_dir_of(run: Path) -> str:
    return f"paths.data_dir={run}/data"


# ------------------------------------------------------------------------------------- run-folder lock

def test_a_second_training_in_a_used_run_folder_is_refused_and_a_stale_lock_is_taken_over(tmp_path, caplog):
    script = ("import time; from mminvert.runner.run_lock import RunFolderLock; "
              f"RunFolderLock({str(tmp_path)!r}).acquire(); print('locked', flush=True); time.sleep(600)")
    holder = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderLockedError, match=rf"in use by pid {holder.pid} on host .*still running"):
            train(compose_cfg(tmp_path, *QUIET, "trainer.max_steps=1"))
        assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "config.yaml").exists()
    finally:
        holder.kill()  # SIGKILL: the holder cannot remove its lock
        holder.wait()
    assert (tmp_path / LOCK_NAME).is_file()
    with caplog.at_level(logging.WARNING, logger="mminvert.runner.run_lock"):
        train(compose_cfg(tmp_path, *QUIET, "trainer.max_steps=1"))
    assert f"stale lock of pid {holder.pid}" in caplog.text
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 1
    assert not (tmp_path / LOCK_NAME).exists()  # released at the end of the run


def test_a_lock_from_another_host_is_refused_and_a_reused_pid_is_stale(tmp_path):
    lock = tmp_path / LOCK_NAME
    lock.write_text('{"host": "elsewhere", "pid": 1, "started": 0, "started_utc": "x"}')
    with pytest.raises(RunFolderLockedError, match="another host"):
        RunFolderLock(tmp_path).acquire()
    # This process's own pid, but written before it started: the pid was reused, the lock is stale.
    import socket

    lock.write_text(f'{{"host": "{socket.gethostname()}", "pid": {os.getpid()}, "started": 0}}')
    with RunFolderLock(tmp_path) as held:
        assert held.holder()["started"] > 0
    assert not lock.exists()


def test_checkpoint_temporary_names_are_unique_per_writer(tmp_path, monkeypatch):
    names = []

    def save_checkpoint(path, weights_only=False):
        names.append(Path(path).name)
        Path(path).write_bytes(b"state")

    trainer = SimpleNamespace(save_checkpoint=save_checkpoint, is_global_zero=True,
                              strategy=SimpleNamespace(barrier=lambda name: None))
    for pid in (111, 222):
        monkeypatch.setattr(os, "getpid", lambda pid=pid: pid)
        StepCheckpoint(tmp_path, every_n_steps=5)._save(trainer, 5, periodic=True)
    assert names[0] != names[1]  # two writers saving the same step never rename each other's partial file
    assert (tmp_path / "step_0000005.ckpt").read_bytes() == (tmp_path / "last.ckpt").read_bytes() == b"state"
    assert not list(tmp_path.glob(".*tmp"))


# ---------------------------------------------------------------------------------------- Ctrl-C, SIGTERM

def test_sigint_inside_a_file_write_is_delivered_after_it(sigint_default):
    stop = StopRequest()
    stop.install()
    try:
        with defer_sigint():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the signal has arrived; the write goes on
        assert stop.requested  # the first Ctrl-C: a stop request, delivered after the block
        with pytest.raises(KeyboardInterrupt):
            with defer_sigint():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
                written = True  # the second Ctrl-C does not cut the write short ...
        assert written  # ... and is raised once it is complete
    finally:
        stop.uninstall()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):  # without StopRequest: the default handler, deferred
        with defer_sigint():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_run_saves_its_step_and_resumes_exactly(tmp_path, signum, one_thread):
    run, ref = tmp_path / "run", tmp_path / "ref"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *BASE, *QUIET, "trainer.max_steps=400",
                             "+logger.flush_logs_every_n_steps=1", f"hydra.run.dir={run}", data_dir_of(tmp_path)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    try:
        deadline = time.time() + 300
        while steps_logged(run) < 3:
            assert proc.poll() is None and time.time() < deadline, "training did not start"
            time.sleep(0.2)
        proc.send_signal(signum)  # once: a single Ctrl-C must be enough
        out, _ = proc.communicate(timeout=180)
    finally:
        proc.kill()
    print(f"{signum.name}: exit status {proc.returncode}")
    if signum == signal.SIGINT:
        assert proc.returncode != 0, out[-2000:]  # interrupted, not finished (SIGTERM: Lightning's exit status)
    assert f"training stopped by {signum.name if signum == signal.SIGTERM else 'Ctrl-C'}" in out, out[-3000:]
    saved = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    n = saved["global_step"]
    assert 3 <= n < 400
    assert not list((run / "checkpoints").glob(".*")) and not (run / LOCK_NAME).exists()

    # Run the same training again in the folder (auto-resume), and once uninterrupted: the same numbers.
    train(compose_cfg(run, *QUIET, f"trainer.max_steps={n + 2}", data_dir_of(tmp_path)))
    train(compose_cfg(ref, *QUIET, f"trainer.max_steps={n + 2}", data_dir_of(tmp_path)))
    a, b = losses_by_step(ref), losses_by_step(run)
    assert set(a) == set(b) == set(range(n + 2))
    assert all(a[s] == b[s] for s in a), [(s, a[s], b[s]) for s in a if a[s] != b[s]]
    wa = torch.load(ref / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    wb = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


# ----------------------------------------------------------------------------------- resume and its record

def test_a_corrupt_last_ckpt_falls_back_to_the_newest_intact_step_file(trained_run, tmp_path, caplog):
    run = copy_run(trained_run, tmp_path / "run")
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # a save cut short by a full disk
    with caplog.at_level(logging.WARNING, logger="mminvert.runner.resume"):
        train(compose_cfg(run, *QUIET, "trainer.max_steps=3", data_dir_of(trained_run)))
    assert "last.ckpt" in caplog.text and "continuing from" in caplog.text and "step_0000002.ckpt" in caplog.text
    assert torch.load(last, weights_only=True)["global_step"] == 3
    assert set(losses_by_step(run)) == {0, 1, 2}


def test_an_explicit_corrupt_ckpt_path_names_the_intact_checkpoints(trained_run, tmp_path):
    run = copy_run(trained_run, tmp_path / "run")
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"last\.ckpt.*Intact checkpoints.*step_0000002\.ckpt \(step 2\)"):
        train(compose_cfg(tmp_path / "new", *QUIET, f"ckpt_path={last}", data_dir_of(trained_run)))


def test_a_failed_resume_keeps_the_run_config(trained_run, tmp_path):
    run = copy_run(trained_run, tmp_path / "run")
    record = (run / "config.yaml").read_bytes()
    for ckpt in (run / "checkpoints").glob("*.ckpt"):
        ckpt.write_bytes(b"PK\x03\x04 not a checkpoint")
    with pytest.raises(CheckpointError, match="none can be read"):
        train(compose_cfg(run, *QUIET, "trainer.max_steps=5", data_dir_of(trained_run)))
    assert (run / "config.yaml").read_bytes() == record

    run = copy_run(trained_run, tmp_path / "run2")  # readable, but of another architecture: refused
    with pytest.raises(CheckpointError, match="cannot continue this run from the checkpoint"):
        train(compose_cfg(run, *QUIET, "trainer.max_steps=5", "model.skip=false", data_dir_of(trained_run)))
    assert (run / "config.yaml").read_bytes() == record


@pytest.mark.parametrize("override, differs", [
    ("model/generator=random64", r"generator\.resolution: 32 in the checkpoint, 64 configured"),
    ("model.encoder.channels=[8,16,16,32]", r"encoder\.channels: \[8, 16, 16, 16\] in the checkpoint, \[8, 16, 16, 32\] "
                                            r"configured")])
def test_resuming_into_another_architecture_says_what_differs(trained_run, tmp_path, override, differs):
    run = copy_run(trained_run, tmp_path / "run")
    with pytest.raises(CheckpointError) as info:
        train(compose_cfg(run, *QUIET, "trainer.max_steps=5", override, data_dir_of(trained_run)))
    message = str(info.value)
    assert re.search(r"last\.ckpt: cannot continue this run from the checkpoint: its architecture differs", message)
    assert re.search(differs, message), message
    assert re.search(r"Tensors: \d+ of another shape \(e\.g\. model\.", message)
    assert "init_from=" in message and "hydra.run.dir=" in message and "config.yaml" in message
    assert len(message.splitlines()) < 25  # not a dump of every key


@pytest.mark.parametrize("kind", ["stylegan2", "bundle"])
def test_ckpt_path_of_another_kind_of_file_says_what_it_is(trained_run, tmp_path, kind):
    if kind == "bundle":
        path = tmp_path / "bundle.pt"
        assert mminvert_cli(["export", f"ckpt={trained_run}", f"out={path}"]) == 0
        what = "mminvert inference bundle"
    else:
        path, what = COMPACT_FIXTURES.rosinality, "rosinality StyleGAN2 checkpoint"
    with pytest.raises(CheckpointError, match=rf"this is an? {what}.*ckpt_path expects a full training checkpoint"
                                              r".*init_from=.*model\.generator\.path="):
        train(compose_cfg(tmp_path / "new", *QUIET, f"ckpt_path={path}", data_dir_of(trained_run)))
    assert not (tmp_path / "new" / "config.yaml").exists()


# ---------------------------------------------------------------------------------------------- init_from

def test_init_from_refuses_a_file_that_fills_too_few_tensors(trained_run, tmp_path, caplog):
    gan = COMPACT_FIXTURES.rosinality
    with pytest.raises(CheckpointError, match=r"fills only 0 of the model's \d+ trainable tensors.*50%.*"
                                              r"rosinality StyleGAN2.*init_from_strict=false"):
        train(compose_cfg(tmp_path / "a", *QUIET, "trainer.max_steps=1", f"init_from={gan}", data_dir_of(trained_run)))
    assert not (tmp_path / "a" / "checkpoints").exists()
    with caplog.at_level(logging.WARNING, logger="mminvert.runner.run"):
        train(compose_cfg(tmp_path / "b", *QUIET, "trainer.max_steps=1", f"init_from={gan}", "init_from_strict=false",
                          data_dir_of(trained_run)))
    assert "fills only 0" in caplog.text and (tmp_path / "b" / "checkpoints" / "last.ckpt").is_file()


# ---------------------------------------------------------------------------------------- export, config

def test_export_refuses_to_overwrite_its_own_source(trained_run, tmp_path, monkeypatch, capsys):
    run = copy_run(trained_run, tmp_path / "run")
    last = run / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    link = tmp_path / "link.ckpt"
    link.symlink_to(last)
    monkeypatch.chdir(run)
    for ckpt, out in [(run, last), (last, link), (run, "checkpoints/../checkpoints/last.ckpt"),
                      (link, "checkpoints/last.ckpt")]:
        assert mminvert_cli(["export", f"ckpt={ckpt}", f"out={out}", "overwrite=true"]) == 1
        assert "that is the checkpoint being exported" in capsys.readouterr().err
    assert last.read_bytes() == before
    assert mminvert_cli(["export", f"ckpt={run}", "out=bundle.pt", "overwrite=true"]) == 0  # another file is fine


def test_a_non_numeric_trainer_setting_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"trainer\.max_steps must be an integer \(or null\), got 'abc'"):
        train(compose_cfg(tmp_path, "trainer.max_steps=abc"))
    with pytest.raises(ValueError, match=r"callbacks\.checkpoint\.every_n_steps must be an integer"):
        StepCheckpoint(tmp_path, every_n_steps="often")


@pytest.mark.parametrize("override, message", [
    ("data.batch_size=four", r"data\.batch_size must be an integer, got 'four'"),
    ("data.num_workers=1.5", r"data\.num_workers must be an integer, got 1\.5"),
    ("data.hflip=maybe", r"data\.hflip must be true or false, got 'maybe'")])
def test_a_wrongly_typed_setting_of_a_built_object_is_named(tmp_path, override, message):
    with pytest.raises(ValueError, match=message):
        train(compose_cfg(tmp_path, override))
    assert not (tmp_path / "config.yaml").exists()
