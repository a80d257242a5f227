#!/usr/bin/env bash
# The GPU speed benchmark, made to run on a lent GPU machine (NVIDIA driver, Python with
# PyTorch, no network, no Rust toolchain) and tested end to end on the CPU.
#
# Here (with the toolchain and the network), build what it needs:
#   scripts/gpu-bench.sh --prepare [--bundle DIR]
# builds synth-train and synth-sample (dev profile, as users run them) with the `cuda` feature
# twice, "plain" (no fusion, no autotune) and "fused" (the `fusion` and `autotune` features),
# and writes one bundle per variant, DIR/plain and DIR/fused (DIR: target/gpu-bench): the two
# stripped binaries in one xz archive, the wheels of PyTorch ctgan 0.12.1 and the pure-Python
# packages it needs beyond the lent machines' Python, and libdevice.10.bc (from PyPI's
# nvidia-cuda-nvcc-cu12) in case the machine has no CUDA toolkit. A bundle must stay under
# 58 MiB to travel with the working tree (64 MiB in all); the two variants together do not fit
# (about 50 MiB each: LLVM is linked into every binary), hence one call per variant.
# CUDARC_CUDA_VERSION (default 12040: CUDA 12.4) is the CUDA version the binaries are built
# for; the machine's driver must support at least that (nvidia-smi's "CUDA Version").
#
# There (or here, on the CPU backends and lavapipe, to test it):
#   scripts/gpu-bench.sh --bundle DIR/plain [--backends "cuda wgpu"] [--no-peers] [--out DIR]
#                        [--report DIR]
#                        [--budget SECONDS] [--dcgan-epochs N] [--rows N] [--mnist-images N]
#                        [--table CSV]
# writes one table (OUT/gpu-bench.md, also printed) with, for each backend: the CTGAN and TVAE
# epoch on Adult (or --table) with configs/ctgan.toml and configs/tvae.toml's settings (the
# median of epochs 2-3) and their first epoch (warm-up: kernel compilation, autotuning),
# 1,000,000 CTGAN rows (or --rows) sampled, decoded and written to Parquet (whole process), the
# DCGAN epoch on 60,000 MNIST images (or --mnist-images; the embedded 2,000 digits over and
# over: an epoch's cost does not depend on which digits) with configs/dcgan.toml's settings,
# and the kernel-time versus gap split of a CTGAN and a TVAE step (CubeCL's profiler times every
# kernel of a 1-epoch and a 2-epoch run; their difference over the steps of an epoch is the
# kernel time of a step, and the gap is the unprofiled step's wall time less it). Unless
# --no-peers: PyTorch ctgan's epoch and sampling (scripts/torch_ctgan.py) and a PyTorch DCGAN
# of the same shape (scripts/torch_dcgan.py) on PyTorch's device (PYTHON names the Python with
# PyTorch; default python3). Every run has a time limit, and once BUDGET seconds (default 270)
# have passed the remaining runs are listed as skipped, so the call ends inside the lent
# machine's limit with the table written. Logs are kept in OUT (a new folder in /tmp by
# default); --report copies the table, the device line and the logs (one .tar.gz, without
# binaries, checkpoints or samples) to a folder, such as the lent machine's $OUT.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bundle=""
backends="cuda wgpu"
peers=1
out=""
report=""
budget=270
dcgan_epochs=2
mnist_images=60000
rows=1000000
table_csv="$root/assets/adult.csv"
prepare=0
python="${PYTHON:-python3}"   # the Python with PyTorch, for the peers

usage() { sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare) prepare=1; shift ;;
    --bundle) bundle="${2:?--bundle needs a folder}"; shift 2 ;;
    --backends) backends="${2:?--backends needs a list}"; shift 2 ;;
    --no-peers) peers=0; shift ;;
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --report) report="${2:?--report needs a folder}"; shift 2 ;;
    --budget) budget="${2:?--budget needs seconds}"; shift 2 ;;
    --dcgan-epochs) dcgan_epochs="${2:?--dcgan-epochs needs a number}"; shift 2 ;;
    --rows) rows="${2:?--rows needs a number}"; shift 2 ;;
    --mnist-images) mnist_images="${2:?--mnist-images needs a number}"; shift 2 ;;
    --table) table_csv="${2:?--table needs a CSV file}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu-bench: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$bundle" ] || bundle="$root/target/gpu-bench"
