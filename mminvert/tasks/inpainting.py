"""Training of the inversion inpainting models (MMInvertFill, InvertFill, pSp) as a LightningModule.

One training step (manual optimisation):
  1. soft-update the mean latent w̄_onl (SML);
  2. out = model(batch); losses = loss(out, batch)  ->  backward of the total into the encoder side
     (encoder, heads, map2style/structure, pre-modulation, skip projections), gradient clipping, step;
  3. with an adversarial term: the discriminator's non-saturating loss (+ lazy R1) and its step.
The generator is frozen inside the model: it is in no optimiser and gets no gradients. Only the encoder
step goes through Lightning's step counter, so `trainer.max_steps` counts training steps.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from ..data.guidance import check_guidance, guided_batch
from ..inversion import MMInvertFill
from ..io.formats import ARCHITECTURE_KEY
from ..losses import InpaintingLoss
from ..runner.distributed import rank_seed
from ..runner.encoder_step import EncoderDiscriminatorModule
from ..utils.rng import capture_global_rng, ranks_global_rng

__all__ = ["InpaintingModule"]

log = logging.getLogger(__name__)


class InpaintingModule(EncoderDiscriminatorModule):
    """`task=inpainting`. `model` and `loss` are built parts; optimisers and the scheduler are partials (`_partial_: true`).

    Batches follow the data contract (image, mask, seg, edge, mask_seg, mask_edge). Validation logs
    `val/<metric>` for `val_metrics` computed on the composite output, and keeps the first batch's
    outputs in `self.val_examples` for the sample-grid callback. The model is validated in the setting
    `val_guidance` (data/guidance.py; default `none`: image and mask only, as a user's photo).
    """

    task_name = "inpainting"

    def __init__(
        self,
        model: MMInvertFill,
        loss: InpaintingLoss,
        optimizer: Callable[..., Optimizer],
        d_optimizer: Callable[..., Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        grad_clip: float | None = 1.0,
        val_metrics: Sequence[str] = ("psnr", "ssim", "l1_hole"),
        bf16: bool = True,
        val_guidance: str = "none",
        val_edges: dict[str, float] | None = None,
    ) -> None:
        super().__init__(model, loss, optimizer, d_optimizer, scheduler, grad_clip, val_metrics)
        self.bf16 = bf16
        self.val_guidance, self.val_edges = check_guidance(val_guidance), dict(val_edges or {})

    def on_train_start(self) -> None:
        if not self.restore_resumed_rng() and (seed := rank_seed(self.global_rank)) is not None:
            torch.manual_seed(seed)  # DDP: each rank draws its own noise inputs (the data sampler has its own seed)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.bf16 and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # -------------------------------------------------------------------------------- training
    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        opt_e, opt_d = self.encoder_and_discriminator_optimizers()
        self.model.update_mean_latent()
        with self._autocast():
            out = self.model(batch)
            losses = self.loss(out, batch)
        self.encoder_step(opt_e, losses["total"])
        logs = {f"train/loss_{k}": v.detach() for k, v in losses.items()}
        adv = self.loss.adversarial
        if adv is not None and opt_d is not None:
            with self._autocast():
                d_losses = adv.discriminator_loss(out, batch, self.global_step)
            self.discriminator_step(opt_d, d_losses)
            logs.update({f"train/loss_{k}": v.detach() for k, v in d_losses.items()})
        self.end_training_step(logs, losses["total"], batch["image"].shape[0])

    # ------------------------------------------------------------------------------ validation
    def on_validation_epoch_start(self) -> None:
        self.reset_val_metrics(num_classes=self.model.encoder.num_classes)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        with self._autocast():
            out = self.model(guided_batch(batch, self.val_guidance, self.val_edges))
        seg = out["seg"][-1] if out["seg"][-1] is not None else None
        self._metrics.update(out["composite"].float(), batch["image"], batch["mask"],
                             None if seg is None else seg.float(), batch.get("seg"))
        if batch_idx == 0:
            self.val_examples = {"batch": {k: v.detach().cpu() for k, v in batch.items() if torch.is_tensor(v)},
                                 "out": _detach(out)}

    def on_validation_epoch_end(self) -> None:
        if self._metrics is None:
            return
        self._metrics.merge_ranks()  # DDP: the metrics of the whole validation set, the same on every rank
        if self._metrics.count == 0:
            return
        values = self._metrics.compute()
        self.log_dict({f"val/{k}": float(v) for k, v in values.items()}, prog_bar=True)

    # ---------------------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[ARCHITECTURE_KEY] = self.model.architecture()
        # every rank's global RNG (gathered: call on every rank); "global" is rank 0's, as older checkpoints hold
        ranks = ranks_global_rng(self.trainer.world_size) if self._trainer is not None else [capture_global_rng()]
        checkpoint["inpainting_rng"] = {"global": ranks[0], "ranks": ranks}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("inpainting_rng")
        if state is None:
            log.warning("checkpoint has no RNG state: the resumed run will not repeat the original exactly")
            return
        rank = self.global_rank if self._trainer is not None else 0
        ranks = state.get("ranks", [state["global"]])
        self._resume_global_rng = ranks[rank] if rank < len(ranks) else None  # a new rank: seeded as a fresh run


def _detach(x: Any) -> Any:
    if torch.is_tensor(x):
        return x.detach().float().cpu()
    if isinstance(x, dict):
        return {k: _detach(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_detach(v) for v in x]
    return x
