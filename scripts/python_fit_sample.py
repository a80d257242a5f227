#!/usr/bin/env python3
"""What a Python user runs: read a CSV, fit a model with its shipped config, sample rows,
write them. scripts/python-vs-cli.sh times it against the same work through the CLIs.

Usage: python scripts/python_fit_sample.py KIND DATA.csv OUT_DIR ROWS [EPOCHS]
"""

import sys

import polars as pl

import synth

KINDS = {"argn": synth.TabularARGN, "mixture": synth.Mixture, "ctgan": synth.CTGAN,
         "tvae": synth.TVAE, "gaussiancopula": synth.GaussianCopula}

kind, data, out_dir, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
settings = {"epochs": int(sys.argv[5])} if len(sys.argv) > 5 else {}
table = pl.read_csv(data)
model = KINDS[kind](verbose=False, **settings).fit(table, out_dir=out_dir, overwrite=True)
model.sample(rows, seed=1).write_csv(f"{out_dir}/synthetic.csv")
