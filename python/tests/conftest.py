"""Shared fixtures: a slice of Adult (the repository's fixture), small model settings, and the
command-line tools built by `cargo test --workspace` (or `cargo build --bins`)."""

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
ADULT = ROOT / "tests" / "fixtures" / "adult_2k.csv"

#: Small settings per model: a few epochs of narrow networks on the CPU (ndarray backend).
SMALL = {
    "TabularARGN": {"epochs": 2, "batch_size": 200},
    "Mixture": {"epochs": 4, "components": 20, "chunk_rows": 512},
    "CTGAN": {"epochs": 2, "batch_size": 200, "embedding_dim": 16, "generator_dim": [32], "discriminator_dim": [32]},
    "TVAE": {"epochs": 2, "batch_size": 100, "embedding_dim": 16, "encoder_dim": [32], "decoder_dim": [32]},
    "GaussianCopula": {},
    # a large budget on public domains: 600 rows are too few to release private ones
    "MST": {"epsilon": 20.0, "privacy": {"public": ["*"], "reproducible_noise": True}},
}


@pytest.fixture(scope="session")
def adult() -> pd.DataFrame:
    return pd.read_csv(ADULT).head(600)


def small(name: str, **extra):
    """A model class by name, with its small settings, on the ndarray backend, quiet."""
    import synth

    settings = {"backend": "ndarray", "verbose": False, **SMALL[name], **extra}
    return getattr(synth, name)(**settings)


def cli(name: str) -> Path:
    """A command-line tool from the Cargo build (SYNTH_BIN_DIR, else target/debug). Skipped
    when missing unless SYNTH_REQUIRE_CLI is set (CI sets it)."""
    folder = Path(os.environ.get("SYNTH_BIN_DIR", ROOT / "target" / "debug"))
    path = folder / name
    if not path.is_file():
        if os.environ.get("SYNTH_REQUIRE_CLI"):
            raise FileNotFoundError(f"{path} is missing: build it with `cargo build --bins`")
        pytest.skip(f"{path} is not built")
    return path
