"""Inpaint your images with a trained model: `python inpaint.py ckpt=... input=... mask=... output=...`
(`backend=onnxruntime`, or a .onnx ckpt, runs an exported ONNX graph; the installed equivalent is `mminvert inpaint`).

Paths may be given as typed, with spaces or non-ASCII letters (`input="my photos/été.png"`): they are quoted
for Hydra's override grammar before it reads them (mminvert/inference/path_arguments.py)."""
import sys

import hydra
from omegaconf import DictConfig

from mminvert.inference.backends import open_inpainter
from mminvert.inference.cli import inpaint_paths
from mminvert.inference.path_arguments import quote_path_arguments


@hydra.main(config_path="conf/inpaint", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    inpainter = open_inpainter(cfg.ckpt, cfg.backend, cfg.device, threads=cfg.threads, context=cfg.context,
                               num_samples=cfg.num_samples, seed=cfg.seed)
    inpaint_paths(inpainter, cfg.input, cfg.mask, cfg.output, cfg.mask_invert, cfg.overwrite, cfg.on_error)


if __name__ == "__main__":
    sys.argv[1:] = quote_path_arguments(sys.argv[1:])
    main()
