#!/usr/bin/env python3
"""Samples ROWS rows (default 10,000,000) with Ray Data: one task per shard, the model loaded
once per worker, the rows written as Parquet; then checks that every shard holds exactly the
rows the same shard sampled in this process (compared by their sorted row hashes): the
shards are the same rows whichever engine samples them.

Needs `pip install "ray[data]" polars` beside the synth package (pip install ./python).

Usage: python scripts/ray_sample.py RUN_FOLDER OUT_DIR [ROWS] [SHARDS] [WORKERS]
  e.g. synth-train --config configs/mixture.toml --out-dir runs/adult-mixture
       python scripts/ray_sample.py runs/adult-mixture /tmp/rows 10000000 20 2
"""

import sys
import time

import numpy as np
import polars as pl
import pyarrow as pa
import ray

import synth

SEED = 1


class ShardSampler:
    """A Ray actor: loads the model once, then samples the shards it is handed."""

    def __init__(self, run: str, rows: int, shards: int):
        self.model = synth.load(run, output="arrow")
        self.rows, self.shards = rows, shards

    def __call__(self, batch: dict) -> pa.Table:
        parts = []
        for shard in batch["id"]:
            part = self.model.sample(self.rows, seed=SEED, shard=(int(shard), self.shards))
            parts.append(part.append_column("shard", pa.array([int(shard)] * part.num_rows, pa.int32())))
        return pa.concat_tables(parts)


def same_rows(here: pl.DataFrame, there: pl.DataFrame) -> bool:
    """Whether two tables hold the same rows, in any order (Parquet files need not keep
    a shard's rows in one piece): their sorted row hashes are equal."""
    there = there.select(here.columns).cast(dict(here.schema))
    hashes = [np.sort(t.hash_rows(seed=0).to_numpy()) for t in (here, there)]
    return np.array_equal(*hashes)


def main() -> int:
    run, out = sys.argv[1], sys.argv[2]
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000_000
    shards = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    workers = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    # one more logical CPU than sampling workers: Ray Data's own read tasks need one too
    ray.init(num_cpus=workers + 1, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter()
    ray.data.range(shards).map_batches(
        ShardSampler,
        fn_constructor_args=(run, rows, shards),
        batch_size=1,
        batch_format="numpy",
        concurrency=workers,
    ).write_parquet(out)
    print(f"Ray Data: {rows:,} rows in {shards} shards on {workers} workers: {time.perf_counter() - started:.1f} s")

    written = pl.read_parquet(f"{out}/*.parquet")
    if written.height != rows:
        print(f"FAILED: Ray wrote {written.height:,} rows, expected {rows:,}")
        return 1
    model = synth.load(run, output="polars")
    started = time.perf_counter()
    mismatched = []
    for shard in range(shards):
        here = model.sample(rows, seed=SEED, shard=(shard, shards))
        there = written.filter(pl.col("shard") == shard).drop("shard")
        if not same_rows(here, there):
            mismatched.append(shard)
    print(f"one process: the same {shards} shards in {time.perf_counter() - started:.1f} s")
    if mismatched:
        print(f"FAILED: shards {mismatched} differ between Ray and one process")
        return 1
    print("OK: every shard Ray sampled equals the same shard sampled in one process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
