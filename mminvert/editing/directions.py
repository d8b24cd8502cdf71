"""InterFaceGAN-style linear attribute directions (Shen et al. 2020): for each attribute a hyperplane in W
separates generated samples the descriptor F labels positive from those it labels negative; its unit
normal n is the editing direction.

`fit_directions(ws, probs, names)`: ws (N, w_dim) latent codes of generated samples, probs (N, K) = σ(F(G(w)))
-> `LatentDirections`. Per attribute, the samples F is surest about (the `extremes` fraction at each end of
the probability, InterFaceGAN's choice) label the two sides; a linear SVM (default) or logistic regression
fits the hyperplane on w (centred and scaled per dimension by the samples' statistics, then mapped back to
W). `scale` is the samples' standard deviation along n, so `edit(ws, "tree", +2)` moves two standard
deviations toward "tree":

    w' = w + s · scale_k · n_k        (every layer of W+, or the `layers` given)

Directions files: `save()` / `LatentDirections.load(path or bundled name)`; written for a generator +
classifier pair by `python -m mminvert.editing.write_directions`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..io.atomic import atomic_torch_save
from ..io.size_limits import check_checkpoint_size
from ..utils.assets import bundled_names

__all__ = ["LatentDirections", "fit_directions", "DIRECTIONS_FORMAT", "BUNDLED_DIRECTIONS"]

DIRECTIONS_FORMAT = "mminvert.latent_directions"
BUNDLED_DIRECTIONS = bundled_names("directions")


@dataclass
class LatentDirections:
    """names (K,), normals (K, w_dim) unit vectors, offsets (K,) with the hyperplane n·w + b = 0 (b = offset),
    scale (K,) std of n·w over the fitting samples, accuracy (K,) on held-out samples; `info` free-form."""

    names: list[str]
    normals: Tensor
    offsets: Tensor
    scale: Tensor
    accuracy: Tensor
    info: dict[str, Any] = field(default_factory=dict)

    def index(self, attribute: str) -> int:
        if attribute not in self.names:
            raise KeyError(f"unknown attribute {attribute!r}; directions exist for {self.names}")
        return self.names.index(attribute)

    def direction(self, attribute: str) -> Tensor:
        """Unit normal (w_dim,) pointing toward the attribute."""
        return self.normals[self.index(attribute)]

    def edit(self, ws: Tensor, attribute: str, strength: float | Tensor,
             layers: Sequence[int] | None = None) -> Tensor:
        """ws (B, w_dim) in W or (B, num_ws, w_dim) in W+ -> ws + strength · scale · n (differentiable in ws).
        strength > 0 adds the attribute, < 0 removes it; a (B,) tensor gives one strength per sample.
        `layers`: W+ layers to edit (default all)."""
        k = self.index(attribute)
        n = (self.normals[k] * self.scale[k]).to(ws.device, ws.dtype)
        s = torch.as_tensor(strength, dtype=ws.dtype, device=ws.device)
        if ws.ndim == 2:
            return ws + s.reshape(-1, 1) * n
        if ws.ndim != 3:
            raise ValueError(f"ws must be (B, w_dim) or (B, num_ws, w_dim), got {tuple(ws.shape)}")
        delta = s.reshape(-1, 1, 1) * n
        if layers is None:
            return ws + delta
        sel = torch.zeros(ws.shape[1], 1, dtype=ws.dtype, device=ws.device)
        sel[list(layers)] = 1
        return ws + delta * sel

    def distance(self, ws: Tensor, attribute: str) -> Tensor:
        """Signed distance n·w + b of W codes (B, w_dim) (or the mean layer of W+) to the hyperplane, (B,)."""
        k = self.index(attribute)
        w = ws.mean(1) if ws.ndim == 3 else ws
        return w @ self.normals[k].to(w) + self.offsets[k].to(w)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save({"format": DIRECTIONS_FORMAT, "names": self.names, "normals": self.normals.cpu(),
                           "offsets": self.offsets.cpu(), "scale": self.scale.cpu(), "accuracy": self.accuracy.cpu(),
                           "info": self.info}, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> LatentDirections:
        p = BUNDLED_DIRECTIONS.get(str(path), Path(str(path)).expanduser())
        if not p.is_file():
            raise FileNotFoundError(f"directions file {p} does not exist (bundled: {sorted(BUNDLED_DIRECTIONS)})")
        check_checkpoint_size(p)
        obj = torch.load(p, map_location="cpu", weights_only=True)
        if not isinstance(obj, dict) or obj.get("format") != DIRECTIONS_FORMAT:
            raise ValueError(f"{p} is not an mminvert directions file (format {DIRECTIONS_FORMAT!r})")
        return cls(list(obj["names"]), obj["normals"], obj["offsets"], obj["scale"], obj["accuracy"], obj.get("info", {}))


def fit_directions(ws: Tensor, probs: Tensor, names: Sequence[str], method: str = "svm", extremes: float = 0.3,
                   holdout: float = 0.2, C: float = 1.0, seed: int = 0) -> LatentDirections:
    """Fit one hyperplane per attribute (see the module docstring). ws (N, w_dim); probs (N, K) in [0, 1].

    `extremes`: fraction of samples at each end of an attribute's probability used as negatives/positives
    (0.5 = all samples split at the median); `holdout`: share of those kept out of the fit to measure
    `accuracy`. An attribute whose chosen samples are all of one side gets a zero direction and accuracy NaN.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    if method not in ("svm", "logistic"):
        raise ValueError(f"method must be 'svm' or 'logistic', got {method!r}")
    if not 0 < extremes <= 0.5 or not 0 <= holdout < 1:
        raise ValueError(f"need 0 < extremes <= 0.5 and 0 <= holdout < 1, got {extremes}, {holdout}")
    X = ws.detach().double().cpu().numpy()
    P = probs.detach().double().cpu().numpy()
    if X.ndim != 2 or P.shape != (X.shape[0], len(names)):
        raise ValueError(f"ws must be (N, w_dim) and probs (N, {len(names)}), got {X.shape} and {P.shape}")
    mu, sd = X.mean(0), X.std(0) + 1e-8
    Z = (X - mu) / sd
    rng = np.random.default_rng(seed)
    N, D = X.shape
    normals, offsets, scales, accs = [], [], [], []
    for k in range(len(names)):
        order = np.argsort(P[:, k])
        m = max(int(round(extremes * N)), 1)
        neg, pos = order[:m], order[-m:]
        idx = np.concatenate([neg, pos])
        y = np.concatenate([np.zeros(m), np.ones(m)])
        y_true = (P[idx, k] > 0.5).astype(float)  # sides as F labels them (equal to y unless F is unsure)
        if y_true.min() == y_true.max():
            normals.append(np.zeros(D))
            offsets.append(0.0)
            scales.append(0.0)
            accs.append(float("nan"))
            continue
        y = y_true
        perm = rng.permutation(len(idx))
        n_test = int(round(holdout * len(idx)))
        test, train = perm[:n_test], perm[n_test:]
        clf = LinearSVC(C=C, max_iter=20000) if method == "svm" else LogisticRegression(C=C, max_iter=5000)
        clf.fit(Z[idx[train]], y[train])
        acc = float(clf.score(Z[idx[test]], y[test])) if n_test else float(clf.score(Z[idx[train]], y[train]))
        # a·(x − μ)/σ + c = 0  ->  (a/σ)·x + (c − a·μ/σ) = 0, normalised to a unit normal
        a = clf.coef_.reshape(-1) / sd
        c = float(clf.intercept_[0]) - float(a @ mu)
        norm = np.linalg.norm(a)
        n, b = a / norm, c / norm
        normals.append(n)
        offsets.append(b)
        scales.append(float((X @ n).std()))
        accs.append(acc)
    f = lambda v: torch.tensor(np.asarray(v), dtype=torch.float32)  # noqa: E731
    info = {"method": method, "extremes": extremes, "holdout": holdout, "num_samples": N}
    return LatentDirections(list(names), f(normals), f(offsets), f(scales), f(accs), info)
