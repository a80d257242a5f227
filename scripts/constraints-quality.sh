#!/usr/bin/env bash
# Quality with and without constraints on Adult, by an external judge. Adult's own rules
# are declared on a model's shipped config: education and its number go together
# (fixed_combinations), age is at least education-num + 4 (inequality), a husband is male and
# a wife female, and no one has both a capital gain and a capital loss (rules; the three
# training rows that break the first are dropped). For each seed, the config with them and
# the same config without them are trained, 26,049 rows sampled from each, judged
# (`python JUDGE ... --target income --skip-privacy`), and the rows breaking each rule
# counted.
#
#   scripts/constraints-quality.sh MODEL JUDGE REAL_TRAIN REAL_TEST OUT "SEEDS"
#
# MODEL names configs/MODEL.toml (e.g. mixture, argn). Uses target/debug's synth-train and
# synth-sample (SYNTH_BIN), SYNTH_BACKEND (default flex), and PYTHON (default python3, with
# the judge's packages and pandas). Example (the figures in the README):
#   scripts/constraints-quality.sh mixture ../shared/judge/eval_tabular.py \
#       ../shared/data/adult/adult_train.csv ../shared/data/adult/adult_test.csv /tmp/cq "7 1 2"
set -euo pipefail

if [ $# -ne 6 ]; then
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
model=$1 judge=$2 real_train=$3 real_test=$4 out=$5 seeds=$6
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${SYNTH_BIN:-$root/target/debug}:$PATH"
python=${PYTHON:-python3}
backend=${SYNTH_BACKEND:-flex}
mkdir -p "$out"

rules='
[[constraints]]
kind = "fixed_combinations"
columns = ["education", "education-num"]

[[constraints]]
kind = "inequality"
low = "education-num"
high = "age"
gap = 4

[[constraints]]
kind = "rule"
expr = "(relationship <> '"'"'Husband'"'"' OR sex = '"'"'Male'"'"') AND (relationship <> '"'"'Wife'"'"' OR sex = '"'"'Female'"'"')"

[[constraints]]
kind = "rule"
expr = "\"capital-gain\" = 0 OR \"capital-loss\" = 0"
'

for variant in plain constrained; do
    sed -e "s|^path = .*|path = \"$real_train\"|" -e "s/^backend = .*/backend = \"$backend\"/" \
        "$root/configs/$model.toml" >"$out/$variant.toml"
    if [ "$variant" = constrained ]; then
        sed -i 's/^\(path = .*\)$/\1\ndiscrete = ["education-num"]\non_violation = "drop"/' "$out/$variant.toml"
        printf '%s' "$rules" >>"$out/$variant.toml"
    fi
done

for seed in $seeds; do
    for variant in plain constrained; do
        run="$out/$variant-$seed"
        sed "s/^seed = .*/seed = $seed/" "$out/$variant.toml" >"$run.toml"
        synth-train --config "$run.toml" --out-dir "$run" --overwrite --quiet >"$run.train.log" 2>&1
        synth-sample --checkpoint "$run" -n 26049 --seed 1 -o "$run.csv" >"$run.sample.log" 2>&1
        "$python" "$judge" --real-train "$real_train" --real-test "$real_test" --synthetic "$run.csv" \
            --target income --skip-privacy --out "$run.json" >"$run.judge.log" 2>&1
        "$python" - "$run.csv" "$real_train" "$run.json" "$model $variant seed $seed" <<'PY'
import json, sys
import pandas as pd
rows, real, report, name = pd.read_csv(sys.argv[1]), pd.read_csv(sys.argv[2]), json.load(open(sys.argv[3])), sys.argv[4]
pairs = set(zip(real["education"], real["education-num"]))
broken = {
    "unseen education pair": (~pd.Series([p in pairs for p in zip(rows["education"], rows["education-num"])])).sum(),
    "age < education-num + 4": (rows["age"] < rows["education-num"] + 4).sum(),
    "husband/wife vs sex": (((rows["relationship"] == "Husband") & (rows["sex"] != "Male")) | ((rows["relationship"] == "Wife") & (rows["sex"] != "Female"))).sum(),
    "gain and loss": ((rows["capital-gain"] > 0) & (rows["capital-loss"] > 0)).sum(),
}
quality = report["quality_vs_real_test"]["quality_overall"]
auc = report["ml_efficacy"]["train_synthetic_test_real"]["roc_auc"]
print(f"{name}: quality {quality:.4f}, TSTR ROC AUC {auc:.4f}, rows breaking: {dict((k, int(v)) for k, v in broken.items())}")
PY
    done
done
