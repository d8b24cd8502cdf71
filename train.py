"""Train a task (StyleGAN2 pre-training by default): `python train.py task=stylegan2 data=scenes model=...`."""
import hydra
from omegaconf import DictConfig

from mminvert.training import train


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    return train(cfg)


if __name__ == "__main__":
    main()
