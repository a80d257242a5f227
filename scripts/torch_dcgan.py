#!/usr/bin/env python3
"""PyTorch DCGAN of the same shape as synth's, timed per epoch: the GPU benchmark's peer.

Networks as crates/synth-image/src/dcgan/model.rs builds them for 28-pixel images
(feature_maps 64, latent 100): the generator 100 -> 128x7x7 (transposed conv 7, batch norm,
ReLU) -> 64x14x14 -> 1x28x28 (tanh), the discriminator 1x28x28 -> 64x14x14 (LeakyReLU 0.2)
-> 128x7x7 (batch norm, LeakyReLU) -> one logit (conv 7); no biases, N(0, 0.02) weights. One
step as synth's: the discriminator on a real and a fake batch (BCE on logits), then the
generator on the same fakes, both with Adam (2e-4, betas 0.5/0.999), batch 128, the last
batch of an epoch short. The images live on the device; latent noise is drawn there too.

    python3 scripts/torch_dcgan.py --images train-images-idx3-ubyte.gz --epochs 2 [--device cuda]

Prints one line per epoch ("epoch N seconds S steps K") after a synchronisation.
"""
import argparse
import gzip
import struct
import sys
import time

import torch
from torch import nn


def read_idx_images(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 2051:
            sys.exit(f"{path}: not an IDX image file (magic {magic})")
        data = f.read(count * rows * cols)
    images = torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(count, 1, rows, cols)
    return images.float() / 127.5 - 1.0


def generator(latent=100, width=64):
    return nn.Sequential(
        nn.ConvTranspose2d(latent, width * 2, 7, 1, 0, bias=False),
        nn.BatchNorm2d(width * 2),
        nn.ReLU(),
        nn.ConvTranspose2d(width * 2, width, 4, 2, 1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.ConvTranspose2d(width, 1, 4, 2, 1, bias=False),
        nn.Tanh(),
    )


def discriminator(width=64):
    return nn.Sequential(
        nn.Conv2d(1, width, 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2),
        nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(width * 2),
        nn.LeakyReLU(0.2),
        nn.Conv2d(width * 2, 1, 7, 1, 0, bias=False),
        nn.Flatten(),
    )


def init_weights(module):
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", required=True, help="IDX image file (.gz or raw), 28x28")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    images = read_idx_images(args.images).to(device)
    g, d = generator().to(device), discriminator().to(device)
    g.apply(init_weights)
    d.apply(init_weights)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    n = images.shape[0]

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for epoch in range(1, args.epochs + 1):
        synchronize()
        started = time.perf_counter()
        order = torch.randperm(n, device=device)
        steps = 0
        for start in range(0, n, args.batch_size):
            real = images[order[start : start + args.batch_size]]
            z = torch.randn(real.shape[0], 100, 1, 1, device=device)
            fake = g(z)
            ones = torch.ones(real.shape[0], 1, device=device)
            zeros = torch.zeros(real.shape[0], 1, device=device)
            d_loss = bce(d(real), ones) + bce(d(fake.detach()), zeros)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            g_loss = bce(d(fake), ones)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            steps += 1
        synchronize()
        print(f"epoch {epoch} seconds {time.perf_counter() - started:.3f} steps {steps}", flush=True)


if __name__ == "__main__":
    main()
