#!/usr/bin/env bash
# Image quality of one checkpoint, scored by an external MNIST judge.
#
#   scripts/image-quality.sh CHECKPOINT JUDGE OUT [PER_CLASS]
#
# Samples 10,000 images from CHECKPOINT (a run, ckpt or checkpoint folder) with --seed 1 and
# runs `python JUDGE OUT/all` (classifier FID against the real test digits, IS-like score,
# the judge's class histogram). For a class-conditional checkpoint (classes.json beside the
# weights) it then samples PER_CLASS images (default 1,000) of every class with
# `--condition class=C --seed 1`, judges each folder, and prints the share of images the
# judge labels as the class asked for. The judge's JSON reports and a log stay in OUT. Uses
# synth-sample from SYNTH_BIN (default target/debug), SYNTH_BACKEND (default flex) and
# PYTHON (default python3, with the judge's packages).
#
# Example (the figures in the README):
#   scripts/image-quality.sh runs/mnist-cdcgan ../shared/judge/eval_images.py runs/cdcgan-judged
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
checkpoint=$1 judge=$2 out=$3 per_class=${4:-1000}
backend=${SYNTH_BACKEND:-flex}
python=${PYTHON:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${SYNTH_BIN:-$root/target/debug}:$PATH"
mkdir -p "$out"

judge() { # folder report: judge the PNGs of a folder (not its grid) into a JSON report
    mkdir -p "$1.grid" && mv "$1/grid.png" "$1.grid/"
    "$python" "$judge" "$1" --out "$2" >/dev/null 2>>"$out/log.txt"
}

synth-sample --checkpoint "$checkpoint" -n 10000 -o "$out/all" --seed 1 --backend "$backend" >/dev/null 2>>"$out/log.txt"
judge "$out/all" "$out/all.json"
"$python" - "$out/all.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
fractions = r["class_fractions"]
print(f"10,000 samples: classifier FID {r['classifier_fid']:.1f}, IS-like {r['is_like']:.2f}, "
      f"rarest digit {min(fractions):.1%} ({fractions.index(min(fractions))}), "
      f"commonest {max(fractions):.1%} ({fractions.index(max(fractions))})")
PY

classes_file=$(find "$checkpoint" -name classes.json | sort | tail -1)
[ -n "$classes_file" ] || exit 0
for class in $("$python" -c "import json,sys; print(' '.join(json.load(open(sys.argv[1]))['names']))" "$classes_file"); do
    synth-sample --checkpoint "$checkpoint" -n "$per_class" -o "$out/class-$class" \
        --condition "class=$class" --seed 1 --backend "$backend" >/dev/null 2>>"$out/log.txt"
    judge "$out/class-$class" "$out/class-$class.json"
    "$python" - "$out/class-$class.json" "$class" <<'PY'
import json, sys
r, c = json.load(open(sys.argv[1])), int(sys.argv[2])
print(f"class={c}: {r['class_fractions'][c]:.1%} of {r['n_images']} judged {c}")
PY
done
