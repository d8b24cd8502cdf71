"""Random-number streams that survive checkpoint/resume.

Lightning checkpoints hold weights, optimisers and loop counters but no RNG state. For an exact resume
the GAN module draws all its randomness (latents, mixing cutoffs, noise, augmentation) from a private
stream, swapped into torch's global RNG only while a training step runs and saved per rank; the
global RNG (which shuffles data) is captured at save time and restored before the data loader of the
resumed run is created.
"""
from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["RNGStream", "capture_global_rng", "restore_global_rng", "ranks_global_rng", "rank_streams_state",
           "rank_stream_from_state", "resume_rank_stream"]

log = logging.getLogger(__name__)


class RNGStream:
    """A private torch RNG stream (CPU, plus one CUDA device when used there)."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self.cpu: Tensor = torch.Generator().manual_seed(self.seed).get_state()
        self.cuda: Tensor | None = None

    @contextlib.contextmanager
    def active(self, device: torch.device) -> Iterator[None]:
        """Within the block, torch's global RNG (CPU and `device`) continues this stream."""
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, device_type="cuda"):
            torch.set_rng_state(self.cpu)
            if devices:
                if self.cuda is None:
                    self.cuda = torch.Generator(device).manual_seed(self.seed).get_state()
                torch.cuda.set_rng_state(self.cuda, device)
            try:
                yield
            finally:
                self.cpu = torch.get_rng_state()
                if devices:
                    self.cuda = torch.cuda.get_rng_state(device)

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "cpu": self.cpu.clone(), "cuda": None if self.cuda is None else self.cuda.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed, self.cpu, self.cuda = int(state["seed"]), state["cpu"].clone(), state.get("cuda")


def capture_global_rng() -> dict[str, Any]:
    """State of Python's, NumPy's and torch's global RNGs (CPU and all visible CUDA devices)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    # Tensors and plain Python values only, so checkpoints load with torch.load(weights_only=True).
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state(),
                             "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)),
                                       "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_global_rng(state: dict[str, Any]) -> None:
    """Restore `capture_global_rng`'s state. CUDA states are mapped onto the devices this process sees: a
    checkpoint of a run on 8 GPUs resumed on 1 GPU restores the first state (DDP rank r's device is its
    `cuda:0` once CUDA_VISIBLE_DEVICES is set, else `cuda:r`), and devices without a saved state keep theirs."""
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    saved = state.get("cuda")
    if saved and torch.cuda.is_available():
        visible = torch.cuda.device_count()
        if len(saved) != visible:
            log.info("checkpoint holds %d CUDA RNG states, this process sees %d device(s): restoring the first %d",
                     len(saved), visible, min(len(saved), visible))
        for index in range(min(len(saved), visible)):
            torch.cuda.set_rng_state(saved[index], index)


def ranks_global_rng(world_size: int) -> list[dict[str, Any]]:
    """`capture_global_rng()` of every DDP rank, in rank order (gathered; call on every rank)."""
    own = capture_global_rng()
    if world_size <= 1:
        return [own]
    gathered: list[Any] = [None] * world_size
    torch.distributed.all_gather_object(gathered, own)
    return gathered


def rank_streams_state(stream: RNGStream, world_size: int) -> dict[str, Any]:
    """Checkpoint state of every rank's private stream (gathered under DDP; call on every rank) and the global RNG."""
    streams: list[Any] = [stream.state_dict()]
    if world_size > 1:
        gathered: list[Any] = [None] * world_size
        torch.distributed.all_gather_object(gathered, streams[0])
        streams = gathered
    return {"streams": streams, "global": capture_global_rng()}


def rank_stream_from_state(state: dict[str, Any], rank: int, seed: int) -> RNGStream:
    """This rank's stream from `rank_streams_state`; a rank the checkpoint did not have starts a fresh stream."""
    stream = RNGStream(seed * 1000 + rank)
    if rank < len(state["streams"]):
        stream.load_state_dict(state["streams"][rank])
    return stream


def resume_rank_stream(checkpoint: dict[str, Any], key: str, rank: int, seed: int) -> tuple[RNGStream, dict] | None:
    """(this rank's stream, the global RNG state to restore at train start) from `checkpoint[key]` written by
    `rank_streams_state`; None, with a WARNING, for a checkpoint that has no RNG state."""
    state = checkpoint.get(key)
    if state is None:
        log.warning("checkpoint has no RNG state: the resumed run will not repeat the original exactly")
        return None
    return rank_stream_from_state(state, rank, seed), state["global"]
