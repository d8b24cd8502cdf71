"""The training step shared by the tasks that train an encoder against a frozen generator, with an optional
discriminator on the outputs (inpainting, diverse): manual optimisation, one counted step per batch.

A subclass computes its losses and calls, in this order:
  `encoder_step(opt_e, total)`          zero_grad → backward → norm clipping (`grad_clip`) → step (global_step += 1)
  `discriminator_step(opt_d, d_losses)` zero_grad → backward of the sum → step (not counted by Lightning)
  `end_training_step(logs, total, b)`   schedulers once, then `train/loss_*` and `train/loss` logged per step
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.optim import Optimizer

from ..metrics import InpaintingMetrics
from ..utils.precision import refuse_fp16
from ..utils.rng import restore_global_rng
from .optimizers import encoder_and_discriminator_optimizers, step_schedulers

__all__ = ["EncoderDiscriminatorModule"]


class EncoderDiscriminatorModule(pl.LightningModule):
    """`model` has `trainable_parameters()`; `loss.adversarial` is None or holds the `discriminator`. Optimisers
    and the scheduler are partials (`_partial_: true`). `task_name` names the task in errors."""

    task_name = "encoder"

    def __init__(self, model: torch.nn.Module, loss: torch.nn.Module, optimizer: Callable[..., Optimizer],
                 d_optimizer: Callable[..., Optimizer] | None, scheduler: Callable[..., Any] | None,
                 grad_clip: float | None, val_metrics: Sequence[str]) -> None:
        super().__init__()
        self.model, self.loss = model, loss
        self.optimizer_factory, self.d_optimizer_factory, self.scheduler_factory = optimizer, d_optimizer, scheduler
        self.grad_clip = grad_clip
        self.val_metric_names = tuple(val_metrics)
        self.automatic_optimization = False
        self.val_examples: dict[str, Any] | None = None  # the first validation batch, for the sample-grid callback
        self._metrics: InpaintingMetrics | None = None
        self._resume_global_rng: dict[str, Any] | None = None  # set by on_load_checkpoint, used at train start

    def configure_optimizers(self) -> Any:
        return encoder_and_discriminator_optimizers(self.model.trainable_parameters(), self.loss.adversarial,
                                                    self.optimizer_factory, self.d_optimizer_factory,
                                                    self.scheduler_factory)

    def on_fit_start(self) -> None:
        refuse_fp16(self.trainer, self.task_name)

    def restore_resumed_rng(self) -> bool:
        """On a resumed run, put back the global RNG the checkpoint saved (before the data loader is created)."""
        if self._resume_global_rng is None:
            return False
        restore_global_rng(self._resume_global_rng)
        self._resume_global_rng = None
        return True

    # -------------------------------------------------------------------------------- training
    def encoder_and_discriminator_optimizers(self) -> tuple[Any, Any]:
        opts = self.optimizers()
        return (opts[0], opts[1]) if isinstance(opts, list) else (opts, None)

    def encoder_step(self, opt_e: Any, total: Tensor) -> None:
        opt_e.zero_grad(set_to_none=True)
        self.manual_backward(total)
        if self.grad_clip:
            self.clip_gradients(opt_e, gradient_clip_val=self.grad_clip, gradient_clip_algorithm="norm")
        opt_e.step()  # the counted step: global_step += 1

    def discriminator_step(self, opt_d: Any, d_losses: dict[str, Tensor]) -> None:
        opt_d.optimizer.zero_grad(set_to_none=True)
        self.manual_backward(sum(d_losses.values()))
        opt_d.optimizer.step()

    def end_training_step(self, logs: dict[str, Tensor], total: Tensor, batch_size: int) -> None:
        step_schedulers(self)
        self.log_dict(logs, on_step=True, on_epoch=False, batch_size=batch_size, prog_bar=False)
        self.log("train/loss", total.detach(), on_step=True, prog_bar=True, batch_size=batch_size)

    # ------------------------------------------------------------------------------ validation
    def reset_val_metrics(self, num_classes: int = 0) -> InpaintingMetrics:
        """The validation metrics (made once), on the module's device (Inception / LPIPS run there), emptied."""
        if self._metrics is None:
            self._metrics = InpaintingMetrics(self.val_metric_names, num_classes=num_classes)
        self._metrics.to(self.device)
        self._metrics.reset()
        self.val_examples = None
        return self._metrics
