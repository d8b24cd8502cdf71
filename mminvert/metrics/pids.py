"""Paired / Unpaired Inception Discriminative Scores (Zhao et al. 2021, CoModGAN).

A linear SVM separates real from generated Inception features. U-IDS is its misclassification rate
over both sets; P-IDS is the probability that a generated image's decision value exceeds that of its
paired real image. Higher is better for both (0.5 is the ceiling of U-IDS).
"""
from __future__ import annotations

import numpy as np
from torch import Tensor

__all__ = ["IDS"]


class IDS:
    """Collects paired features (N, D): `update(real_feats, fake_feats)`; `compute() -> (p_ids, u_ids)`."""

    def __init__(self, max_iter: int = 10000) -> None:
        self.max_iter = max_iter
        self.reset()

    def reset(self) -> None:
        self.real: list[np.ndarray] = []
        self.fake: list[np.ndarray] = []

    def update(self, real_feats: Tensor, fake_feats: Tensor) -> None:
        if real_feats.shape != fake_feats.shape:
            raise ValueError(f"paired features must have equal shapes, got {tuple(real_feats.shape)} "
                             f"and {tuple(fake_feats.shape)}")
        self.real.append(real_feats.detach().cpu().double().numpy())
        self.fake.append(fake_feats.detach().cpu().double().numpy())

    def compute(self) -> tuple[float, float]:
        from sklearn.svm import LinearSVC  # imported on use: scikit-learn is only needed here

        real, fake = np.concatenate(self.real), np.concatenate(self.fake)
        if len(real) < 2:
            raise ValueError("P-IDS/U-IDS need at least 2 image pairs")
        x = np.concatenate([real, fake])
        y = np.concatenate([np.ones(len(real)), np.zeros(len(fake))])
        svm = LinearSVC(dual=False, max_iter=self.max_iter)
        svm.fit(x, y)
        u_ids = float(1.0 - svm.score(x, y))
        p_ids = float(np.mean(svm.decision_function(fake) > svm.decision_function(real)))
        return p_ids, u_ids
