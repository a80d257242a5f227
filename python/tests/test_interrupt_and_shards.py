"""Ctrl-C stops training at an epoch boundary with a checkpoint and raises KeyboardInterrupt;
shards sampled by separate processes are the rows one process samples shard by shard."""

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

import synth
from conftest import ADULT, small

SCRIPT = textwrap.dedent(
    """
    import sys, pandas as pd, synth
    def progress(epoch, epochs, losses):
        print("epoch", epoch, flush=True)
    model = synth.TVAE(epochs=500, batch_size=50, embedding_dim=16, encoder_dim=[32],
                       decoder_dim=[32], backend="ndarray", progress=progress)
    try:
        model.fit(pd.read_csv(sys.argv[1]).head(400), out_dir=sys.argv[2])
    except KeyboardInterrupt as e:
        print("interrupted:", e, flush=True)
        sys.exit(3)
    """
)


def test_ctrl_c_stops_at_an_epoch_boundary_with_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(ADULT), str(run)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert child.stdout.readline().split() == ["epoch", "1"]
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 3, (out, err)
    # stopped at the first boundary after the signal (epoch 1 or 2), with that epoch saved
    saved = sorted(p.name for p in (run / "ckpt").glob("epoch-*"))
    stopped_at = int(saved[-1].split("-")[1])
    assert 1 <= stopped_at <= 3, saved
    assert (run / "ckpt" / f"epoch-{stopped_at:04d}" / "manifest.toml").is_file()
    # and it resumes from there
    model = synth.TVAE(epochs=stopped_at + 1, batch_size=50, embedding_dim=16, encoder_dim=[32],
                       decoder_dim=[32], backend="ndarray", verbose=False)
    model.fit(pd.read_csv(ADULT).head(400), out_dir=run, resume=True)
    assert model.report["epochs"] == stopped_at + 1


def test_an_exception_in_the_callback_stops_the_run_and_is_raised(tmp_path, adult):
    def progress(epoch, epochs, losses):
        if epoch == 2:
            raise KeyboardInterrupt("stop here")

    model = small("TVAE", epochs=50, progress=progress)
    with pytest.raises(KeyboardInterrupt, match="stop here"):
        model.fit(adult, out_dir=tmp_path / "run")
    assert (tmp_path / "run" / "ckpt" / "epoch-0002").is_dir()
    assert not (tmp_path / "run" / "ckpt" / "epoch-0003").exists()


def _shard(args):
    model, index, count = args
    return model.sample(1000, seed=21, shard=(index, count))


def test_shards_from_worker_processes_equal_one_process(adult):
    model = small("Mixture").fit(adult)
    count = 3
    in_process = [model.sample(1000, seed=21, shard=(i, count)) for i in range(count)]
    assert [len(p) for p in in_process] == [334, 333, 333]
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        from_workers = pool.map(_shard, [(model, i, count) for i in range(count)])
    for ours, theirs in zip(in_process, from_workers):
        pd.testing.assert_frame_equal(ours, theirs)
    # the parts differ from each other (each has its own seed)
    assert not in_process[1].reset_index(drop=True).equals(in_process[2].reset_index(drop=True))
