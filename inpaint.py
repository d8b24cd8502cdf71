"""Inpaint your images with a trained model: `python inpaint.py ckpt=... input=... mask=... output=...`.

Paths may be given as typed, with spaces or non-ASCII letters (`input="my photos/été.png"`): they are quoted
for Hydra's override grammar before it reads them (mminvert/inference/path_arguments.py)."""
import sys

import hydra
import torch
from omegaconf import DictConfig

from mminvert.inference import Inpainter
from mminvert.inference.cli import inpaint_paths
from mminvert.inference.path_arguments import quote_path_arguments
from mminvert.io import resolve_checkpoint


@hydra.main(config_path="conf/inpaint", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    inpainter = Inpainter.from_checkpoint(resolve_checkpoint(cfg.ckpt), device=device, context=cfg.context,
                                          num_samples=cfg.num_samples, seed=cfg.seed)
    inpaint_paths(inpainter, cfg.input, cfg.mask, cfg.output, cfg.mask_invert, cfg.overwrite, cfg.on_error)


if __name__ == "__main__":
    sys.argv[1:] = quote_path_arguments(sys.argv[1:])
    main()
