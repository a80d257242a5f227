#!/usr/bin/env python3
"""Writes a deliberately damaged copy of a table, to check an evaluator on a bad "synthetic"
table: rows drawn with replacement (so many are exact copies of real rows), one numeric
column shuffled on its own (its pair trends break), noise on another, a third of one
categorical column collapsed onto its commonest value, and 5% of a numeric column missing.

    python3 scripts/damage-table.py IN.csv OUT.csv [ROWS] [SEED]

Needs pandas and numpy (the judge's environment has both).
"""
import sys

import numpy as np
import pandas as pd

src, dst = sys.argv[1], sys.argv[2]
rows = int(sys.argv[3]) if len(sys.argv) > 3 else 50000
rng = np.random.default_rng(int(sys.argv[4]) if len(sys.argv) > 4 else 0)
df = pd.read_csv(src)
df = df.iloc[rng.integers(0, len(df), rows)].reset_index(drop=True)
numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
categorical = [c for c in df.columns if c not in numeric]
shuffled, noisy, holed = numeric[0], numeric[-1], numeric[len(numeric) // 2]
df[shuffled] = rng.permutation(df[shuffled].values)
df[noisy] = df[noisy] + rng.normal(0, df[noisy].std(), rows)
collapsed = categorical[0]
mask = rng.random(rows) < 1 / 3
df.loc[mask, collapsed] = df[collapsed].mode()[0]
df[holed] = df[holed].astype(float).where(rng.random(rows) >= 0.05)
df.to_csv(dst, index=False)
print(f"{dst}: {rows} rows; shuffled {shuffled}, noise on {noisy}, 5% missing {holed}, "
      f"a third of {collapsed} set to its mode", file=sys.stderr)
