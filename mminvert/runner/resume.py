"""Which training checkpoint a run continues from, checked before anything in the run folder is written.

`ckpt_path=` must be a full training checkpoint (what `StepCheckpoint` writes); other files get an error that
says what they are and where they belong. Without `ckpt_path`, a run folder holding checkpoints continues
from its newest intact one: `last.ckpt`, else the newest readable `step_*.ckpt` (with a warning naming the
file that could not be used).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..io.checkpoint_file import read_checkpoint
from ..io.errors import CheckpointError
from ..io.formats import ARCHITECTURE_KEY, BUNDLE_FORMAT, STYLEGAN2_FORMAT
from ..io.run_folder import LAST_CHECKPOINT, STEP_CHECKPOINT_GLOB
from ..io.safe_pickle import PersistentStub

__all__ = ["read_training_checkpoint", "check_resume_checkpoint", "find_resume_checkpoint", "intact_neighbours",
           "describe_checkpoint", "check_resume_fits", "architecture_differences"]

log = logging.getLogger(__name__)
_LIGHTNING_KEYS = ("pytorch-lightning_version", "state_dict", "global_step")


def describe_checkpoint(obj: Any) -> str:
    """What a checkpoint file holds, in words ('an inference bundle', 'a rosinality StyleGAN2 checkpoint')."""
    if not isinstance(obj, dict):
        return f"a {type(obj).__name__}, not a checkpoint dictionary"
    fmt = obj.get("format")
    if fmt == BUNDLE_FORMAT:
        return "an mminvert inference bundle (weights only, written by `mminvert export`)"
    if fmt == STYLEGAN2_FORMAT:
        return "a StyleGAN2 checkpoint in mminvert's format (generator weights)"
    if "g_ema" in obj:
        return "a rosinality StyleGAN2 checkpoint (generator weights)"
    if "G_ema" in obj or any(isinstance(v, PersistentStub) for v in obj.values()):
        return "an NVlabs StyleGAN2 network file (generator weights)"
    if "pytorch-lightning_version" in obj:
        missing = [k for k in _LIGHTNING_KEYS if k not in obj]
        return f"a Lightning checkpoint without {', '.join(missing)}" if missing else "a training checkpoint"
    keys = ", ".join(map(str, list(obj)[:6]))
    return f"a dictionary of another kind (keys: {keys})"


def read_training_checkpoint(path: str | Path) -> dict[str, Any]:
    """The contents of a full training checkpoint; CheckpointError if the file is unreadable or another kind."""
    obj = read_checkpoint(path)
    if isinstance(obj, dict) and all(k in obj for k in _LIGHTNING_KEYS):
        return obj
    raise CheckpointError(path, f"this is {describe_checkpoint(obj)}, but ckpt_path expects a full training "
                                "checkpoint written by train.py (<run>/checkpoints/last.ckpt or step_*.ckpt) to "
                                "continue a run. To start a new run from these weights use init_from=<file> (a "
                                "training checkpoint or inference bundle of the same task); a StyleGAN2 generator "
                                "file belongs in model.generator.path=<file> (with model.generator.pretrained=true).")


def _step_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(STEP_CHECKPOINT_GLOB), reverse=True)  # zero-padded step numbers: newest first


def intact_neighbours(path: Path) -> list[tuple[Path, int]]:
    """Readable training checkpoints beside `path` (its step_*.ckpt files), newest first, with their steps."""
    found = []
    for p in _step_files(path.parent):
        if p.resolve() == path.resolve():
            continue
        try:
            found.append((p, int(read_training_checkpoint(p)["global_step"])))
        except CheckpointError:
            continue
    return found


def check_resume_checkpoint(path: str | Path) -> dict[str, Any]:
    """`ckpt_path` as given: read and checked; an unusable file's error names the intact ones beside it."""
    path = Path(path)
    try:
        return read_training_checkpoint(path)
    except CheckpointError as e:
        intact = intact_neighbours(path) if path.parent.is_dir() else []
        if not intact:
            raise
        names = ", ".join(f"{p} (step {s})" for p, s in intact)
        raise CheckpointError(None, f"{e} Intact checkpoints of this run: {names}; continue from the newest with "
                                    f"ckpt_path={intact[0][0]}.") from None


