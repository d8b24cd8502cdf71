"""Train the scenes attribute classifier:

    python -m mminvert.editing.train_classifier --out mminvert/assets/scenes64_attributes.pt

Renders `--train` scenes of the train split and `--test` of the test split (held out) at `--resolution`,
labels them with `attribute_labels` (exact label maps), trains `SceneAttributeClassifier` with BCE and
Adam (horizontal flips, random blur and noise so it also reads the generator's softer images), and
writes the file with the held-out accuracy per attribute in its `info`. CPU minutes at 64 px.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.scenes import ScenesSource
from .attributes import MIN_FRACTION, SCENE_ATTRIBUTES, attribute_labels
from .classifier import SceneAttributeClassifier, save_attribute_classifier

__all__ = ["render_attribute_set", "train_classifier", "per_attribute_accuracy", "main"]

log = logging.getLogger(__name__)


def render_attribute_set(split: str, n: int, resolution: int, seed: int = 0,
                         min_fraction: float = MIN_FRACTION) -> tuple[Tensor, Tensor]:
    """Scenes `split` items 0..n-1 -> images (n, 3, R, R) in [-1, 1] and labels (n, K) in {0, 1}."""
    src = ScenesSource(split, resolution, seed=seed, num_train=50_000, num_val=512, num_test=max(n, 1000))
    imgs, labs = [], []
    for i in range(n):
        img, lab, _ = src.load(i)
        imgs.append(img)
        labs.append(lab)
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 127.5 - 1
    return x, torch.from_numpy(attribute_labels(np.stack(labs), min_fraction))


def _augment(x: Tensor, gen: torch.Generator) -> Tensor:
    B = x.shape[0]
    flip = torch.rand(B, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    # blur half of the batch with a 3×3 binomial kernel (the generator's images are softer than renders)
    k = torch.tensor([1.0, 2.0, 1.0])
    k = (k[:, None] * k[None, :] / 16).expand(3, 1, 3, 3)
    blurred = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=3)
    blur = torch.rand(B, generator=gen) < 0.5
    x = torch.where(blur[:, None, None, None], blurred, x)
    return x + 0.03 * torch.randn(x.shape, generator=gen)


@torch.no_grad()
def per_attribute_accuracy(model: torch.nn.Module, x: Tensor, y: Tensor, batch: int = 256) -> Tensor:
    """Accuracy (K,) of thresholded logits (> 0) against labels y (N, K)."""
    logits = torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])
    return ((logits > 0).float() == y).float().mean(0)


def train_classifier(train: tuple[Tensor, Tensor], names: Sequence[str], steps: int = 3000, batch_size: int = 64,
                     lr: float = 2e-3, width: int = 32, seed: int = 0) -> SceneAttributeClassifier:
    """BCE training on (images, labels); cosine learning-rate decay; deterministic for a seed."""
    torch.manual_seed(seed)
    x, y = train
    model = SceneAttributeClassifier(names, resolution=x.shape[-1], width=width)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    for step in range(steps):
        idx = torch.randint(len(x), (batch_size,), generator=gen)
        loss = F.binary_cross_entropy_with_logits(model(_augment(x[idx], gen)), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0 or step == steps - 1:
            log.info("step %d/%d loss %.4f", step, steps, loss.item())
    return model.requires_grad_(False).eval()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mminvert.editing.train_classifier", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="classifier file to write (refuses to overwrite)")
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--train", type=int, default=8000, help="training scenes")
    ap.add_argument("--test", type=int, default=1000, help="held-out scenes (test split)")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--min-fraction", type=float, default=MIN_FRACTION)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--overwrite", action="store_true")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    out = Path(a.out)
    if out.exists() and not a.overwrite:
        ap.error(f"{out} exists (pass --overwrite to replace it)")
    names = list(SCENE_ATTRIBUTES)
    t0 = time.time()
    train = render_attribute_set("train", a.train, a.resolution, min_fraction=a.min_fraction)
    test = render_attribute_set("test", a.test, a.resolution, min_fraction=a.min_fraction)
    log.info("rendered %d + %d scenes in %.0f s; positive rate (train): %s", a.train, a.test, time.time() - t0,
             dict(zip(names, train[1].mean(0).round(decimals=3).tolist())))
    model = train_classifier(train, names, a.steps, a.batch_size, a.lr, a.width, a.seed)
    acc = per_attribute_accuracy(model, *test)
    info = {"test_accuracy": dict(zip(names, acc.tolist())), "test_positive_rate": dict(zip(names, test[1].mean(0).tolist())),
            "train_scenes": a.train, "test_scenes": a.test, "min_fraction": a.min_fraction, "steps": a.steps,
            "data": f"scenes seed 0, train items 0..{a.train - 1}, test split items 0..{a.test - 1}",
            "train_seconds": round(time.time() - t0, 1)}
    save_attribute_classifier(out, model, **info)
    print(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
