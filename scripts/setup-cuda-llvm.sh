#!/usr/bin/env bash
# Supplies the LLVM that burn's CUDA backend links, without the download its build script does.
#
# cubecl-cuda (the `cuda` feature) always depends on cubecl-llvm, which compiles kernels to PTX
# with LLVM. Its build script (through tracel-llvm-bundler) downloads LLVM 23.1 from GitHub
# unless `<data dir>/tracel/tracel-llvm-23.1.0-4/.tracel-llvm-installed` exists; it then asks
# `<that folder>/bin/llvm-config --link-static` for the link line. PyPI's mlc-llvm-static
# (static, position-independent LLVM 23.1.1 with headers and an llvm-config that answers
# --link-static) and its extra-targets add-on (the NVPTX backend) fit that layout, so this
# script unpacks both there, keeps NVPTX and the host's target in its target lists, and writes
# the marker.
#
# Usage: scripts/setup-cuda-llvm.sh [--wheels DIR]
#   --wheels DIR  take the two wheels from DIR (offline) instead of downloading them from PyPI
# Idempotent: does nothing when the marker is already there. Needs python3 (with pip unless
# --wheels is given); python3 must stay on PATH for builds, as llvm-config is a Python script.
set -euo pipefail

LLVM_WHEEL_VERSION="23.1.1.post0"
BUNDLE="tracel-llvm-23.1.0-4"
target="${XDG_DATA_HOME:-$HOME/.local/share}/tracel/$BUNDLE"
marker="$target/.tracel-llvm-installed"

wheels=""
while [ $# -gt 0 ]; do
  case "$1" in
    --wheels) wheels="${2:?--wheels needs a folder}"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup-cuda-llvm: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [ -e "$marker" ]; then
  echo "LLVM for the CUDA build is already in $target"
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform="manylinux_2_28_x86_64" ;;
  Linux-aarch64) platform="manylinux_2_28_aarch64" ;;
  *) echo "setup-cuda-llvm: no LLVM wheel for $(uname -s) $(uname -m); the CUDA build is supported on Linux x86_64 and aarch64" >&2
     exit 1 ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -z "$wheels" ]; then
  wheels="$work/wheels"
  # --python-version: the wheels are Python-independent but declare Python >= 3.10, and the
  # Python running pip only downloads them here.
  pip=(python3 -m pip)
  if ! python3 -m pip --version >/dev/null 2>&1; then
    # A system Python without pip (Debian's): a throwaway virtual environment has one.
    python3 -m venv "$work/venv"
    pip=("$work/venv/bin/python" -m pip)
  fi
  "${pip[@]}" download --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: --platform "$platform" --python-version 3.10 -d "$wheels" \
    "mlc-llvm-static==$LLVM_WHEEL_VERSION" "mlc-llvm-static-extra-targets==$LLVM_WHEEL_VERSION"
fi

unpacked="$work/unpacked"
for name in mlc_llvm_static mlc_llvm_static_extra_targets; do
  wheel="$(ls "$wheels"/"$name-$LLVM_WHEEL_VERSION"-*"$platform".whl 2>/dev/null | head -n 1 || true)"
  if [ -z "$wheel" ]; then
    echo "setup-cuda-llvm: no $name-$LLVM_WHEEL_VERSION wheel for $platform in $wheels" >&2
    exit 1
  fi
  python3 -m zipfile -e "$wheel" "$unpacked"
done

sdk="$unpacked/mlc_llvm_static/static"
chmod +x "$sdk/bin/llvm-config"
version="$("$sdk/bin/llvm-config" --version)"
targets="$("$sdk/bin/llvm-config" --targets-built)"
case "$version" in
  23.1.*) ;;
  *) echo "setup-cuda-llvm: the wheel's llvm-config reports LLVM $version, expected 23.1" >&2; exit 1 ;;
esac
case " $targets " in
  *" NVPTX "*) ;;
  *) echo "setup-cuda-llvm: the unpacked LLVM has no NVPTX target (targets: $targets)" >&2; exit 1 ;;
esac

# Only NVPTX (the kernels) and the host's target (which LLVM's native-target initialisers name)
# are used: the target lists in the headers (which the bundler's initialiser wrappers expand to
# one call per target) are cut to those two, so the linker does not pull the other 18 backends
# into every binary (8 of its 186 MB, stripped).
host_target=X86
[ "$(uname -m)" = aarch64 ] && host_target=AArch64
for list in "$sdk"/include/llvm/Config/mlc-all/*.def; do
  sed -i -E "/^LLVM_[A-Z_]+\(/{/\((NVPTX|$host_target)\)/!d}" "$list"
done

# Unpacked beside the target and renamed into place, so that an interrupted run leaves no
# half-written folder that the build would take for LLVM.
mkdir -p "$(dirname "$target")"
rm -rf "$target.partial"
mv "$sdk" "$target.partial"
rm -rf "$target"
mv "$target.partial" "$target"
touch "$marker"
echo "LLVM $version (NVPTX and $host_target) is in $target; cargo build --features cuda will link it"
