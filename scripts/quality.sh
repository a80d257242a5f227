#!/usr/bin/env bash
# Quality of a tabular model over several training seeds, scored by an external judge.
#
#   scripts/quality.sh CONFIG JUDGE REAL_TRAIN REAL_TEST OUT "SEEDS" "EPOCHS"
#
# For each seed: trains CONFIG (with that seed, checkpoints at every epoch count in EPOCHS,
# stopping at the largest; EPOCHS "final" keeps the config's epochs and takes the run's last
# checkpoint, for models that stop early), samples 50,000 rows from each of those checkpoints with --seed 1,
# and runs `python JUDGE --real-train REAL_TRAIN --real-test REAL_TEST --synthetic ...
# --target income --skip-quality-vs-train --skip-privacy`, keeping its JSON report. Ends with
# one line per (seed, epochs): quality against the test split and train-on-synthetic ROC AUC,
# then their means. Uses synth-train / synth-sample from SYNTH_BIN (default target/debug),
# SYNTH_BACKEND (default flex) as the backend, SAMPLE_ARGS as extra synth-sample arguments
# (e.g. "--condition-frequencies training") and PYTHON (default python3, with the judge's
# packages) for the judge. Run it from the repository root: the config's
# data path is relative to the working directory.
#
# Example (the figures in the README):
#   scripts/quality.sh configs/ctgan.toml ../shared/judge/eval_tabular.py \
#       ../shared/data/adult/adult_train.csv ../shared/data/adult/adult_test.csv runs/quality-ctgan "7 1 2" "100 300"
set -euo pipefail

if [ $# -ne 7 ]; then
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
config=$1 judge=$2 real_train=$3 real_test=$4 out=$5 seeds=$6 epochs=$7
backend=${SYNTH_BACKEND:-flex}
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${SYNTH_BIN:-$root/target/debug}:$PATH"
last=$(tr ' ' '\n' <<<"$epochs" | sort -n | tail -1)
mkdir -p "$out"

for seed in $seeds; do
    run="$out/seed-$seed"
    # The config with this seed, backend, output folder and epoch count; checkpoints are
    # written at every epoch that divides by checkpoint_every, so use their common divisor.
    if [ "$epochs" = final ]; then
        schedule=()
    else
        every=$(python3 -c "import math,sys; print(math.gcd(*map(int, sys.argv[1:])))" $epochs)
        schedule=(-e "s/^epochs = .*/epochs = $last/" -e "s/^checkpoint_every = .*/checkpoint_every = $every/")
    fi
    sed -e "s/^seed = .*/seed = $seed/" \
        -e "s|^out_dir = .*|out_dir = \"$run\"|" \
        "${schedule[@]}" \
        -e "s/^backend = .*/backend = \"$backend\"/" \
        "$config" >"$out/seed-$seed.toml"
    /usr/bin/time -f "%e s wall, %U s user" -o "$out/seed-$seed.time" \
        synth-train --config "$out/seed-$seed.toml" --overwrite >"$out/seed-$seed.train.log" 2>&1
    for e in $epochs; do
        if [ "$e" = final ]; then ckpt="$run"; else ckpt="$run/ckpt/epoch-$(printf '%04d' "$e")"; fi
        # shellcheck disable=SC2086 # SAMPLE_ARGS is a list of arguments
        synth-sample --checkpoint "$ckpt" -n 50000 --seed 1 --backend "$backend" ${SAMPLE_ARGS:-} \
            -o "$out/seed-$seed-epoch-$e.csv" >/dev/null 2>&1
        "${PYTHON:-python3}" "$judge" --real-train "$real_train" --real-test "$real_test" \
            --synthetic "$out/seed-$seed-epoch-$e.csv" --target income \
            --skip-quality-vs-train --skip-privacy \
            --out "$out/seed-$seed-epoch-$e.json" >"$out/seed-$seed-epoch-$e.judge.log" 2>&1
        rm "$out/seed-$seed-epoch-$e.csv"
    done
done

python3 - "$out" $seeds -- $epochs <<'EOF'
import json, statistics, sys
out, rest = sys.argv[1], sys.argv[2:]
split = rest.index("--")
seeds, epochs = rest[:split], rest[split + 1:]
for e in epochs:
    quality, auc = [], []
    for seed in seeds:
        report = json.load(open(f"{out}/seed-{seed}-epoch-{e}.json"))
        quality.append(report["quality_vs_real_test"]["quality_overall"])
        auc.append(report["ml_efficacy"]["train_synthetic_test_real"]["roc_auc"])
        print(f"seed {seed:>3}, {e:>4} epochs: quality {quality[-1]:.3f}, TSTR ROC AUC {auc[-1]:.3f}")
    print(f"mean over {len(seeds)} seeds, {e} epochs: quality {statistics.mean(quality):.3f}, "
          f"TSTR ROC AUC {statistics.mean(auc):.3f} (min {min(auc):.3f}, max {max(auc):.3f})")
EOF
