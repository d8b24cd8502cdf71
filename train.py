"""Train a task: inpainting by default (`python train.py [model=...] [data=...]`), StyleGAN2 pre-training with
`python train.py task=stylegan2 [gan=...]`."""
import hydra
from omegaconf import DictConfig

from mminvert.runner import train


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    return train(cfg)


if __name__ == "__main__":
    main()