def find_resume_checkpoint(dirpath: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest intact checkpoint of a run folder's `checkpoints/` (last.ckpt first), with its contents;
    None when the folder has no checkpoint. CheckpointError when it has some and none can be read."""
    folder = Path(dirpath)
    last = folder / LAST_CHECKPOINT
    candidates = ([last] if last.is_file() else []) + _step_files(folder)
    if not candidates:
        return None
    problems = []
    for p in candidates:
        try:
            obj = read_training_checkpoint(p)
        except CheckpointError as e:
            problems.append(str(e))
            continue
        if problems:
            log.warning("cannot continue from %s; continuing from %s (step %d), the newest intact checkpoint "
                        "of this run folder. The unreadable file is left as it is (a new last.ckpt replaces it "
                        "at the next save).", "; ".join(problems), p, int(obj["global_step"]))
        return p, obj
    raise CheckpointError(folder, "this run folder holds checkpoints but none can be read, so the run cannot "
                                  f"continue: {'; '.join(problems)}. Move them aside to start the run over, or "
                                  "train into a new folder.")


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """{'generator.resolution': 32, ...} from nested dicts (lists and other values kept whole)."""
    if not isinstance(d, dict):
        return {prefix.rstrip("."): d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}{k}."))
    return out


def architecture_differences(saved: dict[str, Any], configured: dict[str, Any]) -> list[str]:
    """'generator.resolution: 32 in the checkpoint, 64 configured' for each architecture key that differs."""
    a, b = _flatten(saved), _flatten(configured)
    absent = object()

    def show(v: Any) -> str:
        return "absent" if v is absent else repr(v)

    return [f"{k}: {show(a.get(k, absent))} in the checkpoint, {show(b.get(k, absent))} configured"
            for k in sorted(set(a) | set(b)) if a.get(k, absent) != b.get(k, absent)]


def check_resume_fits(module: Any, checkpoint: dict[str, Any], path: str | Path) -> None:
    """CheckpointError naming what differs (architecture keys such as the resolution, widths and model class;
    missing, unexpected and reshaped tensors) when the training checkpoint `checkpoint` (read from `path`) is
    not of the configured `module`. Lightning would otherwise fail inside `load_state_dict` with hundreds of
    lines of key names."""
    state = checkpoint.get("state_dict", {})
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    reshaped = [f"{k}: {tuple(state[k].shape)} in the checkpoint, {tuple(own[k].shape)} configured" for k in own
                if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or reshaped):
        return
    saved_arch = checkpoint.get(ARCHITECTURE_KEY)
    model = getattr(module, "model", None)
    own_arch = model.architecture() if hasattr(model, "architecture") else None
    lines = architecture_differences(saved_arch, own_arch) if isinstance(saved_arch, dict) and own_arch else []

    def some(keys: list[str]) -> str:
        return "; ".join(keys[:3]) + (f"; ... ({len(keys)} in all)" if len(keys) > 3 else "")

    tensors = [f"{len(x)} {what} (e.g. {some(x)})" for x, what in
               ((reshaped, "of another shape"), (missing, "missing from the checkpoint"),
                (unexpected, "in the checkpoint only")) if x]
    what = ("its architecture differs from the configured one:\n  " + "\n  ".join(lines[:12])
            + (f"\n  ... ({len(lines)} differences in all)" if len(lines) > 12 else "") + "\n" if lines else
            "it holds the weights of another model than the configured one (a different task or model class).\n")
    raise CheckpointError(path, "cannot continue this run from the checkpoint: " + what
                          + "Tensors: " + ", ".join(tensors) + ".\n"
                          "To continue the run, use the configuration it was started with (its config.yaml). To "
                          "train the new configuration, start a new run: in a new run folder (hydra.run.dir=...), "
                          f"with init_from={path} to reuse the weights that fit.")
