#!/usr/bin/env bash
# Differentially private synthesizers on Adult, by an external judge: synth's MST
# (configs/mst.toml) and, when PEER_PYTHON names a Python with smartnoise-synth installed,
# smartnoise's MST and AIM, at each epsilon, with the same delta (1e-9), the same rows and the
# same judge (`python JUDGE ... --target income --skip-privacy`). Every model samples as many
# rows as the training table has. synth's MST runs twice: declaring no column public (domains
# measured privately, from the budget) and declaring every column's domain public, which is
# how smartnoise is run (the data's bounds and categories given to its transformer; by
# default it would spend budget on bounds).
#
#   scripts/dp-quality.sh JUDGE REAL_TRAIN REAL_TEST OUT "EPSILONS" "SEEDS"
#
# Uses target/debug's synth-train and synth-sample (SYNTH_BIN), PYTHON (default python3, with
# the judge's packages and pandas) and PEER_PYTHON (optional); PEERS (default "mst aim") picks
# smartnoise's synthesizers, SKIP_SYNTH=1 skips synth's MST runs, and DP_TVAE=1 adds TVAE
# trained with DP-SGD (configs/tvae-dp.toml, every domain public; DP_TVAE_EPOCHS=N overrides
# its 300 epochs). Example (the README's figures):
#   PEER_PYTHON=~/sn-venv/bin/python scripts/dp-quality.sh ../shared/judge/eval_tabular.py \
#       ../shared/data/adult/adult_train.csv ../shared/data/adult/adult_test.csv /tmp/dp "1 10" "7 1 2"
set -euo pipefail

if [ $# -ne 6 ]; then
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
judge=$1 real_train=$2 real_test=$3 out=$4 epsilons=$5 seeds=$6
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${SYNTH_BIN:-$root/target/debug}:$PATH"
python=${PYTHON:-python3}
rows=$(($(wc -l <"$real_train") - 1))
mkdir -p "$out"

score() { # name rows.csv
    "$python" "$judge" --real-train "$real_train" --real-test "$real_test" --synthetic "$2" \
        --target income --skip-privacy --out "$2.json" >"$2.judge.log" 2>&1
    "$python" - "$2.json" "$1" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
quality = report["quality_vs_real_test"]["quality_overall"]
tstr = report["ml_efficacy"]["train_synthetic_test_real"]
auc = f"{tstr['roc_auc']:.4f}" if "roc_auc" in tstr else f"n/a ({tstr.get('error')})"
print(f"{sys.argv[2]}: quality {quality:.4f}, TSTR ROC AUC {auc}", flush=True)
PY
}

for epsilon in $epsilons; do
    for seed in $seeds; do
        for public in $([ -n "${SKIP_SYNTH:-}" ] || echo none all); do
            run="$out/mst-$public-eps$epsilon-seed$seed"
            list=$([ "$public" = all ] && echo '["*"]' || echo '[]')
            sed -e "s|^path = .*|path = \"$real_train\"|" -e "s/^seed = .*/seed = $seed/" \
                -e "s/^epsilon = .*/epsilon = $epsilon/" -e "s/^public = .*/public = $list/" \
                "$root/configs/mst.toml" >"$run.toml"
            start=$SECONDS
            synth-train --config "$run.toml" --out-dir "$run" --overwrite --quiet >"$run.train.log" 2>&1
            synth-sample --checkpoint "$run" -n "$rows" --seed 1 -o "$run.csv" >"$run.sample.log" 2>&1
            seconds=$((SECONDS - start))
            score "synth mst public=$public epsilon $epsilon seed $seed (train+sample $seconds s)" "$run.csv"
        done
        if [ -n "${DP_TVAE:-}" ]; then
            # TVAE with DP-SGD: configs/tvae-dp.toml (every domain public), DP_TVAE_EPOCHS epochs
            run="$out/tvae-eps$epsilon-seed$seed"
            sed -e "s|^path = .*|path = \"$real_train\"|" -e "s/^seed = .*/seed = $seed/" \
                -e "s/^epsilon = .*/epsilon = $epsilon/" \
                ${DP_TVAE_EPOCHS:+-e "s/^epochs = .*/epochs = $DP_TVAE_EPOCHS/"} \
                "$root/configs/tvae-dp.toml" >"$run.toml"
            epochs=$(sed -n 's/^epochs = \([0-9]*\).*/\1/p' "$run.toml")
            start=$SECONDS
            synth-train --config "$run.toml" --out-dir "$run" --overwrite --quiet >"$run.train.log" 2>&1
            synth-sample --checkpoint "$run" -n "$rows" --seed 1 -o "$run.csv" >"$run.sample.log" 2>&1
            score "synth tvae dp-sgd $epochs epochs epsilon $epsilon seed $seed (train+sample $((SECONDS - start)) s)" "$run.csv"
        fi
        if [ -n "${PEER_PYTHON:-}" ]; then
            for peer in ${PEERS:-mst aim}; do
                peer_out="$out/smartnoise-$peer-eps$epsilon-seed$seed.csv"
                if "$PEER_PYTHON" "$root/scripts/smartnoise_synth.py" "$peer" "$real_train" "$epsilon" \
                    "$rows" "$peer_out" >"$peer_out.log" 2>&1; then
                    score "smartnoise $peer epsilon $epsilon seed $seed ($(tail -1 "$peer_out.log"))" "$peer_out"
                else
                    echo "smartnoise $peer epsilon $epsilon seed $seed: failed, see $peer_out.log"
                fi
            done
        fi
    done
done
