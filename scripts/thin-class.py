#!/usr/bin/env python3
"""Thins one class of a CSV table until it makes up a given share of the rows, keeping every
other row and the file's order: the rare-event setting (fraud at 1%) made from a table where
the class is common. Standard library only; the same --seed keeps the same rows.

  python3 scripts/thin-class.py assets/adult.csv --target income --class '>50K' \
      --share 0.01 --seed 0 -o /tmp/adult-thin.csv

Keeps m rows of the class, drawn at random, with m the largest count for which
m / (m + other rows) <= share.
"""

import argparse
import csv
import random
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("input")
    p.add_argument("--target", required=True)
    p.add_argument("--class", dest="cls", required=True)
    p.add_argument("--share", type=float, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args()
    if not 0 < a.share < 1:
        sys.exit(f"--share {a.share} must lie strictly between 0 and 1")
    with open(a.input, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    if a.target not in header:
        sys.exit(f"--target {a.target!r} is not a column of {a.input} ({', '.join(header)})")
    col = header.index(a.target)
    of_class = [i for i, r in enumerate(rows) if r[col] == a.cls]
    others = len(rows) - len(of_class)
    if not of_class:
        sys.exit(f"class {a.cls!r} does not occur in column {a.target!r}")
    keep = min(len(of_class), int(a.share * others / (1 - a.share)))
    kept = set(random.Random(a.seed).sample(of_class, keep))
    with open(a.output, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for i, r in enumerate(rows):
            if r[col] != a.cls or i in kept:
                w.writerow(r)
    print(f"{a.output}: {others + keep} rows, {keep} of class {a.cls!r} "
          f"({100 * keep / (others + keep):.2f}%), from {len(of_class)} of {len(rows)}")


if __name__ == "__main__":
    main()
