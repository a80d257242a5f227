"""smartnoise-synth's MST or AIM on a CSV table, for scripts/dp-quality.sh (a peer to compare
with; never a dependency of synth).

    python scripts/smartnoise_synth.py mst|aim TRAIN.csv EPSILON ROWS OUT.csv

Numbers with more than 20 distinct values are continuous (32 bins between the data's bounds,
given as public, as synth's MST bins them); the rest categorical (their categories public). delta is 1e-9 as in synth's runs. The
last line printed is the fit and sample time.
"""

import sys
import time

import pandas as pd
from snsynth import Synthesizer
from snsynth.transform import BinTransformer, LabelTransformer, TableTransformer


def main() -> None:
    kind, train, epsilon, rows, out = sys.argv[1:6]
    df = pd.read_csv(train)
    continuous = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and df[c].nunique() > 20]
    categorical = [c for c in df.columns if c not in continuous]
    for c in categorical:
        df[c] = df[c].astype(str)
    started = time.time()
    synth = Synthesizer.create(kind, epsilon=float(epsilon), delta=1e-9, verbose=False)
    # the domains are given (public), as synth's runs with privacy.public = ["*"]: 32 bins
    # between each continuous column's bounds, the categories as found
    transformer = TableTransformer(
        [
            BinTransformer(bins=32, lower=float(df[c].min()), upper=float(df[c].max()))
            if c in continuous
            else LabelTransformer()
            for c in df.columns
        ]
    )
    synth.fit(df, transformer=transformer, preprocessor_eps=0.0)
    sample = synth.sample(int(rows))
    for c in categorical:
        if pd.api.types.is_numeric_dtype(pd.read_csv(train, nrows=100)[c]):
            sample[c] = pd.to_numeric(sample[c], errors="coerce")
    sample.to_csv(out, index=False)
    print(f"fit and sample {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
