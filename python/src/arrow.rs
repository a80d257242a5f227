//! Tables across the language boundary through the Arrow C stream interface (the
//! `__arrow_c_stream__` PyCapsule protocol that pyarrow, polars, pandas' Arrow path, DuckDB and
//! others speak): imported without copying the buffers, exported as a stream any of them reads.
//! Written by hand because the bridges that exist either pin other polars and pyo3 versions
//! (pyo3-polars) or bring a second Arrow implementation (pyo3-arrow on arrow-rs); polars-arrow
//! already implements both sides of the interface and this module only moves the pointer.

// The capsule protocol hands over a raw pointer; reading the stream behind it is unsafe.
#![allow(unsafe_code)]

use polars::prelude::{
    ArrowField, Column, CompatLevel, DataFrame, DataType, IntoColumn, PlSmallStr, Series,
};
use polars_arrow::array::{Array, StructArray};
use polars_arrow::datatypes::ArrowDataType;
use polars_arrow::ffi::{ArrowArrayStream, ArrowArrayStreamReader, export_iterator};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use std::ffi::CStr;

/// The capsule name the protocol requires.
const STREAM: &CStr = c"arrow_array_stream";

/// Reads a table from any object with `__arrow_c_stream__` (a pyarrow Table or
/// RecordBatchReader, a polars DataFrame, ...). Columns keep their names and order.
pub fn import_frame(table: &Bound<'_, PyAny>) -> PyResult<DataFrame> {
    if !table.hasattr("__arrow_c_stream__")? {
        return Err(PyTypeError::new_err(format!(
            "expected a table (pandas or polars DataFrame, pyarrow Table, or any object with __arrow_c_stream__), got {}",
            table.get_type().name()?
        )));
    }
    let capsule = table.call_method0("__arrow_c_stream__")?;
    let capsule = capsule
        .cast::<PyCapsule>()
        .map_err(|_| PyTypeError::new_err("__arrow_c_stream__ did not return a PyCapsule"))?;
    let pointer = capsule.pointer_checked(Some(STREAM))?;
    // SAFETY: the capsule, named as the protocol requires, points to an ArrowArrayStream the
    // producer filled in. Moving it out (and leaving a released one behind, as the protocol
    // says a consumer does) makes this reader its only owner; the capsule stays alive while
    // the stream is read because `capsule` is borrowed until the end of this function.
    let stream = unsafe {
        std::ptr::replace(
            pointer.cast::<ArrowArrayStream>().as_ptr(),
            ArrowArrayStream::empty(),
        )
    };
    // SAFETY: `stream` is a valid stream just taken over (above).
    let mut reader = unsafe { ArrowArrayStreamReader::try_new(Box::new(stream)) }
        .map_err(|e| PyValueError::new_err(format!("cannot read the table's Arrow stream: {e}")))?;
    let ArrowDataType::Struct(fields) = reader.field().dtype.clone() else {
        return Err(PyValueError::new_err(
            "the Arrow stream does not hold a table (its type is not a struct of columns)",
        ));
    };
    let mut chunks: Vec<Vec<Box<dyn Array>>> = vec![Vec::new(); fields.len()];
    // SAFETY: the reader was made from a valid stream and is read from one thread.
    while let Some(batch) = unsafe { reader.next() } {
        let batch = batch.map_err(|e| {
            PyValueError::new_err(format!("cannot read the table's Arrow stream: {e}"))
        })?;
        let batch = batch
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| PyValueError::new_err("an Arrow batch is not a struct of columns"))?;
        for (column, values) in chunks.iter_mut().zip(batch.values()) {
            column.push(values.clone());
        }
    }
    let columns = fields
        .iter()
        .zip(chunks)
        .map(|(field, arrays)| column_from_arrow(field, arrays))
        .collect::<PyResult<Vec<Column>>>()?;
    DataFrame::new_infer_height(columns)
        .map_err(|e| PyValueError::new_err(format!("the table's columns do not fit together: {e}")))
}

/// One column from its Arrow chunks (an empty column of the field's type without any).
fn column_from_arrow(field: &ArrowField, arrays: Vec<Box<dyn Array>>) -> PyResult<Column> {
    let unsupported = |e: polars::prelude::PolarsError| {
        PyValueError::new_err(format!(
            "column `{}`: its type {:?} is not supported ({e}); cast it to numbers, text, dates or datetimes",
            field.name, field.dtype
        ))
    };
    let series = if arrays.is_empty() {
        Series::new_empty(field.name.clone(), &DataType::from_arrow_field(field))
    } else {
        Series::try_from((field, arrays)).map_err(unsupported)?
    };
    Ok(series.into_column())
}

/// A table on its way to Python: `__arrow_c_stream__` exports it (once) as an Arrow stream.
#[pyclass(module = "synth._synth", name = "ArrowTable")]
pub struct ArrowTable {
    frame: Option<DataFrame>,
}

impl ArrowTable {
    /// Wraps a table for export.
    pub fn new(frame: DataFrame) -> Self {
        ArrowTable { frame: Some(frame) }
    }
}

#[pymethods]
impl ArrowTable {
    /// The Arrow PyCapsule stream protocol; the table can be exported once.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &mut self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        // A requested schema is a hint the producer may ignore (the protocol says so).
        let _ = requested_schema;
        let mut frame = self
            .frame
            .take()
            .ok_or_else(|| PyValueError::new_err("this table was already exported"))?;
        frame.rechunk_mut();
        PyCapsule::new_with_value(py, export_frame(&frame), STREAM)
    }
}

/// A table as an Arrow stream of record batches, in polars' own layouts (`string_view` text):
/// polars reads them back without a copy, pyarrow (16 and later) converts them for pandas.
fn export_frame(frame: &DataFrame) -> ArrowArrayStream {
    let compat = CompatLevel::newest();
    let fields: Vec<ArrowField> = frame
        .columns()
        .iter()
        .map(|c| c.field().to_arrow(compat))
        .collect();
    let dtype = ArrowDataType::Struct(fields);
    let batches: Vec<_> = if frame.width() == 0 {
        Vec::new()
    } else {
        frame
            .iter_chunks(compat, false)
            .map(|batch| {
                let height = batch.height();
                Ok(StructArray::new(dtype.clone(), height, batch.into_arrays(), None).boxed())
            })
            .collect()
    };
    let field = ArrowField::new(PlSmallStr::EMPTY, dtype, false);
    export_iterator(Box::new(batches.into_iter()), field)
}
