"""The runner every task shares: `train(cfg)` (compose → instantiate → fit), resume and the run-folder lock, DDP
settings, the optimiser builders, the encoder-plus-discriminator training step, and the training callbacks.
The tasks themselves (one LightningModule each) are in `mminvert.tasks`."""
from .run import train

__all__ = ["train"]
