#!/usr/bin/env bash
# Scores one synthetic table with synth-eval and with the independent Python judge (SDMetrics
# 0.32 + scikit-learn, run twice with seeds 0 and 1 to show its own spread), and prints the
# figures side by side with each program's wall time.
#
#   PYTHON=~/judge-venv/bin/python JUDGE=path/to/eval_tabular.py \
#     scripts/eval-vs-judge.sh TRAIN.csv HOLDOUT.csv SYNTHETIC.csv TARGET [OUT_DIR]
#
# Needs a built synth-eval (cargo build --bin synth-eval) and python3 for the table.
set -euo pipefail
[ $# -ge 4 ] || { sed -n 2,9p "$0"; exit 2; }
train=$1 holdout=$2 synthetic=$3 target=$4 out=${5:-$(mktemp -d)}
python=${PYTHON:-python3}
judge=${JUDGE:?set JUDGE to the judge script eval_tabular.py}
bin=${SYNTH_EVAL:-target/debug/synth-eval}
mkdir -p "$out"

start=$(date +%s.%N)
"$bin" --quiet --real "$train" --holdout "$holdout" --synthetic "$synthetic" --target "$target" -o "$out/synth" >/dev/null
ours=$(echo "$(date +%s.%N) - $start" | bc)
for seed in 0 1; do
  start=$(date +%s.%N)
  "$python" "$judge" --real-train "$train" --real-test "$holdout" --synthetic "$synthetic" \
    --target "$target" --seed $seed --skip-sdmetrics-dcr --out "$out/judge-$seed.json" >/dev/null 2>&1
  echo "$(date +%s.%N) - $start" | bc >"$out/judge-$seed.seconds"
done

python3 - "$out" "$ours" <<'EOF'
import json, sys
out, ours = sys.argv[1], float(sys.argv[2])
s = json.load(open(f"{out}/synth/report.json"))
j = [json.load(open(f"{out}/judge-{k}.json")) for k in (0, 1)]
t = [float(open(f"{out}/judge-{k}.seconds").read()) for k in (0, 1)]
rows = [
    ("quality overall", s["quality"]["overall"], [x["quality_vs_real_train"]["quality_overall"] for x in j]),
    ("column shapes", s["quality"]["column_shapes"], [x["quality_vs_real_train"]["quality_column_shapes"] for x in j]),
    ("column pair trends", s["quality"]["column_pair_trends"], [x["quality_vs_real_train"]["quality_column_pair_trends"] for x in j]),
    ("DCR synthetic->train median", s["privacy"]["dcr_synthetic_to_train_median"], [x["privacy"]["dcr_synthetic_to_train"]["median"] for x in j]),
    ("DCR holdout->train median", s["privacy"]["dcr_holdout_to_train_median"], [x["privacy"]["dcr_test_to_train"]["median"] for x in j]),
    ("DCR overfitting protection", s["privacy"]["dcr_overfitting_protection"], [x["privacy"]["overfitting_protection_score"] for x in j]),
    ("exact copy share", s["privacy"]["exact_copy_share"], [x["privacy"]["dcr_synthetic_to_train"]["exact_match_fraction"] for x in j]),
    ("TSTR ROC AUC", s["utility"]["synthetic"]["roc_auc"], [x["ml_efficacy"]["train_synthetic_test_real"]["roc_auc"] for x in j]),
    ("TRTR ROC AUC", s["utility"]["real"]["roc_auc"], [x["ml_efficacy"]["train_real_test_real"]["roc_auc"] for x in j]),
    ("TSTR macro F1", s["utility"]["synthetic"]["f1_macro"], [x["ml_efficacy"]["train_synthetic_test_real"]["f1_macro"] for x in j]),
    ("TSTR accuracy", s["utility"]["synthetic"]["accuracy"], [x["ml_efficacy"]["train_synthetic_test_real"]["accuracy"] for x in j]),
]
print(f"{'metric':30} {'synth-eval':>10} {'judge s0':>9} {'judge s1':>9} {'diff':>8}")
for name, a, b in rows:
    diff = a - b[0] if a is not None and b[0] is not None else float("nan")
    print(f"{name:30} {a:10.4f} {b[0]:9.4f} {b[1]:9.4f} {diff:+8.4f}")
print(f"{'wall seconds':30} {ours:10.1f} {t[0]:9.1f} {t[1]:9.1f}")
EOF
