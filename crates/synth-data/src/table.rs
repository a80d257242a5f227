//! Reading and writing tables with polars: whole, or streamed chunk by chunk.

use crate::{DataError, Result};
use polars::prelude::*;
use std::path::Path;

/// File formats for tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl TableFormat {
    /// The format named by the file's extension.
    pub fn from_path(path: &Path) -> Result<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Ok(TableFormat::Csv),
            Some("parquet") | Some("pq") => Ok(TableFormat::Parquet),
            _ => Err(DataError::UnsupportedFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Reads a CSV (header line, `,` separated) or Parquet file into a DataFrame.
/// Fails with the path in the message on a missing, malformed or empty file.
pub fn read_table(path: &Path) -> Result<DataFrame> {
    let format = TableFormat::from_path(path)?;
    if !path.is_file() {
        return Err(DataError::NotFound {
            path: path.to_path_buf(),
        });
    }
    let polars_err = |source| DataError::Polars {
        path: path.to_path_buf(),
        source,
    };
    if format == TableFormat::Csv {
        check_unique_header(path)?;
    }
    let df = match format {
        TableFormat::Csv => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(None)
            .with_raise_if_empty(false)
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|r| r.finish())
            .map_err(polars_err)?,
        TableFormat::Parquet => {
            let file = std::fs::File::open(path).map_err(|source| DataError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            ParquetReader::new(file).finish().map_err(polars_err)?
        }
    };
    if df.height() == 0 || df.width() == 0 {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(df)
}

/// Refuses a CSV file whose header repeats a column name (polars would rename the repeat to
/// `name_duplicated_0`, and that name would leak into the output). Reads the header line only.
fn check_unique_header(path: &Path) -> Result<()> {
    let header = CsvReadOptions::default()
        .with_has_header(false)
        .with_n_rows(Some(1))
        .with_raise_if_empty(false)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(|source| DataError::Polars {
            path: path.to_path_buf(),
            source,
        })?;
    let names: Vec<String> = header
        .columns()
        .iter()
        .filter_map(|c| c.cast(&DataType::String).ok())
        .filter_map(|c| c.str().ok().and_then(|s| s.get(0).map(str::to_string)))
        .collect();
    let mut repeated: Vec<&str> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) && !repeated.contains(&name.as_str()) {
            repeated.push(name);
        }
    }
    if repeated.is_empty() {
        return Ok(());
    }
    Err(DataError::DuplicateColumns {
        path: path.to_path_buf(),
        columns: repeated
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Writes a DataFrame as CSV or Parquet (chosen by the extension), atomically.
pub fn write_table(df: &mut DataFrame, path: &Path) -> Result<()> {
    let format = TableFormat::from_path(path)?;
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let polars_err = |source| DataError::Polars {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    match format {
        TableFormat::Csv => CsvWriter::new(&mut bytes)
            .include_header(true)
            .finish(df)
            .map_err(polars_err)?,
        TableFormat::Parquet => {
            ParquetWriter::new(&mut bytes)
                .finish(df)
                .map_err(polars_err)?;
        }
    }
    synth_core::fsutil::write_atomic(path, &bytes).map_err(io_err)
}

/// `chunk` with each named float column turned into text with exactly its decimal places
/// (missing values stay missing; columns the chunk lacks are passed over). Zero places are
/// left to polars (`7.0`), so that the column still reads back as floats, not integers.
fn with_fixed_decimals(chunk: &DataFrame, columns: &[(String, u32)]) -> PolarsResult<DataFrame> {
    let mut out = chunk.clone();
    for (name, places) in columns.iter().filter(|(_, places)| *places > 0) {
        let Ok(column) = chunk.column(name) else {
            continue;
        };
        let numbers = column.cast(&DataType::Float64)?;
        let places = *places as usize;
        let text: StringChunked = numbers
            .f64()?
            .iter()
            .map(|v| v.map(|x| format!("{x:.places$}")))
            .collect();
        out.with_column(text.with_name(name.as_str().into()).into_column())?;
    }
    Ok(out)
}

/// Writes a table chunk by chunk (CSV, or Parquet row groups) into a temporary sibling of
/// `path`, renamed into place by [`TableWriter::finish`]: memory does not grow with the rows,
/// and a failure or an unfinished writer leaves no file at `path` (nor a temporary).
pub struct TableWriter {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    sink: Option<Sink>,
    /// CSV: float columns written with exactly this many decimal places.
    fixed_decimals: Vec<(String, u32)>,
}

enum Sink {
    Csv {
        file: std::fs::File,
        header: bool,
    },
    Parquet(Box<polars::io::parquet::write::BatchedWriter<std::fs::File>>),
    /// Parquet before the first chunk, whose schema the batched writer needs.
    ParquetPending(std::fs::File),
}

impl TableWriter {
    /// Starts a table at `path` (the extension picks the format).
    pub fn create(path: &Path) -> Result<Self> {
        let format = TableFormat::from_path(path)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = std::fs::File::create(&tmp).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let sink = match format {
            TableFormat::Csv => Sink::Csv { file, header: true },
            TableFormat::Parquet => Sink::ParquetPending(file),
        };
        Ok(TableWriter {
            path: path.to_path_buf(),
            tmp,
            sink: Some(sink),
            fixed_decimals: Vec::new(),
        })
    }

    /// CSV only: writes these float columns with exactly this many decimal places, so that a
    /// two-decimal amount reads `12.30` as in the data rather than `12.3` (the shortest form
    /// polars writes). Parquet stores the numbers themselves, whose value is the same.
    pub fn fixed_decimals(mut self, columns: Vec<(String, u32)>) -> Self {
        self.fixed_decimals = columns;
        self
    }

    /// Appends `chunk`'s rows.
    pub fn write(&mut self, chunk: &mut DataFrame) -> Result<()> {
        let polars_err = |source| DataError::Polars {
            path: self.path.clone(),
            source,
        };
        let sink = match self.sink.take() {
            Some(Sink::Csv { mut file, header }) => {
                let mut text =
                    with_fixed_decimals(chunk, &self.fixed_decimals).map_err(polars_err)?;
                CsvWriter::new(&mut file)
                    .include_header(header)
                    .finish(&mut text)
                    .map_err(polars_err)?;
                Sink::Csv {
                    file,
                    header: false,
                }
            }
            Some(Sink::ParquetPending(file)) => {
                let mut writer = ParquetWriter::new(file)
                    .batched(chunk.schema())
                    .map_err(polars_err)?;
                writer.write_batch(chunk).map_err(polars_err)?;
                Sink::Parquet(Box::new(writer))
            }
            Some(Sink::Parquet(mut writer)) => {
                writer.write_batch(chunk).map_err(polars_err)?;
                Sink::Parquet(writer)
            }
            None => unreachable!("the sink is put back after every write"),
        };
        self.sink = Some(sink);
        Ok(())
    }

    /// Completes the file, flushes it to disk and renames it into place.
    pub fn finish(mut self) -> Result<()> {
        let io_err = |source| DataError::Io {
            path: self.path.clone(),
            source,
        };
        let file = match self.sink.take() {
            Some(Sink::Csv { file, .. }) | Some(Sink::ParquetPending(file)) => file,
            Some(Sink::Parquet(writer)) => {
                writer.finish().map_err(|source| DataError::Polars {
                    path: self.path.clone(),
                    source,
                })?;
                std::fs::File::open(&self.tmp).map_err(io_err)?
            }
            None => unreachable!("finish consumes the writer"),
        };
        file.sync_all().map_err(io_err)?;
        std::fs::rename(&self.tmp, &self.path).map_err(io_err)
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        // Unfinished (an error, or a panic): the temporary goes.
        if self.sink.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_csv_with_inferred_types() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "t.csv", "a,b,c\n1,x,0.5\n2,y,1.5\n");
        let df = read_table(&p).unwrap();
        assert_eq!(df.shape(), (2, 3));
        assert_eq!(df.column("a").unwrap().dtype(), &DataType::Int64);
        assert_eq!(df.column("b").unwrap().dtype(), &DataType::String);
        assert_eq!(df.column("c").unwrap().dtype(), &DataType::Float64);
    }

    #[test]
    fn csv_and_parquet_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "t.csv", "a,b\n1,x\n2,\n3,z\n");
        let mut df = read_table(&p).unwrap();
        for name in ["out.csv", "out.parquet"] {
            let out = dir.path().join(name);
            write_table(&mut df, &out).unwrap();
            let back = read_table(&out).unwrap();
            assert!(back.equals_missing(&df), "{name}: {back} vs {df}");
        }
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_table(Path::new("/no/such/table.csv")).unwrap_err();
        assert!(matches!(err, DataError::NotFound { .. }));
        assert!(err.to_string().contains("/no/such/table.csv"));
    }

    #[test]
    fn unsupported_extension_is_rejected() {
        let err = read_table(Path::new("table.xlsx")).unwrap_err();
        assert!(err.to_string().contains("table.xlsx"), "{err}");
    }

    #[test]
    fn malformed_csv_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "bad.csv", "a,b\n1,2\n3,4,5,6\n7,8\n");
        let err = read_table(&p).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("bad.csv"), "{msg}");
    }

    #[test]
    fn empty_table_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [("header.csv", "a,b\n"), ("nothing.csv", "")] {
            let p = write(dir.path(), name, text);
            let err = read_table(&p).unwrap_err();
            assert!(matches!(err, DataError::Empty { .. }), "{name}: {err}");
        }
    }

    #[test]
    fn streamed_chunks_equal_the_whole_table() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "t.csv", "a,b\n1,x\n2,\n3,z\n4,w\n5,v\n");
        let whole = read_table(&p).unwrap();
        for name in ["out.csv", "out.parquet"] {
            let out = dir.path().join(name);
            let mut writer = TableWriter::create(&out).unwrap();
            for (offset, len) in [(0, 2), (2, 2), (4, 1)] {
                writer.write(&mut whole.slice(offset, len)).unwrap();
            }
            assert!(!out.exists(), "nothing at the path before finish");
            writer.finish().unwrap();
            let back = read_table(&out).unwrap();
            assert!(back.equals_missing(&whole), "{name}: {back}");
        }
        // A writer dropped before finishing leaves nothing behind.
        let out = dir.path().join("dropped.csv");
        let mut writer = TableWriter::create(&out).unwrap();
        writer.write(&mut whole.clone()).unwrap();
        drop(writer);
        assert!(!out.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 3, "{left:?}");
    }

    /// CSV keeps a float column's decimal places, trailing zeros included; the numbers read
    /// back unchanged and as floats (whole-number floats too), missing values stay missing,
    /// and Parquet stores floats as floats.
    #[test]
    fn csv_floats_keep_their_decimal_places() {
        let dir = tempfile::tempdir().unwrap();
        let df = df!(
            "amount" => [Some(12.3f64), None, Some(7.0), Some(-0.05)],
            "ratio" => [0.5f64, 0.25, 0.125, 1.0],
            "whole" => [1.0f64, 2.0, 3.0, 4.0]
        )
        .unwrap();
        for name in ["out.csv", "out.parquet"] {
            let out = dir.path().join(name);
            let mut writer = TableWriter::create(&out).unwrap().fixed_decimals(vec![
                ("amount".into(), 2),
                ("absent".into(), 1),
                ("whole".into(), 0),
            ]);
            writer.write(&mut df.clone()).unwrap();
            writer.finish().unwrap();
            assert!(read_table(&out).unwrap().equals_missing(&df), "{name}");
        }
        let text = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
        assert_eq!(
            text,
            "amount,ratio,whole\n12.30,0.5,1.0\n,0.25,2.0\n7.00,0.125,3.0\n-0.05,1.0,4.0\n"
        );
    }

    #[test]
    fn duplicate_column_names_are_an_error_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "dup.csv", "a,b,a,c,b\n1,2,3,4,5\n");
        let err = read_table(&p).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("dup.csv") && msg.contains("`a`") && msg.contains("`b`"),
            "{msg}"
        );
        // A real column whose name merely looks like polars' renaming is fine.
        let p = write(dir.path(), "ok.csv", "a,a_duplicated_0\n1,2\n");
        assert_eq!(read_table(&p).unwrap().width(), 2);
    }

    #[test]
    fn corrupt_parquet_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "t.parquet", "not parquet at all");
        let msg = read_table(&p).unwrap_err().to_string();
        assert!(msg.contains("t.parquet"), "{msg}");
    }
}
