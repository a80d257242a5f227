"""The Arrow bridge keeps every column type the models read, nulls included, in both
directions, for pandas, polars and pyarrow tables."""

import datetime as dt

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import synth
from synth import _from_arrow, _synth, _to_arrow


def typed_table() -> pa.Table:
    return pa.table(
        {
            "int": pa.array([1, None, 3], pa.int64()),
            "small": pa.array([1, 2, None], pa.int32()),
            "float": pa.array([0.5, None, -2.25], pa.float64()),
            "text": pa.array(["a", None, "é"], pa.string()),
            "large": pa.array(["x", "y", None], pa.large_string()),
            "flag": pa.array([True, None, False], pa.bool_()),
            "day": pa.array([dt.date(2020, 1, 2), None, dt.date(1999, 12, 31)], pa.date32()),
            "moment": pa.array([dt.datetime(2021, 5, 6, 7, 8, 9), None, dt.datetime(1970, 1, 1)], pa.timestamp("us")),
        }
    )


def test_arrow_types_and_nulls_survive_the_round_trip():
    table = typed_table()
    back = pa.table(_synth.roundtrip(table))
    assert back.column_names == table.column_names
    for name in table.column_names:
        assert back.column(name).to_pylist() == table.column(name).to_pylist(), name
    assert back.column("float").type == pa.float64()
    assert back.column("day").type == pa.date32()


def test_many_batches_and_empty_tables():
    table = pa.concat_tables([typed_table()] * 5).combine_chunks()
    batches = pa.Table.from_batches(table.to_batches(max_chunksize=4))
    assert batches.num_rows == 15 and len(batches.to_batches()) > 1
    # text comes back as string_view (polars' own strings, handed over without a copy)
    assert pa.table(_synth.roundtrip(batches)).to_pylist() == table.to_pylist()
    empty = typed_table().slice(0, 0)
    back = pa.table(_synth.roundtrip(empty))
    assert back.num_rows == 0 and back.column_names == empty.column_names


def test_pandas_and_polars_frames_come_back_as_they_went_in():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", None, "z"], "c": [0.5, float("nan"), 1.5]})
    arrow, kind, dtypes = _to_arrow(frame)
    back = _from_arrow(_synth.roundtrip(arrow), kind, dtypes)
    pd.testing.assert_frame_equal(back, frame)
    polars_frame = pl.DataFrame({"a": [1, None], "when": [dt.date(2020, 1, 1), None]})
    arrow, kind, dtypes = _to_arrow(polars_frame)
    back = _from_arrow(_synth.roundtrip(arrow), kind, dtypes)
    assert back.equals(polars_frame) and back.schema == polars_frame.schema


def test_a_table_exports_once():
    exported = _synth.roundtrip(typed_table())
    pa.table(exported)
    with pytest.raises(ValueError, match="already exported"):
        pa.table(exported)


def test_objects_without_the_stream_protocol_are_refused():
    with pytest.raises(TypeError, match="__arrow_c_stream__"):
        _synth.roundtrip({"a": [1]})
    with pytest.raises(TypeError, match="expected a pandas or polars DataFrame"):
        synth.evaluate(real={"a": [1]}, synthetic={"a": [1]})
