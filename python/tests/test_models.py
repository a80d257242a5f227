"""Fit, sample, save and load every tabular model from pandas, polars and pyarrow tables."""

import datetime as dt
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import synth
from conftest import ROOT, SMALL, small


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_model_round_trips_pandas(name, adult, tmp_path):
    model = small(name, seed=5).fit(adult)
    rows = model.sample(300, seed=1)
    assert isinstance(rows, pd.DataFrame)
    assert list(rows.columns) == list(adult.columns)
    assert rows.dtypes.to_dict() == adult.dtypes.to_dict()
    assert len(rows) == 300
    # categories are the training table's
    assert set(rows["workclass"].dropna()) <= set(adult["workclass"].dropna())
    # the same seed gives the same rows, another seed others
    pd.testing.assert_frame_equal(rows, model.sample(300, seed=1))
    assert not rows.equals(model.sample(300, seed=2))
    saved = model.save(tmp_path / "run")
    loaded = synth.load(saved)
    assert type(loaded) is type(model)
    pd.testing.assert_frame_equal(loaded.sample(300, seed=1), rows)


@pytest.mark.parametrize("name", ["Mixture", "TVAE"])
def test_polars_and_arrow_inputs_give_their_own_type_back(name, adult):
    frame = pl.from_pandas(adult)
    rows = small(name).fit(frame).sample(200, seed=3)
    assert isinstance(rows, pl.DataFrame)
    assert rows.schema == frame.schema
    arrow = pa.Table.from_pandas(adult, preserve_index=False)
    rows = small(name).fit(arrow).sample(200, seed=3)
    assert isinstance(rows, pa.Table)
    assert rows.column_names == arrow.column_names
    assert small(name).fit(frame).sample(5, output="pandas").shape == (5, adult.shape[1])


def test_nulls_dates_and_categoricals_survive():
    rng = np.random.default_rng(0)
    n = 400
    days = pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    frame = pd.DataFrame(
        {
            "when": pd.Series(days.date, dtype="object"),
            "amount": np.where(rng.random(n) < 0.2, np.nan, rng.normal(100, 15, n).round(2)),
            "kind": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "label": np.where(rng.random(n) < 0.1, None, rng.choice(["x", "y"], n)),
        }
    )
    rows = small("Mixture", epochs=6).fit(frame).sample(2000, seed=4)
    assert list(rows.columns) == ["when", "amount", "kind", "label"]
    assert isinstance(rows["kind"].dtype, pd.CategoricalDtype)
    assert set(rows["kind"]) <= {"a", "b", "c"}
    whens = rows["when"].dropna()
    assert all(isinstance(d, dt.date) for d in whens)
    assert min(whens) >= dt.date(2020, 1, 1) and max(whens) <= dt.date(2020, 12, 31)
    # missing shares close to the training table's (20% and 10%)
    assert 0.12 < rows["amount"].isna().mean() < 0.28
    assert 0.05 < rows["label"].isna().mean() < 0.16


def test_conditions_fix_columns(adult):
    model = small("Mixture").fit(adult)
    rows = model.sample(500, conditions={"income": ">50K", "age": "30..40"}, seed=2)
    assert (rows["income"] == ">50K").all()
    assert rows["age"].between(30, 40).all()


def test_a_model_pickles_as_its_checkpoint(adult):
    model = small("Mixture").fit(adult)
    copy = pickle.loads(pickle.dumps(model))
    assert copy.path != model.path
    pd.testing.assert_frame_equal(copy.sample(100, seed=9), model.sample(100, seed=9))


def test_progress_callback_hears_every_epoch(adult):
    heard = []
    model = small("TVAE", epochs=3, progress=lambda e, n, losses: heard.append((e, n, sorted(losses))))
    model.fit(adult)
    assert heard == [(1, 3, ["loss"]), (2, 3, ["loss"]), (3, 3, ["loss"])]
    assert model.report["epochs"] == 3


