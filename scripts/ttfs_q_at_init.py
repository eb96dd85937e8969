"""The TTFS firing regulariser Q (paper eq. 53) at initialisation: digits MLP against the Fashion-MNIST CNN.

One batch of 32 training images, seed 1, each data set's TTFS preset; prints Q and γ2 Q (the term the cost
subtracts), with the preset's γ2 and with the family's default 8e-6 (the value that made the CNN collapse).

    PYTHONPATH=src python scripts/ttfs_q_at_init.py --fashion-mnist-dir /usr/share/datasets/fashion-mnist
"""

from __future__ import annotations

import argparse

import torch

from imcpnn.families import get_family
from imcpnn.training import TrainConfig
from imcpnn.training.losses import firing_regulariser
from imcpnn.training.trainer import build_model, encode, forward_layers, load_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fashion-mnist-dir", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    family_gamma = get_family("ttfs").defaults.gamma_q
    for dataset, extra in (("digits", {}), ("fashion-mnist", {"data_dir": args.fashion_mnist_dir})):
        config = TrainConfig.from_flags(dataset=dataset, model="ttfs", max_train_samples=64, **extra)
        torch.manual_seed(1)
        model = build_model(config)
        splits = load_data(config, model)
        images, _ = splits.train[:32]
        with torch.no_grad():
            _, layer_io = forward_layers(model, encode(splits, model, images))
            q = float(firing_regulariser(layer_io))
        print(
            f"{dataset}: Q = {q:.1f}; preset γ2 = {config.loss.gamma_q:g}: γ2 Q = {config.loss.gamma_q * q:.4g}; "
            f"family γ2 = {family_gamma:g}: γ2 Q = {family_gamma * q:.4g}"
        )


if __name__ == "__main__":
    main()
