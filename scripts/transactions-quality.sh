#!/usr/bin/env bash
# Does modelling dates, times and keys cost the other columns anything? Trains CONFIG on the
# transactions fixture twice: with every column, and with the key and the date/time columns
# ignored (tx_id, ts, date, local_time). Samples 5,000 rows from each and has the external
# judge score both on the columns they share, against an independent 1,200-row test table
# (scripts/make-transactions.py --seed 6), with target is_fraud.
#
#   scripts/transactions-quality.sh CONFIG JUDGE OUT [SEEDS]     (SEEDS default "7 1 2")
#
# Uses synth-train / synth-sample from SYNTH_BIN (default target/debug) and PYTHON (default
# python3, with the judge's packages). Run it from the repository root.
set -euo pipefail
if [ $# -lt 3 ]; then
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
config=$1 judge=$2 out=$3 seeds=${4:-7 1 2}
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${SYNTH_BIN:-$root/target/debug}:$PATH"
python=${PYTHON:-python3}
mkdir -p "$out"
train=$root/tests/fixtures/transactions.csv
"$python" "$root/scripts/make-transactions.py" --rows 1200 --seed 6 -o "$out/test.csv"
shared="customer,amount,balance,age,items,channel,merchant,country,card,device,is_fraud"
keep() { "$python" -c "import pandas as p,sys; p.read_csv(sys.argv[1])[sys.argv[3].split(',')].to_csv(sys.argv[2], index=False)" "$@"; }
keep "$train" "$out/train-shared.csv" "$shared"
keep "$out/test.csv" "$out/test-shared.csv" "$shared"

for seed in $seeds; do
    for variant in all-columns without-dates-and-keys; do
        run=$out/$variant-$seed
        sed -e "s|^path = .*|path = \"$train\"|" "$config" >"$out/$variant.toml"
        if [ "$variant" = without-dates-and-keys ]; then
            sed -i 's|^\[data\]|[data]\nignore = ["tx_id", "ts", "date", "local_time"]|' "$out/$variant.toml"
        fi
        synth-train --config "$out/$variant.toml" --seed "$seed" --out-dir "$run" --overwrite --quiet >/dev/null 2>&1
        synth-sample --checkpoint "$run" -n 5000 --seed 1 -o "$run/sample.csv" >/dev/null 2>&1
        keep "$run/sample.csv" "$run/sample-shared.csv" "$shared"
        "$python" "$judge" --real-train "$out/train-shared.csv" --real-test "$out/test-shared.csv" \
            --synthetic "$run/sample-shared.csv" --target is_fraud --skip-privacy \
            --out "$run/judge.json" >/dev/null 2>&1
        "$python" -c "
import json, sys
r = json.load(open(sys.argv[1]))
q, ml = r['quality_vs_real_test'], r['ml_efficacy']['train_synthetic_test_real']
f = lambda x: 'n/a' if x is None else f'{x:.4f}'  # pair trends: none when no pair counts
print(f'{sys.argv[2]:24} seed {sys.argv[3]}: quality {f(q[\"quality_overall\"])} '
      f'shapes {f(q[\"quality_column_shapes\"])} trends {f(q[\"quality_column_pair_trends\"])} '
      f'TSTR ROC AUC {f(ml.get(\"roc_auc\"))}')" "$run/judge.json" "$variant" "$seed"
    done
done
