#!/usr/bin/env python3
"""Times a 1,000,000-row table's way into Rust and back out through the Python package's
Arrow bridge (what every fit, sample and evaluate crosses), for pandas and polars frames,
beside pyarrow's own pandas conversion (the floor any Arrow path pays). Medians of 5.

Usage: python scripts/python_bridge_bench.py assets/adult.csv [ROWS]
"""

import statistics
import sys
import time

import pandas as pd
import polars as pl
import pyarrow as pa

from synth import _from_arrow, _synth, _to_arrow

source = sys.argv[1]
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
base = pl.read_csv(source)
polars_frame = pl.concat([base] * (rows // base.height + 1)).head(rows).rechunk()
pandas_frame = polars_frame.to_pandas()


def median_seconds(work, repeats=5):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def way_in(frame):
    return lambda: _synth.roundtrip(_to_arrow(frame)[0])


def way_out(frame):
    kind, dtypes = _to_arrow(frame)[1:]
    return lambda: _from_arrow(_synth.roundtrip(_to_arrow(frame)[0]), kind, dtypes)


print(f"{rows:,} rows x {polars_frame.width} columns (Adult repeated)")
for name, frame in (("pandas", pandas_frame), ("polars", polars_frame)):
    into = median_seconds(way_in(frame))
    both = median_seconds(way_out(frame))
    print(f"{name}: in {into:.3f} s, in and out {both:.3f} s (out {both - into:.3f} s)")
floor = median_seconds(lambda: pa.Table.from_pandas(pandas_frame, preserve_index=False).to_pandas())
print(f"pyarrow alone, pandas -> Arrow -> pandas: {floor:.3f} s")
