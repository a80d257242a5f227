#!/usr/bin/env python3
"""Fails when maturin's build of the Python module would recompile shared dependencies.

`cargo test --workspace` resolves the features of every dependency across the whole
workspace (dev-dependencies included); maturin builds `synth-python` alone, so any dependency
whose features differ between the two is compiled twice (burn and polars among them: many
minutes on two cores). python/Cargo.toml lists the dependencies it does not use itself but
must turn the same features on in; this check names the ones that drifted.

Usage: python3 scripts/check_python_features.py   (from the repository root)
"""

import subprocess
import sys


def features(*args: str) -> dict:
    """Package -> the set of feature lists cargo tree shows for it."""
    out = subprocess.run(
        ["cargo", "tree", "-f", "{p} {f}", "--prefix", "none", *args],
        check=True, capture_output=True, text=True,
    ).stdout
    found: dict = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name = " ".join(parts[:2])
        listed = parts[2] if len(parts) > 2 and not parts[2].startswith("(") else ""
        found.setdefault(name, set()).add(listed)
    return found


def main() -> int:
    workspace = features("--workspace", "-e", "normal,dev,build")
    python = features("-p", "synth-python", "-e", "normal,build")
    drifted = [
        f"  {name}: the workspace builds {sorted(workspace[name])}, synth-python alone {sorted(features_)}"
        for name, features_ in sorted(python.items())
        if name in workspace and features_ != workspace[name]
    ]
    if drifted:
        print("these dependencies would compile twice (see python/Cargo.toml):", *drifted, sep="\n")
        return 1
    print(f"synth-python shares all {len(python)} dependencies' features with the workspace build")
    return 0


if __name__ == "__main__":
    sys.exit(main())
