#!/usr/bin/env bash
# Fit + sample through the Python package against the same work through the CLIs, as whole
# processes (wall seconds and peak memory from /usr/bin/time), on the same CSV with the same
# shipped config, both built in the dev profile. Alternates the two, RUNS times each.
#
# Usage: scripts/python-vs-cli.sh KIND DATA.csv ROWS [EPOCHS] [RUNS]
#   DATA.csv: the file configs/KIND.toml trains on (its data.path), read by the Python side.
#   PYTHON: a Python with the package installed (pip install ./python); default python3.
#   e.g. scripts/python-vs-cli.sh mixture assets/adult.csv 50000
set -euo pipefail
cd "$(dirname "$0")/.."
kind=$1 data=$2 rows=$3 epochs=${4:-} runs=${5:-3}
python=${PYTHON:-python3}
out=$(mktemp -d)
epochs_flag=()
[[ -n $epochs ]] && epochs_flag=(--epochs "$epochs")
cargo build --quiet --bins
for run in $(seq "$runs"); do
  /usr/bin/time -f "python run $run: %e s wall, %M KiB peak" \
    "$python" scripts/python_fit_sample.py "$kind" "$data" "$out/py" "$rows" $epochs
  /usr/bin/time -f "cli    run $run: %e s wall, %M KiB peak (synth-train)" \
    target/debug/synth-train --config "configs/$kind.toml" --out-dir "$out/cli" --overwrite --quiet \
    "${epochs_flag[@]}" >/dev/null
  /usr/bin/time -f "cli    run $run: %e s wall, %M KiB peak (synth-sample)" \
    target/debug/synth-sample --checkpoint "$out/cli" -n "$rows" --seed 1 -o "$out/cli/synthetic.csv" >/dev/null
done 2>&1 | grep -E "^(python|cli)"
rm -rf "$out"