case "$bundle" in /*) ;; *) bundle="$PWD/$bundle" ;; esac
case "$table_csv" in /*) ;; *) table_csv="$PWD/$table_csv" ;; esac

# The pure-Python wheels PyTorch ctgan needs beyond numpy, pandas, scipy, scikit-learn and
# torch, tqdm, python-dateutil and six (which the lent machines' Python 3.12 has).
CTGAN_WHEELS="ctgan==0.12.1 rdt==2.0.0 Faker==40.63.0 tzdata==2026.6"
BUNDLE_LIMIT_MIB=58

prepare_bundle() {
  command -v xz >/dev/null || { echo "gpu-bench --prepare: xz is needed to compress the binaries" >&2; exit 1; }
  "$root/scripts/setup-cuda-llvm.sh"
  export CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-12040}"
  local shared="$bundle/shared.partial" variant features part size_mib
  rm -rf "$shared"
  mkdir -p "$shared/wheels"
  # shellcheck disable=SC2086
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$shared/wheels" $CTGAN_WHEELS
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$shared/nvcc" "nvidia-cuda-nvcc-cu12==12.9.86"
  python3 - "$shared" <<'PY'
import pathlib, sys, zipfile
shared = pathlib.Path(sys.argv[1])
wheel = next((shared / "nvcc").glob("*.whl"))
with zipfile.ZipFile(wheel) as z:
    (shared / "libdevice.10.bc").write_bytes(z.read("nvidia/cuda_nvcc/nvvm/libdevice/libdevice.10.bc"))
PY
  rm -rf "$shared/nvcc"
  cd "$root"
  for variant in plain fused; do
    features=cuda
    [ "$variant" = fused ] && features=cuda,fusion,autotune
    echo "building the $variant binaries (--features $features, CUDA $CUDARC_CUDA_VERSION)"
    cargo build --locked --features "$features" --bin synth-train --bin synth-sample
    part="$bundle/$variant.partial"
    rm -rf "$part"
    cp -r "$shared" "$part"
    mkdir -p "$part/bin"
    strip -o "$part/bin/synth-train" target/debug/synth-train
    strip -o "$part/bin/synth-sample" target/debug/synth-sample
    # One solid stream with a dictionary larger than both: the second binary shares much of
    # the first (LLVM, burn, polars) and costs about half as much again.
    tar -C "$part" -cf - bin | xz -T1 --x86 --lzma2=preset=6,dict=512MiB >"$part/synth.tar.xz"
    rm -rf "$part/bin"
    {
      echo "variant $variant (--features $features)"
      echo "commit $(git rev-parse HEAD)$(git diff --quiet || echo ' with uncommitted changes')"
      echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) for CUDA $CUDARC_CUDA_VERSION"
    } >"$part/BUILD"
    size_mib=$(du -sm "$part" | cut -f1)
    if [ "$size_mib" -gt "$BUNDLE_LIMIT_MIB" ]; then
      echo "gpu-bench --prepare: the $variant bundle is $size_mib MiB, over $BUNDLE_LIMIT_MIB MiB" >&2
      exit 1
    fi
    rm -rf "${part%.partial}"
    mv "$part" "${part%.partial}"
    echo "bundle ready: ${part%.partial} ($size_mib MiB)"
  done
  rm -rf "$shared"
}

if [ "$prepare" = 1 ]; then
  prepare_bundle
  exit 0
fi

[ -f "$bundle/synth.tar.xz" ] || { echo "gpu-bench: no bundle in $bundle (expected DIR/plain or DIR/fused); build them with scripts/gpu-bench.sh --prepare" >&2; exit 2; }
variant=$(awk 'NR == 1 {print $2}' "$bundle/BUILD")
out="${out:-$(mktemp -d /tmp/gpu-bench.XXXXXX)}"
mkdir -p "$out"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
started=$(date +%s)
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$out}"

left() { echo $((budget - ($(date +%s) - started))); }
# run_limited LOG SECONDS CMD...: runs CMD with its output in LOG, within SECONDS and the budget.
run_limited() {
  local log=$1 limit=$2 remaining
  shift 2
  remaining=$(left)
  [ "$remaining" -gt 5 ] || { echo "skipped: out of time" >"$log"; return 3; }
  [ "$limit" -lt "$remaining" ] || limit=$remaining
  timeout "$limit" "$@" >"$log" 2>&1
}

unpack() { # the bundle's binaries into OUT/bin
  if command -v xz >/dev/null; then xz -dc "$bundle/synth.tar.xz" | tar -C "$out" -xf -; else
    python3 - "$bundle/synth.tar.xz" "$out" <<'PY'
import sys, tarfile
safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2], **safe)
PY
  fi
}

# CubeCL reads libdevice from $CUDA_PATH/nvvm/libdevice or a CUDA toolkit's usual places; without
# one, PyTorch's triton copy or the bundle's, through a folder of that layout.
libdevice_found() {
  for cuda_root in ${CUDA_PATH:-} /usr/local/cuda /opt/cuda /usr/lib/cuda /usr; do
    [ -f "$cuda_root/nvvm/libdevice/libdevice.10.bc" ] && return 0
  done
  return 1
}
if ! libdevice_found; then
  libdevice=$("$python" -c 'import pathlib, triton; print(next(pathlib.Path(triton.__file__).parent.rglob("libdevice.10.bc")))' 2>/dev/null || true)
  [ -n "$libdevice" ] || libdevice="$bundle/libdevice.10.bc"
  mkdir -p "$out/cuda/nvvm/libdevice"
  cp "$libdevice" "$out/cuda/nvvm/libdevice/libdevice.10.bc"
  export CUDA_PATH="$out/cuda"
  echo "libdevice: $libdevice (through CUDA_PATH=$CUDA_PATH)"
fi

# The DCGAN's images: the embedded 2,000 MNIST digits over and over, as a plain IDX file.
mnist_file="$out/mnist-images.idx"
python3 - "$root/assets/mnist-2k-images-idx3-ubyte.gz" "$mnist_file" "$mnist_images" <<'PY'
import gzip, struct, sys
raw = gzip.open(sys.argv[1]).read()
wanted = int(sys.argv[3])
magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
size = rows * cols
pixels = raw[16:] * (wanted // count + 1)
with open(sys.argv[2], "wb") as f:
    f.write(struct.pack(">IIII", magic, wanted, rows, cols) + pixels[: wanted * size])
PY
table="$out/gpu-bench.md"
rows_label=$(printf "%'d" "$rows" 2>/dev/null || echo "$rows")
{
  echo "| run | CTGAN epoch s | CTGAN 1st epoch s | TVAE epoch s | TVAE 1st epoch s | sample $rows_label rows s | DCGAN epoch s | DCGAN 1st epoch s | CTGAN step: kernels / gap ms | TVAE step: kernels / gap ms |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$table"

# What a run that did not finish gets in its cell: skipped (out of time) or failed.
verdict() { if head -n 1 "$1" 2>/dev/null | grep -q '^skipped'; then echo skipped; else echo failed; fi; }

# row NAME CELL...: one line of the table, padded to its 9 figures.
row() {
  local name=$1 line
  shift
  line="| $name |"
  for _ in $(seq 1 9); do
    line="$line ${1:-} |"
    [ $# -gt 0 ] && shift
  done
  echo "$line" >>"$table"
}

# Epoch seconds of a run folder: "steady first steps" (steady: median of epochs after the first).
epoch_figures() {
  python3 - "$1/metrics.jsonl" <<'PY'
import json, statistics, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
seconds = [l["seconds"] for l in lines]
steady = statistics.median(seconds[1:]) if len(seconds) > 1 else float("nan")
print(f"{steady:.3f} {seconds[0]:.3f} {lines[0]['step']}")
PY
}

# Total kernel seconds in a CubeCL profiling log ("| 12.3µs | name" lines).
kernel_seconds() {
  python3 - "$1" <<'PY'
import re, sys
units = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
total = 0.0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.match(r"\|\s*([0-9.]+)(ns|µs|us|ms|s)\s*\|", line)
    if m:
        total += float(m.group(1)) * units[m.group(2)]
print(f"{total:.6f}")
PY
}

# config MODEL DATA EPOCHS DIR: the shipped config with the data, no mid-run checkpoints or previews.
config() {
  sed -e "s|^path = .*|path = \"$2\"|" -e "s|^checkpoint_every = .*|checkpoint_every = 1000|" \
    -e "s|^preview_every = .*|preview_every = 1000|" "$root/configs/$1.toml" >"$4/$1.toml"
  echo "$4/$1.toml"
}

train() { # BIN MODEL DATA EPOCHS BACKEND RUN_DIR LOG
  local cfg
  cfg=$(config "$2" "$3" "$4" "$(dirname "$6")")
  run_limited "$7" 240 "$1/synth-train" --config "$cfg" --epochs "$4" --backend "$5" --strict-backend \
    --out-dir "$6" --overwrite --quiet
}

# Kernel and gap milliseconds per step of MODEL: profiled 1- and 2-epoch runs, in a folder whose
# cubecl.toml turns the profiler on.
step_split() { # BIN MODEL BACKEND TAG STEADY_SECONDS STEPS
  local dir="$out/profile-$4-$2" k1 k2
  mkdir -p "$dir"
  for epochs in 1 2; do
    printf '[profiling.logger]\nlevel = "basic"\nfile = "%s/kernels-%s.log"\n' "$dir" "$epochs" >"$dir/cubecl.toml"
    (cd "$dir" && train "$1" "$2" "$table_csv" "$epochs" "$3" "$dir/run-$epochs" "$dir/train-$epochs.log") || return 1
  done
  [ -s "$dir/kernels-1.log" ] && [ -s "$dir/kernels-2.log" ] || return 1
  k1=$(kernel_seconds "$dir/kernels-1.log")
  k2=$(kernel_seconds "$dir/kernels-2.log")
  python3 -c "import sys; k=(float(sys.argv[2])-float(sys.argv[1]))/int(sys.argv[4])*1e3; w=float(sys.argv[3])/int(sys.argv[4])*1e3; print(f'{k:.2f} / {w-k:.2f}')" "$k1" "$k2" "$5" "$6"
}

bench_synth() { # VARIANT BACKEND
  local variant=$1 backend=$2 tag="$1-$2" bin="$out/bin" cells=() fig steady first steps
  mkdir -p "$out/$tag"
  local ctgan_steady="" ctgan_steps="" tvae_steady="" tvae_steps=""
  for model in ctgan tvae; do
    if train "$bin" "$model" "$table_csv" 3 "$backend" "$out/$tag/$model" "$out/$tag/$model.log"; then
      read -r steady first steps <<<"$(epoch_figures "$out/$tag/$model")"
      cells+=("$steady" "$first")
      [ "$model" = ctgan ] && { ctgan_steady=$steady; ctgan_steps=$steps; }
      [ "$model" = tvae ] && { tvae_steady=$steady; tvae_steps=$steps; }
    else
      cells+=("$(verdict "$out/$tag/$model.log")" "")
    fi
  done
  local t0
  t0=$(date +%s.%N)
  if [ -f "$out/$tag/ctgan/metrics.jsonl" ] && run_limited "$out/$tag/sample.log" 120 \
    "$bin/synth-sample" --checkpoint "$out/$tag/ctgan" -n "$rows" --backend "$backend" \
    -o "$out/$tag/sample.parquet"; then
    cells+=("$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.2f}')" "$t0")")
  else
    cells+=("$(verdict "$out/$tag/sample.log")")
  fi
  if train "$bin" dcgan "$mnist_file" "$dcgan_epochs" "$backend" "$out/$tag/dcgan" "$out/$tag/dcgan.log"; then
    read -r steady first steps <<<"$(epoch_figures "$out/$tag/dcgan")"
    cells+=("$steady" "$first")
  else
    cells+=("$(verdict "$out/$tag/dcgan.log")" "")
  fi
  # CubeCL's profiler sees the GPU backends' kernels only.
  if [ "$backend" = cuda ] || [ "$backend" = wgpu ]; then
    fig="failed"; [ -n "$ctgan_steady" ] && fig=$(step_split "$bin" ctgan "$backend" "$tag" "$ctgan_steady" "$ctgan_steps" || echo failed)
    cells+=("$fig")
    fig="failed"; [ -n "$tvae_steady" ] && fig=$(step_split "$bin" tvae "$backend" "$tag" "$tvae_steady" "$tvae_steps" || echo failed)
    cells+=("$fig")
  else
    cells+=("n/a (CPU)" "n/a (CPU)")
  fi
  row "synth $variant $backend" "${cells[@]}"
}

bench_torch() {
  local dir="$out/torch" lib="$out/torch/lib" cells=()
  mkdir -p "$dir"
  if ! "$python" -c "import torch" 2>/dev/null; then
    row PyTorch "no torch in this Python"
    return
  fi
  "$python" -m pip install --quiet --disable-pip-version-check --no-index --no-deps --target "$lib" \
    "$bundle"/wheels/*.whl >"$dir/pip.log" 2>&1 || true
  if run_limited "$dir/ctgan.log" 150 env PYTHONPATH="$lib" "$python" "$root/scripts/torch_ctgan.py" \
    --data "$table_csv" --epochs 3 --rows "$rows"; then
    mapfile -t cells < <(python3 - "$dir/ctgan.log" <<'PY'
import statistics, sys
values = dict(line.split()[:2] for line in open(sys.argv[1]) if len(line.split()) == 2)
epochs = [float(v) for k, v in sorted(values.items()) if k.startswith("epoch_")]
sample = next((v for k, v in values.items() if k.startswith("sample_")), "nan")
print(f"{statistics.median(epochs[1:]):.3f}\n{epochs[0]:.3f}\n\n\n{float(sample):.2f}")
PY
)
  else
    cells=("failed: $(tail -n 1 "$dir/ctgan.log" | cut -c1-80)")
  fi
  row "PyTorch ctgan 0.12.1 ($("$python" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")'))" "${cells[@]}"
  if run_limited "$dir/dcgan.log" 200 "$python" "$root/scripts/torch_dcgan.py" --images "$mnist_file" \
    --epochs "$dcgan_epochs"; then
    mapfile -t cells < <(awk '/^epoch/ {s[$2]=$4; n=$2} END {printf "%s\n%s\n", (n > 1 ? s[n] : "nan"), s[1]}' "$dir/dcgan.log")
  else
    cells=(failed failed)
  fi
  row "PyTorch DCGAN, same shape" "" "" "" "" "" "${cells[@]}"
}

{
  echo "gpu-bench: $(head -n 2 "$bundle/BUILD" | paste -sd ',' -), backends: $backends"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  "$python" -c 'import torch; print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "cpu")' 2>/dev/null || echo "no PyTorch"
} | tee "$out/device.txt"

unpack
[ "$peers" = 1 ] && bench_torch
for backend in $backends; do
  echo "synth $variant on $backend ($(left) s of the budget left)"
  bench_synth "$variant" "$backend"
done

echo
echo "device: $(tail -n +2 "$out/device.txt" | paste -sd ';' -)"
cat "$table"
echo "logs: $out ($(($(date +%s) - started)) s)"
if [ -n "$report" ]; then
  mkdir -p "$report"
  cp "$table" "$out/device.txt" "$report/"
  tar -czf "$report/gpu-bench-logs.tar.gz" -C "$out" --exclude=./bin --exclude=./cuda \
    --exclude=./torch/lib --exclude='*.parquet' --exclude='*.idx' --exclude=ckpt .
  echo "report: $report"
fi