def test_evaluate_returns_the_report_and_writes_the_page(adult, tmp_path):
    model = small("Mixture").fit(adult.head(400))
    rows = model.sample(400, seed=1)
    report = synth.evaluate(real=adult.head(400), synthetic=rows, holdout=adult.tail(200), target="income", html=tmp_path / "report")
    assert 0.5 < report["quality"]["overall"] <= 1.0
    assert (tmp_path / "report" / "index.html").is_file()
    assert (tmp_path / "report" / "report.json").is_file()
    assert report["inputs"]["target"] == "income"
    assert 0.5 < report["utility"]["synthetic"]["roc_auc"] <= 1.0
    # a table judged against itself scores (almost) perfectly on quality
    same = synth.evaluate(real=adult, synthetic=adult)
    assert same["quality"]["overall"] > 0.99


def test_the_readme_example_runs_as_written():
    done = subprocess.run([sys.executable, "python/examples/adult.py"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    quality, auc, rows = done.stdout.split()
    assert float(quality) > 0.9 and float(auc) > 0.8 and rows == "50000"
    assert (ROOT / "runs" / "adult-python-report" / "index.html").is_file()


def test_evaluate_takes_the_column_kinds_and_loss_curves_from_a_checkpoint(adult):
    model = small("Mixture", epochs=3).fit(adult)
    report = synth.evaluate(real=adult, synthetic=model.sample(300, seed=1), checkpoint=model.path, ignore=["fnlwgt"])
    assert report["loss_curves"] is not None
    assert "fnlwgt" not in [c["name"] for c in report["inputs"]["columns"]]


def test_constraints_hold_in_every_sampled_row(adult):
    constraints = [
        {"kind": "fixed_combinations", "columns": ["education", "education-num"]},
        {"kind": "inequality", "low": "education-num", "high": "age", "gap": 5},
        {"kind": "rule", "expr": '"hours-per-week" <= 80'},
    ]
    model = small("Mixture", data={"discrete": ["education-num"], "on_violation": "drop"}, constraints=constraints)
    rows = model.fit(adult).sample(1000, seed=3)
    pairs = set(zip(adult["education"], adult["education-num"]))
    assert set(zip(rows["education"], rows["education-num"])) <= pairs
    assert (rows["age"] >= rows["education-num"] + 5).all()
    assert (rows["hours-per-week"] <= 80).all()
    with pytest.raises(ValueError, match="names column `agee`"):
        small("Mixture", constraints=[{"kind": "inequality", "low": "agee", "high": "age"}]).fit(adult)


def test_mst_spends_the_budget_it_is_given_and_the_report_says_so(adult):
    model = small("MST", epsilon=5.0, delta=1e-6).fit(adult)
    assert model.report["last_losses"]["epsilon_spent"] == pytest.approx(5.0, abs=1e-6)
    report = synth.evaluate(real=adult, synthetic=model.sample(300, seed=1), checkpoint=model.path)
    assert report["differential_privacy"] == {"epsilon": 5.0, "delta": 1e-6}
    rows = small("TVAE", epochs=1, epsilon=10.0, privacy={"public": ["*"], "reproducible_noise": True}).fit(adult).sample(50)
    assert list(rows.columns) == list(adult.columns)
    # a private TVAE starts from configs/tvae-dp.toml: a smaller network, categories drawn
    config = synth.TVAE(epsilon=1.0)._config
    assert config["privacy"]["public"] == ["*"] and config["privacy"]["epsilon"] == 1.0
    assert config["model"]["embedding_dim"] == 16 and config["model"]["categories"] == "sample"
    assert synth.TVAE()._config["model"]["embedding_dim"] == 128
    with pytest.raises(ValueError, match="budget; ctgan has none"):
        small("CTGAN", epsilon=1.0)
    with pytest.raises(ValueError, match="privacy.epsilon"):
        small("MST", epsilon=0.0).fit(adult)
