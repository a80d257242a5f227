"""Bad input raises ValueError or TypeError naming the column or key, with the CLI's words."""

import pandas as pd
import pytest

import synth
from conftest import small


@pytest.fixture(scope="module")
def fitted(adult):
    return small("Mixture").fit(adult)


def test_unknown_condition_column_is_named(fitted):
    with pytest.raises(ValueError, match="salary"):
        fitted.sample(10, conditions={"salary": "high"})


def test_unknown_condition_value_is_named(fitted):
    with pytest.raises(ValueError, match="Spaceship"):
        fitted.sample(10, conditions={"workclass": "Spaceship"})


def test_empty_frame_is_refused():
    with pytest.raises(ValueError, match="0 rows"):
        small("Mixture").fit(pd.DataFrame({"a": pd.Series([], dtype="int64")}))


def test_not_a_table_is_a_type_error():
    with pytest.raises(TypeError, match="expected a pandas or polars DataFrame"):
        small("Mixture").fit([[1, 2], [3, 4]])


def test_unsupported_column_type_is_named():
    frame = pd.DataFrame({"ok": range(50), "nested": [[i, i] for i in range(50)]})
    with pytest.raises(ValueError, match="nested"):
        small("Mixture").fit(frame)


def test_unknown_setting_is_named():
    with pytest.raises(ValueError, match="componentz"):
        small("Mixture", componentz=3).fit(pd.DataFrame({"a": range(20)}))


def test_out_of_range_setting_names_the_key_as_the_cli_does():
    with pytest.raises(ValueError, match=r"model.learning_rate must be positive \(got -1\)"):
        small("TVAE", learning_rate=-1.0).fit(pd.DataFrame({"a": range(20)}))


def test_wrong_setting_type_is_a_value_error():
    with pytest.raises(ValueError, match="invalid type"):
        small("Mixture", epochs="ten").fit(pd.DataFrame({"a": range(20)}))


def test_sampling_before_fitting_says_what_to_do():
    with pytest.raises(ValueError, match="not fitted yet"):
        synth.CTGAN().sample(5)


def test_bad_row_count_and_shard(fitted):
    with pytest.raises(ValueError, match="positive integer"):
        fitted.sample(0)
    with pytest.raises(ValueError, match="shard index must be below"):
        fitted.sample(10, shard=(3, 3))


def test_missing_or_damaged_checkpoint(tmp_path, fitted):
    with pytest.raises((ValueError, OSError), match="nothing"):
        synth.load(tmp_path / "nothing")
    run = fitted.save(tmp_path / "run")
    manifests = list(run.rglob("manifest.toml"))
    assert manifests
    for path in manifests:
        path.write_text("format_version = 'garbage'\n")
    with pytest.raises(ValueError, match="manifest.toml"):
        synth.load(run)


def test_saving_over_a_folder_needs_overwrite(tmp_path, fitted):
    fitted.save(tmp_path / "run")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fitted.save(tmp_path / "run")
    fitted.save(tmp_path / "run", overwrite=True)


def test_a_failed_fit_leaves_the_fitted_model_as_it_was(fitted, adult):
    before = fitted.sample(50, seed=3)
    with pytest.raises(ValueError, match="0 rows"):
        fitted.fit(adult.head(0))
    pd.testing.assert_frame_equal(fitted.sample(50, seed=3), before)
    assert fitted.sample(5, seed=3, output="polars").height == 5
