#!/usr/bin/env bash
# Whole-process measurements on a 1,000,000-row, 15-column transactions table
# (scripts/make-transactions.py): for CTGAN and TVAE with the shipped configs' settings,
# one training epoch (transformer fit and encode times from the log, wall time, peak RSS),
# then sampling 1,000,000 rows to Parquet (wall time, peak RSS). The same on a 100,000-row
# table of the same kind (cost linear in rows?) and on Adult (26,049 rows). An epoch's time is
# the 2-epoch run's wall time less the 1-epoch run's. MODELS picks models (default "ctgan tvae").
#
#   scripts/million-rows.sh [WORK_DIR]        (default /tmp/synth-million)
#
# Uses target/debug binaries (dev profile, as users' `cargo run`), the configs' backend unless
# SYNTH_BACKEND names another, and GNU time (/usr/bin/time). Run it from anywhere; it builds
# first (NO_BUILD=1: skip the build; REUSE=1: keep the training runs already in WORK_DIR).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/synth-million}
mkdir -p "$work"
cd "$root"
[ -n "${NO_BUILD:-}" ] || cargo build --bin synth-train --bin synth-sample
[ -f "$work/tx-1m.csv" ] || python3 scripts/make-transactions.py --rows 1000000 -o "$work/tx-1m.csv"
[ -f "$work/tx-100k.csv" ] || python3 scripts/make-transactions.py --rows 100000 -o "$work/tx-100k.csv"

# peak RSS (MiB) and wall seconds of a GNU time -v log
measure() {
    awk -F': ' '/Maximum resident/ {rss=$2/1024} /Elapsed \(wall/ {n=split($2,t,":"); s=(n==3)?t[1]*3600+t[2]*60+t[3]:t[1]*60+t[2]} END {printf "wall %.1f s, peak RSS %.0f MiB", s, rss}' "$1"
}

run() { # name config data epochs
    local name=$1 config=$2 data=$3 epochs=$4
    sed -e "s|^path = .*|path = \"$data\"|" "$config" >"$work/$name.toml"
    for n in 1 "$epochs"; do
        [ -n "${REUSE:-}" ] && [ -f "$work/run-$name-$n/ckpt/latest" ] && { echo "$name train $n epoch(s): $(measure "$work/train-$name-$n.log") (earlier run)"; continue; }
        /usr/bin/time -v target/debug/synth-train --config "$work/$name.toml" --epochs "$n" \
            ${SYNTH_BACKEND:+--backend "$SYNTH_BACKEND"} --out-dir "$work/run-$name-$n" --overwrite --quiet \
            2>"$work/train-$name-$n.log" >/dev/null
        echo "$name train $n epoch(s): $(measure "$work/train-$name-$n.log")"
    done
    sed 's/\x1b\[[0-9;]*m//g' "$work/train-$name-1.log" |
        grep -oE 'transformer fitted seconds=[0-9.]+|encode_seconds=[0-9.]+' | sed "s/^/$name /" || true
    /usr/bin/time -v target/debug/synth-sample --checkpoint "$work/run-$name-1" -n 1000000 \
        ${SYNTH_BACKEND:+--backend "$SYNTH_BACKEND"} -o "$work/sample-$name.parquet" 2>"$work/sample-$name.log" >/dev/null
    echo "$name sample 1,000,000 rows to Parquet: $(measure "$work/sample-$name.log")"
}

models=${MODELS:-ctgan tvae}
for model in $models; do
    run "tx1m-$model" "configs/$model.toml" "$work/tx-1m.csv" 2
    run "tx100k-$model" "configs/$model.toml" "$work/tx-100k.csv" 2
    run "adult-$model" "configs/$model.toml" "$root/assets/adult.csv" 2
done
