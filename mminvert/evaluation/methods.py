"""Methods an evaluation compares: a trained inversion model (its composite, raw or Poisson-blended output), OpenCV's
Telea inpainting as a classical reference row, and per-image optimisation of the same frozen generator (Wauquiez's
W+ inversion, MAGEC, Yeh / Vitoria's contextual z inversion) as the optimisation-based reference rows."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..baselines.poisson import poisson_blend
from ..baselines.telea import telea_fill
from ..data.guidance import check_guidance, guided_batch
from ..inference.model_classes import supports_sampling

__all__ = ["ModelMethod", "TeleaMethod", "GeneratorBaseline", "OUTPUTS"]


OUTPUTS = ("composite", "raw", "poisson")


class ModelMethod:
    """A trained model (any registered model class): batch -> {'composite' (B,3,H,W) [-1,1] (the image the metrics
    see), 'raw' (B,3,H,W) the generator's output before compositing, 'seg' logits or None}.

    `output` picks the evaluated image: `composite` x ⊙ M + ŷ ⊙ (1 − M) (the default, DESIGN §2), `raw` ŷ itself
    (pSp "w/o Comp."), or `poisson` ŷ Poisson-blended into the known pixels (pSp "w/ Blending").
    `guidance` says what the model is given besides image and mask (data/guidance.py): `none` (the default,
    standard inpainting), `known` or `gt`; the batch's own labels and edges reach the model only through it.
    Models that draw several fills (`supports_sampling`) also give `sample(batch, K, seed)`; for the others
    `no_sampling_reason` says why there is no diversity to measure."""

    def __init__(self, model: torch.nn.Module, name: str = "model", device: str | torch.device = "cpu",
                 output: str = "composite", guidance: str = "none", edges: dict[str, float] | None = None) -> None:
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        self.model, self.name, self.device = model.eval().to(device), name, torch.device(device)
        self.output, self.guidance, self.edges = output, check_guidance(guidance), dict(edges or {})

    def model_input(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The batch the model receives: `guided_batch(batch, guidance)` on the method's device."""
        b = guided_batch(batch, self.guidance, self.edges)
        return {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in b.items()}

    @torch.no_grad()
    def __call__(self, batch: dict[str, Tensor]) -> dict[str, Any]:
        b = self.model_input(batch)
        out = self.model(b)
        seg = out["seg"][-1] if out.get("seg") and out["seg"][-1] is not None else None
        raw = out["image"].float()
        shown = self._shown(raw, out["composite"].float(), b)
        return {"composite": shown.cpu(), "raw": raw.cpu(), "seg": None if seg is None else seg.float().cpu()}

    @property
    def no_sampling_reason(self) -> str | None:
        if supports_sampling(self.model):
            return None
        return f"{type(self.model).__name__} gives one fill per input (it cannot sample)"

    @torch.no_grad()
    def sample(self, batch: dict[str, Tensor], num_samples: int, seed: int) -> Tensor:
        """(B, K, 3, H, W) evaluated images (the row's `output`) of K fills per input, deterministic for `seed`."""
        if self.no_sampling_reason:
            raise ValueError(self.no_sampling_reason)
        b = self.model_input(batch)
        out = self.model.sample(b, num_samples=int(num_samples), seed=int(seed))
        raw, comp = out["image"].float(), out["composite"].float()
        B, K = raw.shape[:2]
        if raw.shape[:2] != (b["image"].shape[0], int(num_samples)):
            raise ValueError(f"{type(self.model).__name__}.sample gave {tuple(raw.shape)}, expected (B={b['image'].shape[0]}, "
                             f"K={num_samples}, 3, H, W)")
        rep = {k: b[k].repeat_interleave(K, 0) for k in ("image", "mask")}
        shown = self._shown(raw.flatten(0, 1), comp.flatten(0, 1), rep)
        return shown.view(B, K, *shown.shape[1:]).cpu()

    def _shown(self, raw: Tensor, composite: Tensor, b: dict[str, Tensor]) -> Tensor:
        if self.output == "raw":
            return raw
        if self.output == "poisson":
            return poisson_blend(raw, b["image"].float(), b["mask"].float())
        return composite


class TeleaMethod:
    """cv2.inpaint with Telea's fast marching method (radius 3) on 8-bit images."""

    name = "telea"
    no_sampling_reason = "deterministic (OpenCV Telea): one fill per input"

    def __init__(self, radius: int = 3) -> None:
        self.radius = radius

    def __call__(self, batch: dict[str, Tensor]) -> dict[str, Any]:
        return {"composite": telea_fill(batch["image"], batch["mask"], self.radius), "seg": None}


class GeneratorBaseline:
    """A per-image optimisation baseline on the checkpoint's generator (`OptimInversion`,
    `ContextualInversion`): `inversion(image, mask)['composite']` on `device`, known pixels exact.

    Slow by design: `steps` generator forward/backward passes per batch (see benchmarks/bench_inference.py).
    """

    no_sampling_reason = "per-image optimisation from a fixed start: one fill per input"

    def __init__(self, name: str, inversion: Any, device: str | torch.device = "cpu", note: str | None = None) -> None:
        self.name, self.inversion, self.device = name, inversion, torch.device(device)
        self.note = note  # how the row was set up, when the report should say it (e.g. a default prior)

    def __call__(self, batch: dict[str, Tensor]) -> dict[str, Any]:
        out = self.inversion(batch["image"].to(self.device), batch["mask"].to(self.device))
        res = {"composite": out["composite"].float().cpu(), "seg": None}  # known pixels already the input's
        if "ws" in out:  # W+ inversions (their codes can be edited)
            res["ws"] = out["ws"].float().cpu()
        return res
