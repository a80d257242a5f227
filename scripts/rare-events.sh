#!/usr/bin/env bash
# Rare events on Adult: does growing a rare class with synthetic rows help a classifier?
#
#   scripts/rare-events.sh REAL_TRAIN REAL_TEST OUT ["SHARES"]
#
# Thins the `>50K` class of REAL_TRAIN to 1% of its rows (scripts/thin-class.py, seed 0),
# trains TabularARGN, CTGAN, TVAE and GaussianCopula (MODELS, default all four) on the
# thinned table with the shipped configs (configs/<model>.toml; backend SYNTH_BACKEND,
# default flex; EPOCHS overrides the neural models' epoch counts), augments the thinned table back to each share in SHARES (default
# "0.05 0.1 0.2") with each model (`synth-sample --augment --method model`) and with SMOTE-NC
# (`--method smote`), and scores all of them with `synth-eval --augment`: the same gradient
# boosting trained on each table, tested on the untouched REAL_TEST rows; recall, precision
# and F1 of `>50K`, PR AUC. The table is printed and kept in OUT/report/augmentation.json.
# Trained runs in OUT are reused (delete OUT/<model> to retrain). Uses the binaries
# in SYNTH_BIN (default target/debug). Run it from the repository root.
#
# Example (the figures in the README):
#   scripts/rare-events.sh assets/adult.csv ../shared/data/adult/adult_test.csv runs/rare-events
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
real_train=$1 real_test=$2 out=$3 shares=${4:-"0.05 0.1 0.2"}
backend=${SYNTH_BACKEND:-flex}
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${SYNTH_BIN:-$root/target/debug}:$PATH"
mkdir -p "$out"
thin="$out/train-thin.csv"
python3 "$root/scripts/thin-class.py" "$real_train" --target income --class '>50K' \
    --share 0.01 --seed 0 -o "$thin"

models=${MODELS:-"argn ctgan tvae gaussiancopula"}
for model in $models; do
    run="$out/$model"
    if [ -e "$run/ckpt/latest" ]; then
        echo "reusing $run"
        continue
    fi
    sed -e "s|^path = .*|path = \"$thin\"|" \
        -e "s|^out_dir = .*|out_dir = \"$run\"|" \
        -e "s/^backend = .*/backend = \"$backend\"/" \
        ${EPOCHS:+-e "/^epochs = 1 /!s/^epochs = .*/epochs = $EPOCHS/"} \
        "$root/configs/$model.toml" >"$out/$model.toml"
    echo "training $model on $thin (log: $out/$model.train.log)"
    /usr/bin/time -f "$model: %e s, peak RSS %M KiB" \
        synth-train --config "$out/$model.toml" --overwrite >"$out/$model.train.log" 2>&1
    tail -1 "$out/$model.train.log"
done

augmented=()
for share in $shares; do
    pct=$(python3 -c "print(f'{100 * $share:g}%')")
    for method in $models smote; do
        file="$out/augmented-$method-$share.csv"
        if [ "$method" = smote ]; then
            synth-sample --augment "$thin" --method smote --target income --class '>50K' \
                --to-share "$share" --seed 1 -o "$file" 2>>"$out/augment.log"
        else
            synth-sample --checkpoint "$out/$method" --augment "$thin" --target income \
                --class '>50K' --to-share "$share" --seed 1 --backend "$backend" \
                -o "$file" 2>>"$out/augment.log"
        fi
        augmented+=(--augment "$method $pct=$file")
    done
done

synth-eval --real "$thin" --holdout "$real_test" --target income --class '>50K' \
    "${augmented[@]}" -o "$out/report"
