#!/usr/bin/env python3
"""PyTorch ctgan (the SDV reference implementation) timed per epoch and per sample: the GPU
benchmark's peer for synth's CTGAN.

    python3 scripts/torch_ctgan.py --data assets/adult.csv --epochs 3 --rows 1000000 [--cpu]

Settings are ctgan's defaults (those synth's configs/ctgan.toml follows: batch 500, pac 10,
generator and discriminator 256x256). The text columns are the discrete ones. Each epoch is
timed by wrapping the epoch loop's iterator (ctgan reads its losses back to the host at the end
of every epoch, so an epoch's work is done when the next begins); the transformer's fit and
encoding are timed apart. Prints lines of "name seconds".
"""
import argparse
import time

import pandas as pd
from ctgan import CTGAN
from ctgan.synthesizers import ctgan as ctgan_module


class EpochClock:
    """Stands in for tqdm around ctgan's epoch loop: records when each epoch starts."""

    marks = []

    def __init__(self, iterable, **_):
        self.iterable = iterable

    def __iter__(self):
        for item in self.iterable:
            EpochClock.marks.append(time.perf_counter())
            yield item
        EpochClock.marks.append(time.perf_counter())

    def set_description(self, *_args, **_kwargs):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="CSV table (Adult)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to sample and decode")
    parser.add_argument("--cpu", action="store_true", help="train on the CPU (ctgan's enable_gpu=False)")
    args = parser.parse_args()

    table = pd.read_csv(args.data)
    discrete = [c for c in table.columns if table[c].dtype == object]
    ctgan_module.tqdm = EpochClock
    model = CTGAN(epochs=args.epochs, enable_gpu=not args.cpu)
    started = time.perf_counter()
    model.fit(table, discrete)
    total = time.perf_counter() - started
    marks = EpochClock.marks
    epochs = [b - a for a, b in zip(marks, marks[1:])]
    print(f"device {model._device}")
    print(f"prepare_seconds {total - (marks[-1] - marks[0]):.3f}")
    for number, seconds in enumerate(epochs, 1):
        print(f"epoch_{number}_seconds {seconds:.3f}")
    started = time.perf_counter()
    sampled = model.sample(args.rows)
    print(f"sample_{len(sampled)}_rows_seconds {time.perf_counter() - started:.3f}")


if __name__ == "__main__":
    main()
