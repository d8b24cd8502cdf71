"""Evaluate an inpainting checkpoint per hole-ratio bucket: `python evaluate.py ckpt=RUN_OR_FILE [data=...]`."""
import hydra
from omegaconf import DictConfig

from mminvert.evaluation import evaluate


@hydra.main(config_path="conf", config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
