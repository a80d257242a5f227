"""A checkpoint trained by synth-train samples the same rows in Python as with synth-sample,
and a model fitted in Python samples the same rows with synth-sample."""

import subprocess

import pandas as pd

import synth
from conftest import ADULT, ROOT, cli, small


def synth_sample(checkpoint, out, *args):
    subprocess.run(
        [str(cli("synth-sample")), "--checkpoint", str(checkpoint), "-o", str(out), *args],
        check=True, capture_output=True, cwd=ROOT,
    )
    return pd.read_csv(out)


def test_a_cli_checkpoint_samples_the_same_rows_in_python(tmp_path):
    run = tmp_path / "run"
    subprocess.run(
        [str(cli("synth-train")), "--config", "configs/smoke/mixture.toml", "--out-dir", str(run), "--quiet"],
        check=True, capture_output=True, cwd=ROOT,
    )
    expected = synth_sample(run, tmp_path / "cli.csv", "-n", "500", "--seed", "11")
    model = synth.load(run)
    assert isinstance(model, synth.Mixture)
    got = model.sample(500, seed=11)
    pd.testing.assert_frame_equal(got, expected)


def test_a_python_model_samples_the_same_rows_with_the_cli(tmp_path, adult):
    model = small("TVAE", seed=2).fit(pd.read_csv(ADULT).head(300))
    saved = model.save(tmp_path / "saved")
    expected = model.sample(400, seed=5)
    got = synth_sample(saved, tmp_path / "cli.csv", "-n", "400", "--seed", "5")
    pd.testing.assert_frame_equal(got, expected)
    # and by shards: the CLI's parts are the Python parts
    part = synth_sample(saved, tmp_path / "part.csv", "-n", "400", "--seed", "5", "--shard", "1/3")
    pd.testing.assert_frame_equal(part, model.sample(400, seed=5, shard=(1, 3)))
