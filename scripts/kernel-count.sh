#!/usr/bin/env bash
# GPU kernels (dispatches) per training step of CTGAN and TVAE on wgpu, counted by CubeCL's
# execution log (a cubecl.toml with `[profiling.logger] level = "minimal"` logs one line per
# kernel run). Any wgpu adapter will do, Mesa's software lavapipe included: the count does not
# depend on the hardware.
#
#   scripts/kernel-count.sh [OUT]
#
# Trains the smoke configs (2,000 Adult rows, batch 200: 10 steps an epoch) for 1 and for 3
# epochs and reports (kernels(3) - kernels(1)) / 20 steps, so start-up, the first epoch's
# one-off work and the final checkpoint cancel. Uses synth-train from SYNTH_BIN (default
# target/debug; build with the features to compare, e.g. --features fusion). Run it from the
# repository root.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$(mktemp -d)}
bin="${SYNTH_BIN:-$root/target/debug}"
mkdir -p "$out"
cat >"$out/cubecl.toml" <<TOML
[profiling.logger]
level = "minimal"
file = "$out/kernels.log"
TOML

for model in ctgan tvae; do
    sed -e "s|^path = .*|path = \"$root/tests/fixtures/adult_2k.csv\"|" \
        -e "s|^out_dir = .*|out_dir = \"$out/$model\"|" \
        -e "s/^checkpoint_every = .*/checkpoint_every = 1000/" \
        "$root/configs/smoke/$model.toml" >"$out/$model.toml"
    counts=()
    for epochs in 1 3; do
        rm -f "$out/kernels.log"
        # CubeCL reads cubecl.toml from the working directory
        (cd "$out" && "$bin/synth-train" --config "$model.toml" --backend wgpu --strict-backend \
            --epochs "$epochs" --overwrite --quiet >/dev/null 2>"$out/$model-$epochs.log")
        counts+=("$(grep -c '^Executing' "$out/kernels.log")")
    done
    echo "$model: ${counts[0]} kernels for 1 epoch, ${counts[1]} for 3; $(((counts[1] - counts[0]) / 20)) per training step"
done
